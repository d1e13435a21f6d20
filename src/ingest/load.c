/*
 * load.c
 *		One load (batch) of a dataset: opening it (the catalog row, the
 *		producer check, spec and configuration), routing each transformed
 *		row (dedupe by key, buffer, quarantine, the dry run's JSON), and its
 *		batch row (create, lock, queue, finish, audit) with the raw landing
 *		of a JSON payload.  Writing the buffers out is write.c's; reading the
 *		sources (JSON rows, CSV records) source.c's; the SQL functions are
 *		push.c's and rebuild.c's.
 *
 * Transactions and locks: a push is one transaction (the caller's): the
 * batch row, the raw rows, the clean rows, the issues and the audit row
 * commit or vanish together.  Before writing clean rows a push takes the
 * dataset lock (common/dataset_lock.h: an advisory lock keyed on the
 * dataset, then ROW EXCLUSIVE on its clean table, which leaves VACUUM
 * alone), so pushes into one dataset run one after another (readers are
 * never blocked) and each replaced version reaches _history exactly once.
 * The batch row is made under that lock, and its received_at is the clock
 * then (not the transaction's start): batch ids and batch times of a
 * dataset follow the order in which batches apply, and so do the version
 * times in _history.  The dataset's catalog row is read FOR SHARE, so its
 * spec cannot change under a running push.
 *
 * Memory: one context per load (batch), children of the caller's context;
 * valid rows are buffered and written DP_FLUSH_ROWS at a time.
 */
#include "postgres.h"

#include "common/cryptohash.h"
#include "common/hashfn.h"
#include "common/sha2.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "portability/instr_time.h"
#include "utils/acl.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"

#include "access.h"
#include "clean_table.h"
#include "dataset_lock.h"
#include "issue.h"
#include "obfuscate.h"
#include "pipeline.h"
#include "transform.h"
#include "util.h"

/* ------------------------------------------------------------------------
 * Opening a load: catalog, access, spec and configuration
 * ------------------------------------------------------------------------
 */

static void
check_producer(const DpLoad *load)
{
	const char *args[1];
	uint64		n,
				i;

	if (dp_caller_has_role(DP_ROLE_ADMIN))
		return;
	args[0] = load->product;
	n = dp_spi_exec_text_kept("SELECT role_name::text FROM dataplatform.producer_grants WHERE product = $1",
						 1, args);
	for (i = 0; i < n; i++)
	{
		Oid			role = get_role_oid(dp_spi_getvalue(i, 1), true);

		if (OidIsValid(role) && has_privs_of_role(dp_caller_id(), role))
			return;
	}
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("permission denied to write to dataset \"%s\"", load->dataset),
			 errdetail("Role \"%s\" is not a producer of data product \"%s\".",
					   GetUserNameFromId(dp_caller_id(), false), load->product),
			 errhint("An administrator grants it with dataplatform.grant_producer('%s', role).",
					 load->product)));
}

static uint32
key_hash_fn(const void *key, Size keysize)
{
	(void) keysize;
	return (uint32) *(const uint64 *) key;
}

/*
 * Read the dataset's catalog row (FOR SHARE), check the caller may push,
 * parse spec and configuration.  Caller is connected to SPI.
 */
