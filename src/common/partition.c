/*
 * partition.c
 *		The append-only tables partitioned by range of batch id (the rows
 *		of dataplatform.partition_rule: dp_raw.chunk, dataplatform.issue,
 *		dataplatform.event and every dataset's dp_clean.<t>_history, whose
 *		key is _closed_by_batch, the batch that closed the version):
 *
 *		- dp_partition_ensure: the writer makes the partition its batch
 *		  lands in when there is none (a push never fails for lack of one);
 *		- dp_partition_create_ahead: the worker makes the current and the
 *		  next partition, so writers seldom have to (not for history
 *		  tables: a dataset's writer holds its dataset lock, so making its
 *		  own partition waits for nobody, and datasets that are not written
 *		  get no empty partitions);
 *		- dp_partition_drop_expired: apply_retention detaches and drops the
 *		  partitions all of whose batches are past retention (a history
 *		  partition: whose range was handed out and which holds no version
 *		  that ended at or after its dataset's retention cutoff);
 *		- dp_partition_guard: the event trigger that refuses DROP TABLE and
 *		  ALTER TABLE ... DETACH PARTITION of one of those partitions
 *		  anywhere else.
 *
 * A partition covers [k * width, (k + 1) * width) of the key, clamped to
 * the gap between its neighbours (a table converted by the 0.1 -> 0.2
 * update keeps its rows in one partition from MINVALUE up), and is named
 * <table>_<lower bound> ("m" for a minus sign; the table's name cut short
 * when the whole would pass NAMEDATALEN).  It is created as a plain
 * table LIKE its parent and attached (ShareUpdateExclusiveLock on the
 * parent, so pushes and readers go on; creators queue on that lock and
 * look again once they hold it), owned by the parent's owner, with the
 * indexes its rule lists (the parent has none: pg_dump restores a
 * partition, then its indexes, into a parent CREATE EXTENSION made, so an
 * index of the parent would be made twice) and the parent's statement-level
 * triggers (the append-only guards: a statement
 * on a partition does not fire its parent's).  Everything is
 * transactional: a crash leaves a partition made and attached, or none.
 */
#include "postgres.h"

#include "access/table.h"
#include "catalog/namespace.h"
#include "catalog/partition.h"
#include "catalog/pg_type.h"
#include "commands/event_trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "partitioning/partbounds.h"
#include "partitioning/partdesc.h"
#include "pgstat.h"
#include "access/xact.h"
#include "storage/lmgr.h"
#include "mb/pg_wchar.h"
#include "utils/datetime.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/partcache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "partition.h"
#include "util.h"

PG_FUNCTION_INFO_V1(dp_partition_guard);
PG_FUNCTION_INFO_V1(dp_create_partitions);

/* set only while dp_partition_drop_expired detaches and drops */
static bool dp_partition_retiring = false;

/*
 * The gap of parent's range bounds holding value: *lo, *hi (with *lo_inf,
 * *hi_inf when unbounded).  False when a partition holds value.
 */
static bool
find_gap(Relation rel, int64 value, int64 *lo, bool *lo_inf, int64 *hi, bool *hi_inf)
{
	PartitionKey key;
	PartitionDesc pd;
	PartitionBoundInfo bi;
	Datum		v = Int64GetDatum(value);
	bool		equal;
	int			off;

	if (rel->rd_rel->relkind != RELKIND_PARTITIONED_TABLE)
		elog(ERROR, "\"%s\" is not partitioned", RelationGetRelationName(rel));
	key = RelationGetPartitionKey(rel);
	pd = RelationGetPartitionDesc(rel, false);
	bi = pd->boundinfo;
	if (key == NULL || key->strategy != PARTITION_STRATEGY_RANGE || key->partnatts != 1 ||
		(key->parttypid[0] != INT8OID && key->parttypid[0] != TIMESTAMPTZOID))
		elog(ERROR, "\"%s\" is not partitioned by range of one bigint or timestamptz column",
			 RelationGetRelationName(rel));
	*lo_inf = *hi_inf = true;
	if (bi == NULL || bi->ndatums == 0)
		return true;
	off = partition_range_datum_bsearch(key->partsupfunc, key->partcollation, bi, 1, &v, &equal);
	if (bi->indexes[off + 1] >= 0)
		return false;
	if (off >= 0 && bi->kind[off][0] == PARTITION_RANGE_DATUM_VALUE)
	{
		*lo = DatumGetInt64(bi->datums[off][0]);
		*lo_inf = false;
	}
	if (off + 1 < bi->ndatums && bi->kind[off + 1][0] == PARTITION_RANGE_DATUM_VALUE)
	{
		*hi = DatumGetInt64(bi->datums[off + 1][0]);
		*hi_inf = false;
	}
	return true;
}

