/*
 * spatial_internal.h
 *		What postgis.c and harmonise_geom.c share: PostGIS's functions as
 *		fmgr handles (their caches, PROJ's transformations among them, live
 *		as long as the handles).
 */
#ifndef DP_SPATIAL_INTERNAL_H
#define DP_SPATIAL_INTERNAL_H

#include "postgres.h"

#include "fmgr.h"

typedef struct DpPostgis
{
	Oid			nsp;
	FmgrInfo	from_wkb;		/* ST_GeomFromEWKB(bytea) */
	FmgrInfo	as_wkb;			/* ST_AsBinary(geometry) */
	FmgrInfo	transform;		/* ST_Transform(geometry, integer) */
	FmgrInfo	simplify;		/* ST_SimplifyPreserveTopology(geometry, float8) */
	FmgrInfo	valid_reason;	/* ST_IsValidReason(geometry) */
	FmgrInfo	make_valid;		/* ST_MakeValid(geometry) */
	FmgrInfo	buffer;			/* ST_Buffer(geometry, float8, text) */
} DpPostgis;

/* Look PostGIS's functions up (handles allocated in mcxt); ERROR without it. */
extern void dp_postgis_lookup(DpPostgis *pg, MemoryContext mcxt);

#endif							/* DP_SPATIAL_INTERNAL_H */