DpLoad *
dp_load_open(const char *dataset, bool dry_run, const DpLoadOptions *opts)
{
	DpLoad	   *load;
	const char *args[2];
	bool		isnull;
	Datum		d;
	HASHCTL		ctl;
	MemoryContext old;

	load = palloc0(sizeof(DpLoad));
	load->cxt = AllocSetContextCreate(CurrentMemoryContext, "dataplatform load",
									  ALLOCSET_DEFAULT_SIZES);
	load->rows_cxt = AllocSetContextCreate(load->cxt, "dataplatform load rows",
										   ALLOCSET_DEFAULT_SIZES);
	load->src_cxt = AllocSetContextCreate(load->cxt, "dataplatform source row",
										  ALLOCSET_DEFAULT_SIZES);
	load->raw_cxt = AllocSetContextCreate(load->cxt, "dataplatform raw records",
										  ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(load->cxt);
	load->dataset = pstrdup(dataset);
	load->dry_run = dry_run;
	args[0] = dataset;
	args[1] = opts ? opts->column_override : NULL;
	load->column_override = args[1] ? pstrdup(args[1]) : NULL;
	load->synthetic = opts ? opts->synthetic : false;
	load->run_started = GetCurrentTimestamp();
	if (dp_spi_exec_text_kept("SELECT product, spec, CASE WHEN $2::jsonb IS NULL THEN config "
						 "  ELSE COALESCE(config, '{}') || pg_catalog.jsonb_build_object('column', "
						 "       COALESCE(config -> 'column', '{}') || $2::jsonb) END, "
						 "major, minor, config_version "
						 "FROM dataplatform.datasets WHERE name = $1 FOR SHARE",
						 2, args) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("dataset \"%s\" does not exist", dataset),
				 errhint("dataplatform.dataset lists the defined datasets.")));
	load->product = dp_spi_getvalue(0, 1);
	load->major = atoi(dp_spi_getvalue(0, 4));
	load->minor = atoi(dp_spi_getvalue(0, 5));
	load->config_version = atoi(dp_spi_getvalue(0, 6));
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull);
	load->spec = dp_spec_parse_cached(DatumGetJsonbP(d));
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &isnull);
	load->cfg = dp_config_parse(load->spec, isnull ? NULL : DatumGetJsonbP(d));
	/* last: it runs a query of its own, replacing SPI_tuptable */
	check_producer(load);
	load->t = dp_transform_begin(load->spec, load->cfg);
	dp_contract_begin(load);

	load->values = palloc(sizeof(char *) * load->spec->nfields * DP_FLUSH_ROWS);
	load->slot_row = palloc(sizeof(int64) * DP_FLUSH_ROWS);
	load->q_row = palloc(sizeof(int64) * DP_FLUSH_ROWS);
	load->q_line = palloc(sizeof(int64) * DP_FLUSH_ROWS);
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(uint64);
	ctl.entrysize = sizeof(KeyEntry);
	ctl.hash = key_hash_fn;
	ctl.hcxt = load->cxt;
	load->keys = hash_create("dataplatform batch keys", 1024, &ctl,
							 HASH_ELEM | HASH_FUNCTION | HASH_CONTEXT);
	initStringInfo(&load->rows_json);
	MemoryContextSwitchTo(old);
	return load;
}

/* ------------------------------------------------------------------------
 * Row handling: dedupe by key, buffer, dry-run JSON
 * ------------------------------------------------------------------------
 */

/*
 * The key's text (its fields joined by \x1f; a NULL field as empty),
 * allocated to size in CurrentMemoryContext: one per row, so no
 * StringInfo's kilobyte.  Its strlen in *keylen.
 */
static char *
key_text_len(const DpSpec *spec, char **out, size_t *keylen)
{
	size_t		len = 0;
	char	   *key,
			   *p;
	int			i;

	if (spec->nkey == 1)
	{
		const char *v = out[spec->key[0]] ? out[spec->key[0]] : "";

		len = strlen(v);
		key = palloc(len + 1);
		memcpy(key, v, len + 1);
		*keylen = len;
		return key;
	}
	for (i = 0; i < spec->nkey; i++)
		len += (out[spec->key[i]] ? strlen(out[spec->key[i]]) : 0) + 1;
	key = p = palloc(len);
	for (i = 0; i < spec->nkey; i++)
	{
		const char *v = out[spec->key[i]] ? out[spec->key[i]] : "";
		size_t		n = strlen(v);

		if (i > 0)
			*p++ = '\x1f';
		memcpy(p, v, n);
		p += n;
	}
	*p = '\0';
	*keylen = len - 1;
	return key;
}

/* key_text_len without the length */
char *
dp_load_key_text(const DpSpec *spec, char **out)
{
	size_t		len;

	return key_text_len(spec, out, &len);
}

static void
append_json_value(StringInfo buf, DpDatatype dt, const char *v)
{
	if (v == NULL)
		appendStringInfoString(buf, "null");
	else if (dt == DP_DT_INTEGER || dt == DP_DT_DECIMAL || dt == DP_DT_FLAG || dt == DP_DT_JSON)
		appendStringInfoString(buf, v);
	else
		escape_json(buf, v);
}