/*
 * A table's rule: its key, a batch id (bigint) or a time (timestamptz, the
 * width an interval: whole months, or a fixed length); both are int64
 * (a timestamptz is microseconds from 2000-01-01 UTC).
 */
typedef struct Rule
{
	char	   *key_column;
	bool		time;
	int64		width;			/* batch ids, or microseconds (time, no months) */
	int32		months;			/* months of a time width; 0 when none */
} Rule;

static void
read_rule(const char *schema, const char *table, Rule *r)
{
	const char *args[2] = {schema, table};

	if (dp_spi_exec_text("SELECT key_column::text, key_kind = 'time', "
						 "COALESCE(width, (EXTRACT(EPOCH FROM width_interval) * 1000000)::bigint), "
						 "COALESCE((EXTRACT(YEAR FROM width_interval) * 12 "
						 "+ EXTRACT(MONTH FROM width_interval))::integer, 0) "
						 "FROM dataplatform.partition_rule "
						 "WHERE table_schema = $1 AND table_name = $2", 2, args) == 0)
		elog(ERROR, "no partition rule for %s.%s", schema, table);
	r->key_column = dp_spi_getvalue(0, 1);
	r->time = strcmp(dp_spi_getvalue(0, 2), "t") == 0;
	r->width = pg_strtoint64(dp_spi_getvalue(0, 3));
	r->months = pg_strtoint32(dp_spi_getvalue(0, 4));
	if (r->width <= 0 && r->months <= 0)
		elog(ERROR, "partition rule for %s.%s has no width", schema, table);
}

/* floor division, for negative keys too */
static int64
floor_div(int64 a, int64 b)
{
	int64		q = a / b;

	if ((a % b != 0) && ((a < 0) != (b < 0)))
		q--;
	return q;
}

/* the UTC fields of a time key */
static void
time_fields(int64 v, struct pg_tm *tm, fsec_t *fsec)
{
	if (TIMESTAMP_NOT_FINITE(v) || timestamp2tm(v, NULL, tm, fsec, NULL, NULL) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("timestamp out of range for a partition")));
}

/* the start of month k counted from January 2000, UTC */
static int64
month_start(int64 k)
{
	struct pg_tm tm;
	Timestamp	ts;

	memset(&tm, 0, sizeof(tm));
	tm.tm_year = 2000 + (int) floor_div(k, 12);
	tm.tm_mon = (int) (k - floor_div(k, 12) * 12) + 1;
	tm.tm_mday = 1;
	if (tm2timestamp(&tm, 0, NULL, &ts) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("timestamp out of range for a partition")));
	return ts;
}

/* the rule's range [*lo, *hi) holding value */
static void
rule_range(const Rule *r, int64 value, int64 *lo, int64 *hi)
{
	if (r->time && r->months > 0)
	{
		struct pg_tm tm;
		fsec_t		fsec;
		int64		k;

		time_fields(value, &tm, &fsec);
		k = floor_div((int64) (tm.tm_year - 2000) * 12 + tm.tm_mon - 1, r->months) * r->months;
		*lo = month_start(k);
		*hi = month_start(k + r->months);
		return;
	}
	*lo = floor_div(value, r->width) * r->width;
	*hi = *lo + r->width;
}

/* a key as text: 42, or 2026-12-01 00:00:00.000000+00 (ISO 8601, UTC) */
static char *
key_text(const Rule *r, int64 v)
{
	struct pg_tm tm;
	fsec_t		fsec;

	if (!r->time)
		return psprintf("%lld", (long long) v);
	time_fields(v, &tm, &fsec);
	return psprintf("%04d-%02d-%02d %02d:%02d:%02d.%06d+00", tm.tm_year, tm.tm_mon, tm.tm_mday,
					tm.tm_hour, tm.tm_min, tm.tm_sec, (int) fsec);
}

/* a key as an SQL literal */
static char *
key_literal(const Rule *r, int64 v)
{
	return r->time ? psprintf("'%s'", key_text(r, v)) : key_text(r, v);
}

/* a partition's name: <table>_<lower bound>, m for a minus; 20261201 for a time */
static char *
partition_name(const Rule *r, const char *table, int64 lo)
{
	struct pg_tm tm;
	fsec_t		fsec;
	StringInfoData name;

	char	   *suffix;

	if (!r->time)
		suffix = psprintf("_%s%lld", lo < 0 ? "m" : "", (long long) (lo < 0 ? -lo : lo));
	else
	{
		time_fields(lo, &tm, &fsec);
		initStringInfo(&name);
		appendStringInfo(&name, "_%04d%02d%02d", tm.tm_year, tm.tm_mon, tm.tm_mday);
		if (tm.tm_hour != 0 || tm.tm_min != 0 || tm.tm_sec != 0 || fsec != 0)
			appendStringInfo(&name, "_%02d%02d%02d", tm.tm_hour, tm.tm_min, tm.tm_sec);
		if (fsec != 0)
			appendStringInfo(&name, "_%06d", (int) fsec);
		suffix = name.data;
	}
	return dp_partition_name(table, suffix);
}

