/*
 * contract.c
 *		The row-level contract checks of a load, after the transform:
 *		"unique" (a value another record holds: "duplicate value") and
 *		"references" (a value no record of the referenced dataset holds:
 *		"unknown reference").  Per-value checks (lengths, codelists) are the
 *		harmonise library's; deprecation is the transform's.
 *
 * Cost follows the work: each value is looked up through an index (the
 * unique field's own, or the referenced dataset's primary key or unique
 * field index) with a DpProbe, never a scan; values of the batch not yet
 * written are remembered in a hash table.  Probes read with SnapshotSelf
 * (committed rows and this transaction's writes), so a row written by an
 * earlier flush of the batch is found; they are opened at first use and
 * closed by dp_contract_close, which every flush calls (a probe must not
 * outlive its transaction).
 *
 * What is compared: the stored rows as they are when the row is checked,
 * and the earlier rows of the batch.  A value freed by a later row of the
 * same batch (another record changing away from it) is not seen as free.
 * A reference to the dataset itself finds the rows of the batch that come
 * before.
 */
#include "postgres.h"

#include "common/hashfn.h"
#include "executor/spi.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "bulk.h"
#include "issue.h"
#include "pipeline.h"
#include "util.h"

typedef struct SeenValue
{
	uint64		hash;			/* hash key: field, value */
	int			field;
	char	   *value;
	char	   *key;			/* key text of the row that holds it */
} SeenValue;

typedef struct RefCheck
{
	int			field;
	char	   *table;			/* dp_clean table of the referenced dataset */
	char	   *column;
	bool		self;			/* references this dataset */
	bool		self_key;		/* ... its key (else a unique field) */
	int			self_field;
	DpProbe    *probe;
} RefCheck;

typedef struct UniqueCheck
{
	int			field;
	DpProbe    *probe;
	AttrNumber *key_att;		/* per key field: its attribute in the table */
	FmgrInfo   *key_in;			/* its type's input and output functions */
	FmgrInfo   *key_out;
	Oid		   *key_ioparam;
} UniqueCheck;

struct DpContract
{
	int			nunique;
	UniqueCheck *unique;
	int			nref;
	RefCheck   *ref;
	HTAB	   *seen;
	MemoryContext cxt;
};

static uint32
seen_hash_fn(const void *key, Size keysize)
{
	(void) keysize;
	return (uint32) *(const uint64 *) key;
}

/*
 * Set up the checks of a load (in load->cxt; connected to SPI): which
 * fields are unique, which reference what and where those rows live.
 */
void
dp_contract_begin(DpLoad *load)
{
	const DpSpec *spec = load->spec;
	DpContract *c;
	int			i;
	HASHCTL		ctl;

	load->contract = NULL;
	for (i = 0; i < spec->nfields; i++)
		if (spec->fields[i].unique != DP_UNIQUE_NONE || spec->fields[i].ref_dataset)
			break;
	if (i == spec->nfields)
		return;

	c = palloc0(sizeof(DpContract));
	c->cxt = CurrentMemoryContext;
	c->unique = palloc0(sizeof(UniqueCheck) * spec->nfields);
	c->ref = palloc0(sizeof(RefCheck) * spec->nfields);
	for (i = 0; i < spec->nfields; i++)
	{
		const DpField *f = &spec->fields[i];

		if (f->unique != DP_UNIQUE_NONE)
			c->unique[c->nunique++].field = i;
		if (f->ref_dataset)
		{
			RefCheck   *r = &c->ref[c->nref++];

			r->field = i;
			if (strcmp(f->ref_dataset, spec->dataset) == 0)
			{
				const DpField *t = dp_spec_field(spec, f->ref_field);

				r->self = true;
				r->self_field = t - spec->fields;
				r->self_key = t->is_key;
				r->table = pstrdup(spec->table);
				r->column = pstrdup(t->column);
			}
			else
			{
				const char *args[2];

				args[0] = f->ref_dataset;
				args[1] = f->ref_field;
				if (dp_spi_exec_text("SELECT d.table_name::text, f.column_name::text "
									 "FROM dataplatform.datasets d JOIN dataplatform.fields f "
									 "  ON f.dataset = d.name AND f.name = $2 "
									 "WHERE d.name = $1", 2, args) == 0)
					ereport(ERROR,
							(errcode(ERRCODE_UNDEFINED_OBJECT),
							 errmsg("field \"%s\" of dataset \"%s\" references %s.%s, which no longer exists",
									f->name, spec->dataset, f->ref_dataset, f->ref_field),
							 errhint("Define the referenced dataset again, or drop the reference.")));
				r->table = dp_spi_getvalue(0, 1);
				r->column = dp_spi_getvalue(0, 2);
			}
		}
	}
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(uint64);
	ctl.entrysize = sizeof(SeenValue);
	ctl.hash = seen_hash_fn;
	ctl.hcxt = CurrentMemoryContext;
	c->seen = hash_create("dataplatform unique values", 256, &ctl,
						  HASH_ELEM | HASH_FUNCTION | HASH_CONTEXT);
	load->contract = c;
}