/* The rows a dry run reports: as they would load, keyed by field name. */
void
dp_load_check_rows_json(DpLoad *load)
{
	const DpSpec *spec = load->spec;
	int			s,
				i;

	dp_contract_close(load);
	for (s = 0; s < load->nslots; s++)
	{
		char	  **out = load->values + (Size) s * spec->nfields;

		appendStringInfoString(&load->rows_json, load->nrows_json++ ? ", {" : "{");
		for (i = 0; i < spec->nfields; i++)
		{
			if (i > 0)
				appendStringInfoString(&load->rows_json, ", ");
			escape_json(&load->rows_json, spec->fields[i].name);
			appendStringInfoString(&load->rows_json, ": ");
			append_json_value(&load->rows_json, spec->fields[i].datatype, out[i]);
		}
		appendStringInfoChar(&load->rows_json, '}');
	}
	/* the keys' slots are gone (as after a flush: a later row of a key is new) */
	load->flush_gen++;
	load->nslots = 0;
	MemoryContextReset(load->rows_cxt);
}

/*
 * A quarantined snapshot row with a usable key: the entity is present in
 * the snapshot (only its values were bad), so a replace must not remove it.
 */
static void
remember_key(DpLoad *load, char **out, const DpSourceRow *row)
{
	const DpSpec *spec = load->spec;
	char	   *key;
	uint64		h;
	KeyEntry   *e;
	bool		found;
	int			i;
	size_t		keylen;

	for (i = 0; i < spec->nkey; i++)
		if (out[spec->key[i]] == NULL)
			return;
	key = key_text_len(spec, out, &keylen);
	h = hash_bytes_extended((const unsigned char *) key, keylen, 0);
	for (;;)
	{
		e = hash_search(load->keys, &h, HASH_ENTER, &found);
		if (!found || strcmp(e->key, key) == 0)
			break;
		h++;
	}
	if (!found)
	{
		e->key = key;
		e->slot = -1;
		e->valid = false;
		e->row_number = row->row_number;
		e->line_number = row->line_number;
	}
}

/* Transform one source row and route it. */
void
dp_load_row(DpLoad *load, const DpSourceRow *row)
{
	const DpSpec *spec = load->spec;
	MemoryContext old;
	char	  **out;
	DpRowStatus st;

	/* make room first: a flush resets rows_cxt, where this row's values go */
	if (load->nslots == DP_FLUSH_ROWS)
	{
		if (load->dry_run)
			dp_load_check_rows_json(load);
		else
			dp_load_flush_rows(load);
	}
	old = MemoryContextSwitchTo(load->rows_cxt);
	out = palloc(sizeof(char *) * spec->nfields);

	load->rows_in++;
	st = dp_transform_row(load->t, row, out);
	if (st == DP_ROW_LOADED && load->contract)
		st = dp_contract_row(load, row, out);
	MemoryContextSwitchTo(load->cxt);
	switch (st)
	{
		case DP_ROW_SKIPPED:
			load->skipped++;
			break;
		case DP_ROW_FILTERED:
			load->filtered++;
			break;
		case DP_ROW_QUARANTINED:
			if (load->track_keys)
				remember_key(load, out, row);
			load->quarantined++;
			load->q_row[load->nquarantine] = row->row_number;
			load->q_line[load->nquarantine] = row->line_number;
			if (++load->nquarantine == DP_FLUSH_ROWS)
				dp_load_flush_quarantine(load);
			break;
		case DP_ROW_LOADED:
			{
				size_t		keylen;
				char	   *key = key_text_len(spec, out, &keylen);
				uint64		h = hash_bytes_extended((const unsigned char *) key, keylen, 0);
				KeyEntry   *e;
				bool		found;

				/* find the key, stepping past other keys with the same hash */
				for (;;)
				{
					e = hash_search(load->keys, &h, HASH_ENTER, &found);
					if (!found || strcmp(e->key, key) == 0)
						break;
					h++;
				}
				if (found)
					dp_transform_add_issue(load->t, e->row_number, e->line_number,
										   spec->key[0], DP_ISSUE_DUPLICATE_KEY, "warning",
										   out[spec->key[0]], NULL,
										   psprintf("Row %lld has the same key and replaces this row.",
													(long long) row->row_number));
				if (found && e->slot >= 0 && e->gen == load->flush_gen)
				{
					/* last one wins: overwrite the earlier row's slot */
					memcpy(load->values + (Size) e->slot * spec->nfields, out,
						   sizeof(char *) * spec->nfields);
					load->slot_row[e->slot] = row->row_number;
				}
				else
				{
					e->slot = load->nslots++;
					e->gen = load->flush_gen;
					memcpy(load->values + (Size) e->slot * spec->nfields, out,
						   sizeof(char *) * spec->nfields);
					load->slot_row[e->slot] = row->row_number;
					if (!found)
						e->key = key;
				}
				e->row_number = row->row_number;
				e->line_number = row->line_number;
				/* the first valid row of a key loads; each later one replaces it */
				if (found && e->valid)
					load->replaced++;
				else
					load->loaded++;
				e->valid = true;
			}
			break;
	}
	if (load->t->nissues >= DP_FLUSH_ROWS && !load->dry_run)
		dp_load_flush_issues(load);
	MemoryContextSwitchTo(old);
}