/*
 * <table><suffix>, the table's name cut short (on a character boundary)
 * so that the whole fits in NAMEDATALEN - 1 bytes, where the server would
 * cut the suffix instead (two partitions of a long-named table would get
 * one name).
 */
char *
dp_partition_name(const char *table, const char *suffix)
{
	int			room = NAMEDATALEN - 1 - (int) strlen(suffix);
	int			len = (int) strlen(table);

	if (len > room)
		len = pg_mbcliplen(table, len, room);
	return psprintf("%.*s%s", len, table, suffix);
}

/* create and attach schema.table's partition [lo, hi); connected to SPI */
static void
create_partition(const char *schema, const char *table, const Rule *r, int64 lo, int64 hi)
{
	char	   *name = partition_name(r, table, lo);
	char	   *qparent = quote_qualified_identifier(schema, table);
	char	   *qpart = quote_qualified_identifier(schema, name);
	const char *args[4];

	dp_spi_exec(psprintf("CREATE TABLE %s (LIKE %s INCLUDING DEFAULTS INCLUDING CONSTRAINTS "
						 "INCLUDING STORAGE INCLUDING COMPRESSION)", qpart, qparent),
				0, NULL, NULL, NULL);
	dp_spi_exec(psprintf("ALTER TABLE %s ATTACH PARTITION %s FOR VALUES FROM (%s) TO (%s)",
						 qparent, qpart, key_literal(r, lo), key_literal(r, hi)),
				0, NULL, NULL, NULL);
	/* its indexes (the parent has none: see partition_rule) */
	args[0] = schema;
	args[1] = table;
	args[2] = qpart;
	args[3] = psprintf("%s_pkey", name);
	dp_spi_exec_returned("SELECT CASE WHEN pg_catalog.upper(pg_catalog.left(x.d, 11)) = 'PRIMARY KEY' "
						 "THEN pg_catalog.format('ALTER TABLE %s ADD CONSTRAINT %I %s', $3, $4, x.d) "
						 "ELSE pg_catalog.format('CREATE INDEX ON %s %s', $3, x.d) END "
						 "FROM dataplatform.partition_rule r, pg_catalog.unnest(r.indexes) WITH ORDINALITY AS x(d, o) "
						 "WHERE r.table_schema = $1 AND r.table_name = $2 ORDER BY x.o", 4, args);
	/* the parent's owner and statement-level triggers (the guards) */
	args[0] = qparent;
	args[1] = qpart;
	dp_spi_exec_returned("SELECT pg_catalog.format('ALTER TABLE %s OWNER TO %I', $2, "
						 "c.relowner::pg_catalog.regrole) FROM pg_catalog.pg_class c "
						 "WHERE c.oid = $1::pg_catalog.regclass "
						 "UNION ALL "
						 "SELECT pg_catalog.replace(pg_catalog.pg_get_triggerdef(t.oid), "
						 "' ON ' || $1 || ' ', ' ON ' || $2 || ' ') "
						 "FROM pg_catalog.pg_trigger t WHERE t.tgrelid = $1::pg_catalog.regclass "
						 "AND NOT t.tgisinternal AND (t.tgtype & 1) = 0", 2, args);
}

