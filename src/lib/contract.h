/*
 * contract.h
 *		Data contracts <-> dataset specifications, on jansson values: ODCS
 *		v3 (Open Data Contract Standard) and Frictionless Table Schema
 *		documents to specs (import), and specs back to either format
 *		(export).  Pure C, no backend calls: the SQL functions
 *		import_contract and export_contract (src/catalog/contract.c) read
 *		the text, define what this returns and look up what it exports.
 *
 * Import never drops a member silently: what a spec cannot say becomes a
 * note of the dataset it belongs to (or of the contract).  Problems that
 * make the document unusable are returned as a DpContractProblem with a
 * message naming where in the document (a JSON-pointer-like path).
 *
 * Memory: every json_t in a DpContractResult is owned by it; free with
 * dp_contract_result_free.  Nothing else is allocated.
 */
#ifndef DP_CONTRACT_H
#define DP_CONTRACT_H

#include <stdbool.h>

#include <jansson.h>

typedef enum DpContractFormat
{
	DP_CONTRACT_UNKNOWN,
	DP_CONTRACT_ODCS,
	DP_CONTRACT_TABLE_SCHEMA
} DpContractFormat;

typedef enum DpContractProblem
{
	DP_CONTRACT_OK,
	DP_CONTRACT_NOT_SUPPORTED,	/* neither format, or an apiVersion/kind we
								 * do not read */
	DP_CONTRACT_INVALID,		/* breaks the format's own rules */
	DP_CONTRACT_UNKNOWN_TYPE,	/* a type neither the format nor we know */
	DP_CONTRACT_NO_TABLE		/* nothing in it is a table */
} DpContractProblem;

typedef struct DpContractResult
{
	DpContractFormat format;
	DpContractProblem problem;
	char		message[512];
	char		api_version[16];	/* ODCS: as written, e.g. "v3.0.2" */
	/* product: "name" (NULL when the document names none) and metadata */
	json_t	   *product;
	/*
	 * one per table: {"spec": {...}, "notes": [...], "expect": [...],
	 * "references": [{"field", "dataset", "to_field"}]}; references are
	 * also in the spec, listed here so that the caller can check them
	 */
	json_t	   *datasets;
	json_t	   *notes;			/* about the contract as a whole */
} DpContractResult;

/* Which format a parsed document is written in (by its members). */
extern DpContractFormat dp_contract_detect(const json_t *doc);

/*
 * Import a parsed document.  schema: the format's published JSON Schema
 * (NULL: not checked); a document it refuses is DP_CONTRACT_INVALID, with
 * the path of the fault.  product names the data product (NULL: the
 * document's own dataProduct/name); dataset names a Table Schema's dataset
 * (NULL: its "name").
 */
extern void dp_contract_import(const json_t *doc, const json_t *schema, const char *product,
							   const char *dataset, DpContractResult *res);

extern void dp_contract_result_free(DpContractResult *res);

/* "odcs" or "table-schema" */
extern const char *dp_contract_format_name(DpContractFormat format);

/*
 * Export a spec (as define_dataset takes it, plus "version") and its
 * product (the columns of dataplatform.product, as an object) as an ODCS
 * document (apiVersion DP_CONTRACT_ODCS_VERSION) or a Table Schema.  New
 * references; NULL only when out of memory.
 */
#define DP_CONTRACT_ODCS_VERSION "v3.2.0"
extern json_t *dp_contract_export_odcs(const json_t *spec, const json_t *product);
extern json_t *dp_contract_export_table_schema(const json_t *spec);

/* Append a formatted note (a JSON string) to an array; returns notes. */
extern json_t *dp_contract_note(json_t *notes, const char *fmt,...)
			__attribute__((format(printf, 2, 3)));

#endif							/* DP_CONTRACT_H */
