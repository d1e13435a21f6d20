/*
 * replicate.c
 *		dataplatform.replicate_consumer: the published views' tables
 *		(dp_consumer_data) in a publication for logical replication to a
 *		reporting server, and keeping every such publication true when a view
 *		is published, replaced or unpublished (dp_replication_sync).
 *
 * The catalog work is SQL (src/sql/65_replicas.sql: replication_apply,
 * replication_sync): a publication's table and column lists are DDL.  This
 * file checks the caller and records the call, as every API call is.
 */
#include "postgres.h"

#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/jsonb.h"

#include "access.h"
#include "consumer.h"

PG_FUNCTION_INFO_V1(dp_replicate_consumer);

Datum
dp_replicate_consumer(PG_FUNCTION_ARGS)
{
	char	   *publication = dp_arg_cstring(fcinfo, 0, "publication");
	MemoryContext result_cxt = CurrentMemoryContext;
	const char *args[3];
	char	   *result;
	Datum		ret;

	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("options must not be null")));
	dp_require_admin("replicate the consumer layer");
	args[0] = publication;
	args[1] = JsonbToCString(NULL, &PG_GETARG_JSONB_P(1)->root, VARSIZE(PG_GETARG_JSONB_P(1)));
	args[2] = GetUserNameFromId(dp_caller_id(), false);
	SPI_connect();
	dp_spi_exec_text("SELECT dataplatform.replication_apply($1::name, $2::jsonb, $3::name)::text", 3, args);
	result = dp_spi_getvalue(0, 1);
	dp_audit("replicate_consumer", publication, result);
	MemoryContextSwitchTo(result_cxt);
	ret = DirectFunctionCall1(jsonb_in, CStringGetDatum(result));
	SPI_finish();
	PG_RETURN_DATUM(ret);
}

void
dp_replication_sync(void)
{
	if (dp_spi_exec("SELECT 1 FROM dataplatform.consumer_replication LIMIT 1", 0, NULL, NULL, NULL) > 0)
		dp_spi_exec("SELECT dataplatform.replication_sync()", 0, NULL, NULL, NULL);
}