void
dp_partition_ensure(const char *schema, const char *table, int64 value)
{
	Oid			nsp = get_namespace_oid(schema, false);
	Oid			relid = get_relname_relid(table, nsp);
	Relation	rel;
	int64		lo = 0,
				hi = 0,
				plo,
				phi;
	bool		lo_inf,
				hi_inf;
	Rule		r;

	if (!OidIsValid(relid))
		elog(ERROR, "relation %s.%s does not exist", schema, table);
	rel = table_open(relid, AccessShareLock);
	if (!find_gap(rel, value, &lo, &lo_inf, &hi, &hi_inf))
	{
		table_close(rel, NoLock);
		return;
	}
	table_close(rel, NoLock);

	/* creators queue here (ATTACH takes it too); then look again */
	LockRelationOid(relid, ShareUpdateExclusiveLock);
	rel = table_open(relid, NoLock);
	if (!find_gap(rel, value, &lo, &lo_inf, &hi, &hi_inf))
	{
		table_close(rel, NoLock);
		return;
	}
	table_close(rel, NoLock);

	read_rule(schema, table, &r);
	rule_range(&r, value, &plo, &phi);
	if (!lo_inf && plo < lo)
		plo = lo;
	if (!hi_inf && phi > hi)
		phi = hi;

	/*
	 * A DEFAULT partition (issue's holds the rows of a 0.1 database or dump)
	 * must hold none of the new range: start the range past its rows, or,
	 * when it has rows at or past value, let the row go there too.
	 */
	{
		Oid			defid = get_default_partition_oid(relid);

		if (OidIsValid(defid))
		{
			Oid			types[2];
			Datum		vals[2];
			bool		isnull;
			Datum		max;

			types[0] = types[1] = r.time ? TIMESTAMPTZOID : INT8OID;
			vals[0] = Int64GetDatum(plo);
			vals[1] = Int64GetDatum(phi);
			dp_spi_exec(psprintf("SELECT pg_catalog.max(%s) FROM %s WHERE %s >= $1 AND %s < $2",
								 quote_identifier(r.key_column),
								 quote_qualified_identifier(get_namespace_name(get_rel_namespace(defid)),
															get_rel_name(defid)),
								 quote_identifier(r.key_column), quote_identifier(r.key_column)),
						2, types, vals, NULL);
			max = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
			if (!isnull)
			{
				int64		m = DatumGetInt64(max);

				if (m >= value)
					return;
				plo = m + 1;
			}
		}
	}
	create_partition(schema, table, &r, plo, phi);
}

/*
 * The partition of schema.table a row keyed value lands in, made when
 * there is none (dp_partition_ensure): its name (in schema), the DEFAULT
 * partition's when it takes the row.  For writers that store rows into the
 * partition itself (common/bulk.c writes one table, without routing).
 * Connected to SPI.
 */
char *
dp_partition_for(const char *schema, const char *table, int64 value)
{
	Oid			relid;
	Relation	rel;
	PartitionKey key;
	PartitionDesc pd;
	PartitionBoundInfo bi;
	Datum		v = Int64GetDatum(value);
	bool		equal;
	int			off;
	Oid			partid = InvalidOid;

	dp_partition_ensure(schema, table, value);
	relid = get_relname_relid(table, get_namespace_oid(schema, false));
	rel = table_open(relid, AccessShareLock);
	key = RelationGetPartitionKey(rel);
	pd = RelationGetPartitionDesc(rel, false);
	bi = pd->boundinfo;
	if (bi != NULL && bi->ndatums > 0)
	{
		off = partition_range_datum_bsearch(key->partsupfunc, key->partcollation, bi, 1, &v, &equal);
		if (bi->indexes[off + 1] >= 0)
			partid = pd->oids[bi->indexes[off + 1]];
	}
	if (!OidIsValid(partid))
		partid = get_default_partition_oid(relid);
	table_close(rel, NoLock);
	if (!OidIsValid(partid))
		elog(ERROR, "no partition of %s.%s holds %lld", schema, table, (long long) value);
	return get_rel_name(partid);
}

/*
 * One pass over the rules: the partition of the last batch id handed out
 * (of now, for a time rule) and the next one.
 */
static int
create_ahead(void)
{
	bool		have_batch;
	int64		last_batch = 0;
	uint64		nrules;
	char	  **schemas;
	char	  **tables;
	int			created = 0;

	dp_spi_exec("SELECT last_value FROM dataplatform.batch_id_seq WHERE is_called", 0, NULL, NULL, NULL);
	have_batch = SPI_processed > 0;
	if (have_batch)
		last_batch = pg_strtoint64(dp_spi_getvalue(0, 1));
	/* not the history tables: their writers make their own (see the header) */
	nrules = dp_spi_exec("SELECT table_schema::text, table_name::text FROM dataplatform.partition_rule "
						 "WHERE table_schema <> 'dp_clean' "
						 "ORDER BY table_schema, table_name", 0, NULL, NULL, NULL);
	schemas = palloc(sizeof(char *) * (nrules + 1));
	tables = palloc(sizeof(char *) * (nrules + 1));
	for (uint64 i = 0; i < nrules; i++)
	{
		schemas[i] = dp_spi_getvalue(i, 1);
		tables[i] = dp_spi_getvalue(i, 2);
	}
	for (uint64 i = 0; i < nrules; i++)
	{
		Rule		r;
		int64		v;
		int64		lo,
					hi;

		read_rule(schemas[i], tables[i], &r);
		if (r.time)
		{
			/*
			 * Once the table has a row: its first writer makes its own, and
			 * a database being restored gets its partitions from the dump
			 * (pg_restore would find one made here, by the same name).
			 */
			if (dp_spi_exec(psprintf("SELECT 1 FROM %s LIMIT 1",
									 quote_qualified_identifier(schemas[i], tables[i])),
							0, NULL, NULL, NULL) == 0)
				continue;
			v = GetCurrentTransactionStartTimestamp();
		}
		else if (have_batch)
			v = last_batch;
		else
			continue;			/* no batch yet: nothing to be ahead of */
		for (int k = 0; k < 2; k++)
		{
			Oid			relid = get_relname_relid(tables[i], get_namespace_oid(schemas[i], false));
			Relation	rel = table_open(relid, AccessShareLock);
			bool		lo_inf,
						hi_inf;
			bool		missing = find_gap(rel, v, &lo, &lo_inf, &hi, &hi_inf);

			table_close(rel, NoLock);
			if (missing)
			{
				dp_partition_ensure(schemas[i], tables[i], v);
				created++;
			}
			/* the next: the rule's range after the one holding v */
			rule_range(&r, v, &lo, &hi);
			v = hi;
		}
	}
	return created;
}

