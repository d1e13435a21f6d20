/*
 * spec_internal.h
 *		What spec.c (the core members, define_dataset, describe) and
 *		spec_contract.c (the contract members of issue 15) share.  Catalog
 *		only.
 */
#ifndef DP_SPEC_INTERNAL_H
#define DP_SPEC_INTERNAL_H

#include "postgres.h"

#include "lib/stringinfo.h"

#include "spec.h"
#include "util.h"

/* The changes between two versions of a spec, as define_dataset reports them. */
typedef struct DpSpecChanges
{
	StringInfoData json;		/* [{"change": ..., "breaking": ...}, ...] */
	StringInfoData breaking;	/* "; "-separated list, for the error detail */
	int			count;
	int			nbreaking;
} DpSpecChanges;

extern void dp_spec_add_change(DpSpecChanges *c, bool breaking, const char *fmt,...)
			pg_attribute_printf(3, 4);

/* ERROR: a member of the wrong JSON type (field NULL: a top-level member). */
extern void dp_spec_type_error(const char *dataset, const char *field, const char *member,
							   const char *expected, const json_t *got) pg_attribute_noreturn();

/* An unknown member: an ERROR, or a note when allow_unknown. */
extern void dp_spec_unknown_member(DpSpec *spec, bool allow_unknown, const char *field,
								   const char *member, const char *known);

/* spec_contract.c: parsing (field after its core members; spec after its fields and key) */
extern void dp_spec_contract_codelist(DpSpec *spec, DpField *f, json_t *v);
extern void dp_spec_contract_field(DpSpec *spec, DpField *f, json_t *obj);
extern void dp_spec_contract_spec(DpSpec *spec, json_t *root);

/* spec_contract.c: classification of the contract members' changes */
extern void dp_spec_contract_field_changes(const DpField *o, const DpField *n, DpSpecChanges *c);
extern void dp_spec_contract_spec_changes(const DpSpec *old, const DpSpec *new, DpSpecChanges *c);

/* spec_contract.c: catalog (connected to SPI) */
extern char *dp_spec_field_options_json(const DpField *f);
extern void dp_spec_check_references(const DpSpec *spec);

#endif							/* DP_SPEC_INTERNAL_H */