/* ------------------------------------------------------------------------
 * Batches
 * ------------------------------------------------------------------------
 */

char *
dp_sha256_hex(const char *data, size_t len)
{
	pg_cryptohash_ctx *ctx = pg_cryptohash_create(PG_SHA256);
	uint8		digest[PG_SHA256_DIGEST_LENGTH];
	char	   *hex = palloc(PG_SHA256_DIGEST_LENGTH * 2 + 1);
	int			i;

	if (ctx == NULL || pg_cryptohash_init(ctx) < 0 ||
		pg_cryptohash_update(ctx, (const uint8 *) data, len) < 0 ||
		pg_cryptohash_final(ctx, digest, sizeof(digest)) < 0)
		elog(ERROR, "could not compute SHA-256");
	pg_cryptohash_free(ctx);
	for (i = 0; i < PG_SHA256_DIGEST_LENGTH; i++)
		sprintf(hex + i * 2, "%02x", digest[i]);
	return hex;
}

void
dp_load_create_batch(DpLoad *load, const char *kind, size_t bytes, const char *sha, const char *source)
{
	bool		isnull;

	const char *args[7];

	args[0] = load->dataset;
	args[1] = kind;
	args[2] = GetUserNameFromId(dp_caller_id(), false);
	args[3] = psprintf("%zu", bytes);
	args[4] = sha;
	args[5] = source;
	args[6] = load->column_override;
	/* received_at: the clock under the dataset lock (see the file header) */
	dp_spi_exec_text_kept("INSERT INTO dataplatform.batch (dataset, kind, pushed_by, bytes, rows, sha256, "
					 "status, source, received_at) VALUES ($1, $2, $3::name, $4::bigint, 0, $5, 'processing', "
					 "$6::jsonb || CASE WHEN $7::jsonb IS NULL THEN '{}' "
					 "ELSE pg_catalog.jsonb_build_object('column', $7::jsonb) END, "
					 "pg_catalog.clock_timestamp()) RETURNING id, received_at", 7, args);
	load->batch_id = pg_strtoint64(dp_spi_getvalue(0, 1));
	load->run_kind = MemoryContextStrdup(load->cxt, kind);
	load->bytes = (int64) bytes;
	load->received_at = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull);
}

/*
 * Take the dataset lock, then the clean table's lock in mode: writers
 * RowExclusiveLock, rebuild AccessExclusiveLock (see the file header).
 */
void
dp_load_lock(DpLoad *load, LOCKMODE mode)
{
	dp_dataset_lock(load->spec->table, mode);
	/* tables restored from an older version's dump gain the lineage column */
	dp_clean_table_ensure_lineage(load->spec);
}

/*
 * Whether a write must wait in the queue: the dataset is asynchronous, or
 * batches of it are still queued (a synchronous write would overtake them).
 * Call with the clean table locked.
 */
bool
dp_load_queued_behind(DpLoad *load)
{
	const char *args[2];

	if (load->cfg->async)
		return true;
	args[0] = load->dataset;
	args[1] = psprintf("%lld", (long long) load->batch_id);	/* 0 before the batch exists */
	return dp_spi_exec_text_kept("SELECT 1 FROM dataplatform.batch WHERE dataset = $1 AND id <> $2::bigint "
							"AND status IN ('queued', 'processing') LIMIT 1", 2, args) > 0;
}