int
dp_partition_create_ahead(void)
{
	int			n;

	dp_bg_xact_begin("dataplatform: create partitions ahead", false);
	n = create_ahead();
	dp_bg_xact_end();
	return n;
}

/*
 * dataplatform.create_partitions() RETURNS integer: the worker's pass, on
 * demand (admins; the function is granted to them only).
 */
Datum
dp_create_partitions(PG_FUNCTION_ARGS)
{
	int			n;

	SPI_connect();
	n = create_ahead();
	SPI_finish();
	PG_RETURN_INT32(n);
}

/*
 * Is every batch of [lo, hi) past its product's retention, with at least
 * one batch, and the whole range handed out?  lo NULL: from MINVALUE.
 * Rows are written only in their batch's transaction, so the batches are
 * all the rows.  Connected to SPI.
 */
static bool
range_expired(const char *lo, const char *hi)
{
	const char *a[2] = {lo, hi};
	char	   *v;

	/*
	 * The batches are read in id order until the first one kept: a range
	 * of recent batches costs one, not every batch it holds, at every run.
	 */
	dp_spi_exec_text("SELECT $2::bigint - 1 <= (SELECT s.last_value FROM dataplatform.batch_id_seq s) "
					 "AND EXISTS (SELECT 1 FROM dataplatform.batch b "
					 "WHERE ($1::bigint IS NULL OR b.id >= $1::bigint) AND b.id < $2::bigint) "
					 "AND NOT EXISTS (SELECT 1 FROM dataplatform.batch b "
					 "LEFT JOIN dataplatform.datasets d ON d.name = b.dataset "
					 "LEFT JOIN dataplatform.products p ON p.name = d.product "
					 "WHERE ($1::bigint IS NULL OR b.id >= $1::bigint) AND b.id < $2::bigint "
					 "AND NOT COALESCE(p.retention_days > 0 AND b.received_at < "
					 "pg_catalog.now() - pg_catalog.make_interval(days => p.retention_days), false))",
					 2, a);
	v = dp_spi_getvalue(0, 1);
	return v != NULL && strcmp(v, "t") == 0;
}

/*
 * A partition [.., hi) of the change feed (dataplatform.clean_change): is
 * its range handed out and has every view consumed its batches?  (A view
 * being published or refreshed holds the feed's parent locked, so this
 * look, repeated under the lock, sees its watermark.)  Otherwise it goes
 * with its batches' retention, as the raw rows do, and the views that had
 * not consumed them are made to refresh in full.  Connected to SPI.
 */
static bool
feed_consumed(const char *hi)
{
	const char *a[1] = {hi};
	char	   *v;

	dp_spi_exec_text("SELECT $1::bigint - 1 <= (SELECT s.last_value FROM dataplatform.batch_id_seq s) "
					 "AND NOT EXISTS (SELECT 1 FROM dataplatform.consumer_source c "
					 "WHERE c.last_batch < $1::bigint - 1)", 1, a);
	v = dp_spi_getvalue(0, 1);
	return v != NULL && strcmp(v, "t") == 0;
}

/*
 * A history partition (part, schema-qualified and quoted) of
 * dp_clean.table: is its range [.., hi) handed out, does its dataset's
 * product keep versions for a number of days, and has no version in it an
 * end (_valid_to) at or after that retention's cutoff, nor none?  Found
 * through the partition's BRIN index on _valid_to (summarised first), not
 * by reading it.  Connected to SPI.
 */
