/*
 * dataplatform.c
 *		Module entry point: PG_MODULE_MAGIC, _PG_init, and the GUCs.
 *
 * The library works both from shared_preload_libraries (where later
 * modules start the background worker and install hooks) and when loaded
 * on first use by a plain SQL call.  Every dataplatform.* setting is
 * defined here.
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/guc.h"

#include "util.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

void
_PG_init(void)
{
	dp_json_init();

	MarkGUCPrefixReserved("dataplatform");
}