/* Close the probes (each flush, and the end of a dry run). */
void
dp_contract_close(DpLoad *load)
{
	DpContract *c = load->contract;
	int			i;

	if (c == NULL)
		return;
	for (i = 0; i < c->nunique; i++)
		if (c->unique[i].probe)
		{
			dp_probe_end(c->unique[i].probe);
			c->unique[i].probe = NULL;
		}
	for (i = 0; i < c->nref; i++)
		if (c->ref[i].probe)
		{
			dp_probe_end(c->ref[i].probe);
			c->ref[i].probe = NULL;
		}
}

/* The batch's earlier row holding value in field, or NULL; enter it when asked. */
static SeenValue *
seen_lookup(DpContract *c, int field, const char *value, bool enter)
{
	uint64		h = hash_bytes_extended((const unsigned char *) value, strlen(value), field);
	SeenValue  *e;
	bool		found;

	for (;;)
	{
		e = hash_search(c->seen, &h, enter ? HASH_ENTER : HASH_FIND, &found);
		if (e == NULL)
			return NULL;
		if (!found || (e->field == field && strcmp(e->value, value) == 0))
			break;
		h++;
	}
	if (!found)
	{
		MemoryContext old = MemoryContextSwitchTo(c->cxt);

		e->field = field;
		e->value = pstrdup(value);
		e->key = NULL;
		MemoryContextSwitchTo(old);
		return NULL;
	}
	return e;
}

static void
open_unique_probe(DpLoad *load, UniqueCheck *u)
{
	const DpSpec *spec = load->spec;
	MemoryContext old = MemoryContextSwitchTo(load->contract->cxt);
	int			k;

	u->probe = dp_probe_begin_on("dp_clean", spec->table, spec->fields[u->field].column);
	if (u->key_att == NULL)
	{
		u->key_att = palloc(sizeof(AttrNumber) * spec->nkey);
		u->key_in = palloc(sizeof(FmgrInfo) * spec->nkey);
		u->key_out = palloc(sizeof(FmgrInfo) * spec->nkey);
		u->key_ioparam = palloc(sizeof(Oid) * spec->nkey);
		for (k = 0; k < spec->nkey; k++)
		{
			Oid			type;
			Oid			func;
			bool		varlena;

			u->key_att[k] = dp_probe_attnum(u->probe, spec->fields[spec->key[k]].column);
			type = dp_probe_atttype(u->probe, u->key_att[k]);
			getTypeInputInfo(type, &func, &u->key_ioparam[k]);
			fmgr_info(func, &u->key_in[k]);
			getTypeOutputInfo(type, &func, &varlena);
			fmgr_info(func, &u->key_out[k]);
		}
	}
	MemoryContextSwitchTo(old);
}

/* Whether a stored row other than the one with this row's key holds the value. */
static bool
stored_elsewhere(DpLoad *load, UniqueCheck *u, char **out)
{
	const DpSpec *spec = load->spec;
	TupleTableSlot *slot;
	Datum		value;
	char	  **key = palloc(sizeof(char *) * spec->nkey);
	int			k;

	if (u->probe == NULL)
		open_unique_probe(load, u);
	value = dp_probe_input(u->probe, 0, out[u->field]);
	/* the key as the stored rows spell it: through its type and back */
	for (k = 0; k < spec->nkey; k++)
		key[k] = OutputFunctionCall(&u->key_out[k],
									InputFunctionCall(&u->key_in[k], out[spec->key[k]],
													  u->key_ioparam[k], -1));
	for (slot = dp_probe_fetch(u->probe, &value); slot != NULL; slot = dp_probe_next(u->probe))
	{
		for (k = 0; k < spec->nkey; k++)
		{
			char	   *stored = dp_probe_text(u->probe, u->key_att[k]);

			if (stored == NULL || strcmp(stored, key[k]) != 0)
				break;
		}
		if (k < spec->nkey)
		{
			ExecClearTuple(slot);
			return true;
		}
	}
	return false;
}