static bool
history_expired(const char *table, const char *part, const char *hi)
{
	const char *a[2] = {table, hi};
	char	   *cutoff;
	char	   *v;
	int			nest;

	if (dp_spi_exec_text("SELECT (pg_catalog.now() - pg_catalog.make_interval(days => p.retention_days))::text "
						 "FROM dataplatform.datasets d JOIN dataplatform.products p ON p.name = d.product "
						 "WHERE d.table_name::text || '_history' = $1 AND p.retention_days > 0 "
						 "AND $2::bigint - 1 <= (SELECT s.last_value FROM dataplatform.batch_id_seq s)",
						 2, a) == 0)
		return false;
	cutoff = dp_spi_getvalue(0, 1);
	a[0] = part;
	dp_spi_exec_text("SELECT pg_catalog.brin_summarize_new_values(i.indexrelid) "
					 "FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid "
					 "JOIN pg_catalog.pg_am m ON m.oid = c.relam "
					 "WHERE m.amname = 'brin' AND i.indrelid = $1::pg_catalog.regclass", 1, a);
	/* through the index, however the planner weighs it */
	nest = NewGUCNestLevel();
	(void) set_config_option("enable_seqscan", "off", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	a[0] = cutoff;
	dp_spi_exec_text(psprintf("SELECT NOT EXISTS (SELECT 1 FROM %s h "
							  "WHERE h._valid_to >= $1::timestamptz OR h._valid_to IS NULL)", part),
					 1, a);
	v = dp_spi_getvalue(0, 1);
	AtEOXact_GUC(true, nest);
	return v != NULL && strcmp(v, "t") == 0;
}

/* may partition part [lo, hi) of parent go (history: of that history table)? */
static bool
expired(const char *parent, const char *part, const char *history, const char *lo, const char *hi)
{
	if (history)
		return history_expired(history, part, hi);
	if (strcmp(parent, "dataplatform.clean_change") == 0 && feed_consumed(hi))
		return true;
	return range_expired(lo, hi);
}

/* detach and drop a partition (its parent and it schema-qualified, quoted) */
static void
retire(const char *parent, const char *part)
{
	PG_TRY();
	{
		dp_partition_retiring = true;
		dp_spi_exec(psprintf("ALTER TABLE %s DETACH PARTITION %s", parent, part),
					0, NULL, NULL, NULL);
		dp_spi_exec(psprintf("DROP TABLE %s", part), 0, NULL, NULL, NULL);
	}
	PG_FINALLY();
	{
		dp_partition_retiring = false;
	}
	PG_END_TRY();
}

int
dp_partition_drop_expired(StringInfo report)
{
	uint64		n;
	char	  **parents;
	char	  **parts;
	char	  **bounds;
	char	  **histories;
	volatile int dropped = 0;

	/*
	 * Candidates: every partition of every rule whose range lies wholly at
	 * or below the last batch id handed out (no new batch can land in it),
	 * lowest first.  lo is NULL for MINVALUE.
	 */
	n = dp_spi_exec("SELECT pg_catalog.format('%I.%I', r.table_schema, r.table_name), "
					"pg_catalog.format('%I.%I', pn.nspname, pc.relname), "
					"pg_catalog.pg_get_expr(pc.relpartbound, pc.oid), "
					"CASE WHEN r.table_schema = 'dp_clean' THEN r.table_name::text END "
					"FROM dataplatform.partition_rule r "
					"JOIN pg_catalog.pg_namespace n ON n.nspname = r.table_schema "
					"JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relname = r.table_name "
					"JOIN pg_catalog.pg_inherits i ON i.inhparent = c.oid "
					"JOIN pg_catalog.pg_class pc ON pc.oid = i.inhrelid "
					"JOIN pg_catalog.pg_namespace pn ON pn.oid = pc.relnamespace "
					"WHERE r.key_kind = 'batch' "
					"ORDER BY r.table_schema, r.table_name, pc.relname",
					0, NULL, NULL, NULL);
	parents = palloc(sizeof(char *) * (n + 1));
	parts = palloc(sizeof(char *) * (n + 1));
	bounds = palloc(sizeof(char *) * (n + 1));
	histories = palloc(sizeof(char *) * (n + 1));
	for (uint64 i = 0; i < n; i++)
	{
		parents[i] = dp_spi_getvalue(i, 1);
		parts[i] = dp_spi_getvalue(i, 2);
		bounds[i] = dp_spi_getvalue(i, 3);
		histories[i] = dp_spi_getvalue(i, 4);
	}
	appendStringInfoChar(report, '[');
	for (uint64 i = 0; i < n; i++)
	{
		const char *args[1];
		char	   *lo;
		char	   *hi;

		/* FOR VALUES FROM ('0') TO ('100000') or FROM (MINVALUE) TO (...) */
		args[0] = bounds[i];
		dp_spi_exec_text("SELECT NULLIF(pg_catalog.substring($1, 'FROM \\(''?([^'')]*)''?\\)'), 'MINVALUE'), "
						 "NULLIF(pg_catalog.substring($1, 'TO \\(''?([^'')]*)''?\\)'), 'MAXVALUE')",
						 1, args);
		lo = dp_spi_getvalue(0, 1);
		hi = dp_spi_getvalue(0, 2);
		if (hi == NULL)
			continue;

		/*
		 * look first, then lock and look again; the parent before the
		 * partition, in the order writers and readers take them (locking the
		 * partition first could deadlock with a reader of the parent)
		 */
		if (!expired(parents[i], parts[i], histories[i], lo, hi))
			continue;
		dp_spi_exec(psprintf("LOCK TABLE %s IN ACCESS EXCLUSIVE MODE", parents[i]), 0, NULL, NULL, NULL);
		dp_spi_exec(psprintf("LOCK TABLE %s IN ACCESS EXCLUSIVE MODE", parts[i]), 0, NULL, NULL, NULL);
		if (!expired(parents[i], parts[i], histories[i], lo, hi))
			continue;
		retire(parents[i], parts[i]);
		if (strcmp(parents[i], "dataplatform.clean_change") == 0)
		{
			/* a view that had not consumed these batches refreshes in full next */
			const char *a[1] = {hi};

			dp_spi_exec_text("UPDATE dataplatform.consumer_source SET filenode = NULL "
							 "WHERE last_batch < $1::bigint - 1", 1, a);
		}
		if (dropped > 0)
			appendStringInfoString(report, ", ");
		appendStringInfoString(report, "{\"table\": ");
		escape_json(report, parents[i]);
		appendStringInfoString(report, ", \"partition\": ");
		escape_json(report, parts[i]);
		appendStringInfo(report, ", \"from_batch\": %s, \"to_batch\": %s}",
						 lo ? lo : "null", hi);
		dropped++;
	}
	appendStringInfoChar(report, ']');
	return dropped;
}

int
dp_partition_drop_before(const char *schema, const char *table, int64 cutoff, StringInfo report,
						 int64 *rows)
{
	Oid			relid = get_relname_relid(table, get_namespace_oid(schema, false));
	Relation	rel;
	PartitionDesc pd;
	PartitionBoundInfo bi;
	Rule		r;
	int			n = 0;
	Oid		   *oids;
	int64	   *los;
	bool	   *lo_inf;
	int64	   *his;
	char	   *qparent = quote_qualified_identifier(schema, table);

	read_rule(schema, table, &r);
	/* the partitions whose upper bound is at or before cutoff, from the bounds */
	rel = table_open(relid, AccessShareLock);
	if (rel->rd_rel->relkind != RELKIND_PARTITIONED_TABLE || !r.time)
		elog(ERROR, "\"%s\" is not partitioned by time", table);
	pd = RelationGetPartitionDesc(rel, false);
	bi = pd->boundinfo;
	oids = palloc(sizeof(Oid) * (pd->nparts + 1));
	los = palloc(sizeof(int64) * (pd->nparts + 1));
	lo_inf = palloc(sizeof(bool) * (pd->nparts + 1));
	his = palloc(sizeof(int64) * (pd->nparts + 1));
	for (int i = 0; bi != NULL && i + 1 < bi->ndatums; i++)
	{
		int			idx = bi->indexes[i + 1];

		if (idx < 0 || bi->kind[i + 1][0] != PARTITION_RANGE_DATUM_VALUE ||
			DatumGetInt64(bi->datums[i + 1][0]) > cutoff)
			continue;
		oids[n] = pd->oids[idx];
		lo_inf[n] = bi->kind[i][0] != PARTITION_RANGE_DATUM_VALUE;
		los[n] = lo_inf[n] ? 0 : DatumGetInt64(bi->datums[i][0]);
		his[n] = DatumGetInt64(bi->datums[i + 1][0]);
		n++;
	}
	table_close(rel, NoLock);

	appendStringInfoChar(report, '[');
	for (int i = 0; i < n; i++)
	{
		char	   *part = quote_qualified_identifier(schema, get_rel_name(oids[i]));
		int64		nrows;

		/* the rows it held (counted under the lock that detaching takes) */
		dp_spi_exec(psprintf("LOCK TABLE %s IN ACCESS EXCLUSIVE MODE", qparent), 0, NULL, NULL, NULL);
		dp_spi_exec(psprintf("SELECT pg_catalog.count(*) FROM %s", part), 0, NULL, NULL, NULL);
		nrows = pg_strtoint64(dp_spi_getvalue(0, 1));
		*rows += nrows;
		retire(qparent, part);
		if (i > 0)
			appendStringInfoString(report, ", ");
		appendStringInfoString(report, "{\"table\": ");
		escape_json(report, qparent);
		appendStringInfoString(report, ", \"partition\": ");
		escape_json(report, part);
		appendStringInfoString(report, ", \"from\": ");
		if (lo_inf[i])
			appendStringInfoString(report, "null");
		else
			escape_json(report, key_text(&r, los[i]));
		appendStringInfoString(report, ", \"to\": ");
		escape_json(report, key_text(&r, his[i]));
		appendStringInfo(report, ", \"rows\": %lld}", (long long) nrows);
	}
	appendStringInfoChar(report, ']');
	return n;
}

/*
 * Is relid a partition of a table under a partition rule?  Sets *parent.
 * Connected to SPI.
 */
static bool
is_rule_partition(Oid relid, char **parent, bool *time)
{
	Oid			parentid;
	const char *args[2];

	if (!get_rel_relispartition(relid))
		return false;
	parentid = get_partition_parent(relid, true);
	args[0] = get_namespace_name(get_rel_namespace(parentid));
	args[1] = get_rel_name(parentid);
	if (args[0] == NULL || args[1] == NULL)
		return false;
	/* only our schemas hold ruled tables (anyone's own DROP reads nothing) */
	if (strcmp(args[0], "dp_raw") != 0 && strcmp(args[0], "dataplatform") != 0 &&
		strcmp(args[0], "dp_clean") != 0)
		return false;
	if (dp_spi_exec_text("SELECT key_kind = 'time' FROM dataplatform.partition_rule "
						 "WHERE table_schema = $1 AND table_name = $2", 2, args) == 0)
		return false;
	*time = strcmp(dp_spi_getvalue(0, 1), "t") == 0;
	*parent = quote_qualified_identifier(args[0], args[1]);
	return true;
}

static void
refuse(const char *what, Oid relid, const char *parent, bool time)
{
	char	   *part = quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
												  get_rel_name(relid));

	if (time)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("cannot %s partition %s of append-only table %s", what, part, parent),
				 errdetail("Partitions of %s are removed only by dataplatform.purge_audit(), once every row in them is older than it keeps.",
						   parent),
				 errhint("Run dataplatform.purge_audit(older_than), which records what it drops in the audit log.")));
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("cannot %s partition %s of append-only table %s", what, part, parent),
			 errdetail("Partitions of %s are removed only by dataplatform.apply_retention(), once every batch in them is past retention.",
					   parent),
			 errhint("Run dataplatform.apply_retention(), which records what it drops in the audit log.")));
}

