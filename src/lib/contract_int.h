/*
 * contract_int.h
 *		What contract.c, contract_odcs.c, contract_table.c and
 *		contract_export.c share; not for other modules.
 */
#ifndef DP_CONTRACT_INT_H
#define DP_CONTRACT_INT_H

#include <stddef.h>

#include "contract.h"

/* customProperties of ours in ODCS, members of ours in Table Schema */
#define DP_CONTRACT_NS "dataplatform."

/*
 * A new empty object.  Never call jansson's json_object() from code linked
 * into the server: the server exports an SQL function of that name, which
 * the dynamic linker binds first (jansson's own calls are internal).
 */
static inline json_t *
new_object(void)
{
	return json_pack("{}");
}

extern void dp_contract_fail(DpContractResult *res, DpContractProblem p, const char *fmt,...)
			__attribute__((format(printf, 3, 4)));
extern const char *dp_contract_str(const json_t *obj, const char *member);
extern void dp_contract_brief(const json_t *v, char *buf, size_t size);
extern char *dp_contract_product_name(const char *s, char *out);
extern void dp_contract_map_quality(const json_t *rule, const char *where, const char *table,
									const char *column, json_t *expect, json_t *notes);
extern void dp_contract_import_odcs(const json_t *doc, const char *product,
									DpContractResult *res);
extern void dp_contract_import_table_schema(const json_t *doc, const char *product,
											const char *dataset, DpContractResult *res);

#endif							/* DP_CONTRACT_INT_H */