/* Whether the referenced dataset holds the value. */
static bool
reference_found(DpLoad *load, RefCheck *r, char **out)
{
	DpContract *c = load->contract;
	const char *v = out[r->field];
	Datum		d;

	if (r->self)
	{
		if (r->self_key && load->spec->nkey == 1 && strcmp(out[r->self_field] ? out[r->self_field] : "", v) == 0)
			return true;
		if (!r->self_key && seen_lookup(c, r->self_field, v, false) != NULL)
			return true;
		if (r->self_key)
		{
			uint64		h = hash_bytes_extended((const unsigned char *) v, strlen(v), 0);
			KeyEntry   *e;

			for (;;)
			{
				e = hash_search(load->keys, &h, HASH_FIND, NULL);
				if (e == NULL)
					break;
				if (strcmp(e->key, v) == 0)
					return true;
				h++;
			}
		}
	}
	if (r->probe == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(c->cxt);

		r->probe = dp_probe_begin_on("dp_clean", r->table, r->column);
		MemoryContextSwitchTo(old);
	}
	d = dp_probe_input(r->probe, 0, v);
	return dp_probe_exists(r->probe, &d);
}

/*
 * Check one transformed row that would load (out: its values, row: where
 * it came from).  Records the issues; returns DP_ROW_QUARANTINED when a
 * strict unique field or an error-severity reference fails, else
 * DP_ROW_LOADED.  Scratch in CurrentMemoryContext.
 */
DpRowStatus
dp_contract_row(DpLoad *load, const DpSourceRow *row, char **out)
{
	DpContract *c = load->contract;
	const DpSpec *spec = load->spec;
	DpRowStatus st = DP_ROW_LOADED;
	char	   *key = NULL;
	int			i;

	if (c == NULL)
		return st;
	for (i = 0; i < c->nunique; i++)
	{
		UniqueCheck *u = &c->unique[i];
		const DpField *f = &spec->fields[u->field];
		SeenValue  *e;
		bool		dup;

		if (out[u->field] == NULL)
			continue;
		if (key == NULL)
			key = dp_load_key_text(spec, out);
		e = seen_lookup(c, u->field, out[u->field], false);
		if (e != NULL)
			dup = strcmp(e->key, key) != 0;
		else
			dup = stored_elsewhere(load, u, out);
		if (!dup)
			continue;
		dp_transform_add_issue(load->t, row->row_number, row->line_number, u->field,
							   DP_ISSUE_DUPLICATE_VALUE,
							   f->unique == DP_UNIQUE_STRICT ? "error" : "warning",
							   out[u->field], NULL,
							   psprintf("Another record of dataset \"%s\" already has %s \"%s\"%s.",
										spec->dataset, f->name, out[u->field],
										f->unique == DP_UNIQUE_STRICT ? "; the row is quarantined" : ""));
		if (f->unique == DP_UNIQUE_STRICT)
			st = DP_ROW_QUARANTINED;
	}
	for (i = 0; i < c->nref; i++)
	{
		RefCheck   *r = &c->ref[i];
		const DpField *f = &spec->fields[r->field];

		if (out[r->field] == NULL || reference_found(load, r, out))
			continue;
		dp_transform_add_issue(load->t, row->row_number, row->line_number, r->field,
							   DP_ISSUE_UNKNOWN_REFERENCE, f->ref_severity, out[r->field], NULL,
							   psprintf("No record of dataset \"%s\" has %s \"%s\".",
										f->ref_dataset, f->ref_field, out[r->field]));
		if (strcmp(f->ref_severity, "error") == 0)
			st = DP_ROW_QUARANTINED;
	}

	/* a row that loads holds its unique values from now on */
	if (st == DP_ROW_LOADED)
		for (i = 0; i < c->nunique; i++)
		{
			UniqueCheck *u = &c->unique[i];
			SeenValue  *e;

			if (out[u->field] == NULL)
				continue;
			if (key == NULL)
				key = dp_load_key_text(spec, out);
			e = seen_lookup(c, u->field, out[u->field], true);
			if (e == NULL)
			{
				e = seen_lookup(c, u->field, out[u->field], false);
				e->key = MemoryContextStrdup(c->cxt, key);
			}
		}
	return st;
}