/*
 * Event trigger (ddl_command_start, DROP TABLE and ALTER TABLE): refuse
 * dropping or detaching a partition of a table under a partition rule,
 * unless apply_retention is doing it.  Superusers included.
 */
Datum
dp_partition_guard(PG_FUNCTION_ARGS)
{
	EventTriggerData *trigdata;
	Node	   *tree;

	if (!CALLED_AS_EVENT_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("partition_guard must be called as an event trigger")));
	if (dp_partition_retiring)
		PG_RETURN_VOID();
	trigdata = (EventTriggerData *) fcinfo->context;
	tree = trigdata->parsetree;
	if (IsA(tree, DropStmt) && ((DropStmt *) tree)->removeType == OBJECT_TABLE)
	{
		ListCell   *lc;

		SPI_connect();
		foreach(lc, ((DropStmt *) tree)->objects)
		{
			RangeVar   *rv = makeRangeVarFromNameList((List *) lfirst(lc));
			Oid			relid = RangeVarGetRelid(rv, NoLock, true);
			char	   *parent;
			bool		time;

			if (OidIsValid(relid) && is_rule_partition(relid, &parent, &time))
				refuse("drop", relid, parent, time);
		}
		SPI_finish();
	}
	else if (IsA(tree, AlterTableStmt))
	{
		AlterTableStmt *stmt = (AlterTableStmt *) tree;
		ListCell   *lc;

		foreach(lc, stmt->cmds)
		{
			AlterTableCmd *cmd = (AlterTableCmd *) lfirst(lc);
			PartitionCmd *pc;
			Oid			relid;
			char	   *parent;
			bool		time;

			if (cmd->subtype != AT_DetachPartition && cmd->subtype != AT_DetachPartitionFinalize)
				continue;
			pc = (PartitionCmd *) cmd->def;
			relid = RangeVarGetRelid(pc->name, NoLock, true);
			SPI_connect();
			if (OidIsValid(relid) && is_rule_partition(relid, &parent, &time))
				refuse("detach", relid, parent, time);
			SPI_finish();
		}
	}
	PG_RETURN_VOID();
}