/* Snapshots and events apply at once: refuse them while pushes are queued. */
void
dp_load_require_no_queue(DpLoad *load)
{
	if (dp_load_queued_behind(load))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("dataset \"%s\" has pushes queued for processing", load->dataset),
				 errdetail("Snapshots and events apply at once and would overtake the queued pushes."),
				 errhint("Configure the dataset with \"processing\": \"sync\", or wait for dataplatform.process_queued('%s').",
						 load->dataset)));
}

void
dp_load_finish(DpLoad *load, instr_time start)
{
	instr_time	now;
	const char *args[15];

	dp_load_flush(load);
	INSTR_TIME_SET_CURRENT(now);
	INSTR_TIME_SUBTRACT(now, start);
	args[0] = psprintf("%lld", (long long) load->batch_id);
	args[1] = psprintf("%lld", (long long) load->rows_in);
	args[2] = psprintf("%lld", (long long) load->loaded);
	args[3] = psprintf("%lld", (long long) load->quarantined);
	args[4] = psprintf("%lld", (long long) load->skipped);
	args[5] = psprintf("%lld", (long long) load->filtered);
	args[6] = psprintf("%lld", (long long) load->t->issue_counts[0]);
	args[7] = psprintf("%lld", (long long) load->t->issue_counts[1]);
	args[8] = psprintf("%lld", (long long) load->t->issue_counts[2]);
	args[9] = psprintf("%.3f", INSTR_TIME_GET_MILLISEC(now));
	args[10] = psprintf("%d.%d", load->major, load->minor);
	args[11] = psprintf("%d", load->config_version);
	args[12] = dp_transform_mapping_json(load->t);
	args[13] = psprintf("%lld", (long long) load->replaced);
	args[14] = psprintf("%lld", (long long) load->orphaned);
	dp_spi_exec_text_kept("UPDATE dataplatform.batch SET rows = $2::bigint, rows_loaded = $3::bigint, "
					 "rows_quarantined = $4::bigint, rows_skipped = $5::bigint, rows_filtered = $6::bigint, "
					 "issues_error = $7::bigint, issues_warning = $8::bigint, issues_info = $9::bigint, "
					 "elapsed_ms = $10::numeric, spec_version = $11, config_version = $12::integer, "
					 "column_mapping = $13::jsonb, rows_replaced = $14::bigint, rows_orphaned = $15::bigint, "
					 "status = 'done', processed_at = pg_catalog.clock_timestamp() "
					 "WHERE id = $1::bigint", 15, args);
	dp_load_openlineage(load);
}

void
dp_load_audit(DpLoad *load, const char *kind)
{
	dp_audit(kind, load->dataset,
			 psprintf("{\"batch_id\": %lld, \"rows\": %lld, \"loaded\": %lld, \"quarantined\": %lld}",
					  (long long) load->batch_id, (long long) load->rows_in,
					  (long long) load->loaded, (long long) load->quarantined));
}

/*
 * Asynchronous processing: the batch stays queued with its raw rows; the
 * background worker transforms it (process_queued).
 */
void
dp_load_queue_batch(DpLoad *load, int64 rows)
{
	const char *args[2];

	args[0] = psprintf("%lld", (long long) load->batch_id);
	args[1] = psprintf("%lld", (long long) rows);
	dp_spi_exec_text_kept("UPDATE dataplatform.batch SET status = 'queued', rows = $2::bigint, "
					 "spec_version = NULL WHERE id = $1::bigint", 2, args);
	dp_load_openlineage_queued(load, rows);
}

/* The payload with PII values replaced by tokens, when this environment wants it. */
Jsonb *
dp_load_obfuscate_json(DpLoad *load, Jsonb *rows)
{
	Jsonb	   *result;
	MemoryContext old;

	if (load->synthetic || !dp_obfuscation_needed(load->spec))
		return rows;
	old = MemoryContextSwitchTo(load->cxt);
	result = dp_obfuscate_rows(load->t, rows);
	MemoryContextSwitchTo(old);
	return result;
}

/* Land a JSON payload in dp_raw, a row per element (or the one object); raw.c */
void
dp_load_land_json(DpLoad *load, Jsonb *rows)
{
	dp_raw_land_json(load->batch_id, rows);
}
