/*
 * postgis.c
 *		Finding PostGIS at run time: whether the extension is installed, its
 *		schema, the qualified column types, and its SQL-callable C functions
 *		looked up by name and argument types in that schema (fmgr handles),
 *		so that dataplatform neither requires nor links PostGIS.
 *
 * Nothing is cached across statements: the lookups are a few syscache
 * probes, made once per batch (dp_spatial_begin) or per DDL statement.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/table.h"
#include "catalog/indexing.h"
#include "catalog/namespace.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_type.h"
#include "nodes/makefuncs.h"
#include "parser/parse_func.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/rel.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

#include "spatial.h"
#include "spatial_internal.h"

/* The namespace PostGIS is installed in, or InvalidOid (PG 15 has no syscache for it). */
static Oid
postgis_namespace(void)
{
	Relation	rel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;
	Oid			nsp = InvalidOid;

	rel = table_open(ExtensionRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_extension_extname, BTEqualStrategyNumber, F_NAMEEQ,
				CStringGetDatum("postgis"));
	scan = systable_beginscan(rel, ExtensionNameIndexId, true, NULL, 1, &key);
	tup = systable_getnext(scan);
	if (HeapTupleIsValid(tup))
		nsp = ((Form_pg_extension) GETSTRUCT(tup))->extnamespace;
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return nsp;
}

bool
dp_spatial_available(void)
{
	return OidIsValid(postgis_namespace());
}

void
dp_spatial_require(const char *dataset, const char *field)
{
	if (dp_spatial_available())
		return;
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 dataset && field ?
			 errmsg("field \"%s\" of dataset \"%s\" is spatial, but PostGIS is not installed in this database",
					field, dataset) :
			 errmsg("the spatial datatypes need PostGIS, which is not installed in this database"),
			 errdetail("The datatypes multipolygon and point are stored as PostGIS geometries."),
			 errhint("Install the Debian package postgresql-15-postgis-3, then run CREATE EXTENSION postgis; in this database.")));
}

const char *
dp_spatial_schema(void)
{
	Oid			nsp = postgis_namespace();

	if (!OidIsValid(nsp))
		dp_spatial_require(NULL, NULL);
	return quote_identifier(get_namespace_name(nsp));
}

const char *
dp_sqltype(DpDatatype dt)
{
	if (!dp_datatype_is_spatial(dt))
		return dp_datatype_sqltype(dt);
	return psprintf("%s.%s", dp_spatial_schema(), dp_datatype_sqltype(dt));
}

/* fmgr handle of schema.name(args), in mcxt; ERROR when missing. */
static void
lookup(FmgrInfo *fi, Oid nsp, const char *name, int nargs, Oid *args, MemoryContext mcxt)
{
	List	   *qname = list_make2(makeString(get_namespace_name(nsp)), makeString(pstrdup(name)));
	Oid			fn = LookupFuncName(qname, nargs, args, true);

	if (!OidIsValid(fn))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_FUNCTION),
				 errmsg("PostGIS function %s.%s not found", get_namespace_name(nsp), name),
				 errhint("dataplatform needs PostGIS 3; ALTER EXTENSION postgis UPDATE may help.")));
	fmgr_info_cxt(fn, fi, mcxt);
}

void
dp_postgis_lookup(DpPostgis *pg, MemoryContext mcxt)
{
	Oid			nsp = postgis_namespace();
	Oid			geom;
	Oid			args[3];

	if (!OidIsValid(nsp))
		dp_spatial_require(NULL, NULL);
	geom = GetSysCacheOid2(TYPENAMENSP, Anum_pg_type_oid, CStringGetDatum("geometry"),
						   ObjectIdGetDatum(nsp));
	if (!OidIsValid(geom))
		elog(ERROR, "type geometry not found in PostGIS's schema");

	args[0] = BYTEAOID;
	lookup(&pg->from_wkb, nsp, "st_geomfromewkb", 1, args, mcxt);
	args[0] = geom;
	lookup(&pg->as_wkb, nsp, "st_asbinary", 1, args, mcxt);
	lookup(&pg->valid_reason, nsp, "st_isvalidreason", 1, args, mcxt);
	lookup(&pg->make_valid, nsp, "st_makevalid", 1, args, mcxt);
	args[1] = INT4OID;
	lookup(&pg->transform, nsp, "st_transform", 2, args, mcxt);
	args[1] = FLOAT8OID;
	lookup(&pg->simplify, nsp, "st_simplifypreservetopology", 2, args, mcxt);
	args[2] = TEXTOID;
	lookup(&pg->buffer, nsp, "st_buffer", 3, args, mcxt);
	pg->nsp = nsp;
}
