/*
 * enforce.c
 *		Access agreements at every read of a published view: the executor
 *		check, PII per agreement and the row scope.
 *
 * The check.  ExecutorCheckPerms_hook sees the range table of every plan the
 * executor starts (SELECT, COPY (SELECT ...) TO, DECLARE CURSOR, each
 * EXECUTE of a prepared statement, SPI queries of functions and of export),
 * the dp_consumer views included: a view's own RTE stays in the range table
 * with its requiredPerms, also under a view a consumer built on top.  For
 * each dp_consumer relation read, the reader (the role set by login or SET
 * ROLE, as the audit names it) needs, for every data product the view reads
 * from, an active agreement of a role it has the privileges of, covering
 * the view, valid at this instant.  Otherwise the statement fails with
 * 42501.  Superusers and admins need none.  The audit hook runs this check
 * first (it is installed before it) and asks which agreements allowed each
 * read (dp_agreement_ids_for).
 *
 * Inside the view.  Published views (consumer.c) are security barrier views
 * that call sees_pii(view) once per execution and in_scope(view, row) per
 * row of their table: both decide from the same agreements.
 *
 * The cache.  Each backend keeps the active agreements and which products
 * each published view reads, in cache_cxt, read with the latest committed
 * snapshot (not the transaction's: a revocation holds in an open repeatable
 * read transaction too).  Statement triggers on dataplatform.agreement and
 * dataplatform.consumer_source send a relcache invalidation of their table
 * at commit; the check accepts pending invalidations before it looks, so a
 * revocation committed elsewhere holds from the next statement.  Expiry
 * needs no message: validity is compared with the clock at each check.
 * Decisions (one per view, reader and statement) are kept in a small array
 * so that in_scope, called per row, does not look again.
 */
#include "postgres.h"

#include "access/parallel.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_class.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/typcache.h"

#include "access.h"
#include "agreement.h"

PG_FUNCTION_INFO_V1(dp_sees_pii_view);
PG_FUNCTION_INFO_V1(dp_in_scope);
PG_FUNCTION_INFO_V1(dp_agreement_changed);

/* per decision: agreements covering the view, products, scoped columns */
#define MAX_COVER		32
#define MAX_PRODUCTS	8
#define MAX_SCOPE_COLS	8
#define MAX_DECISIONS	16
/* relations of one range table remembered for the audit */
#define MAX_CHECKED		16

typedef struct DpAgreement
{
	int64		id;
	Oid			role;
	char	   *product;		/* NULL: every product (grant_consumer) */
	int			nviews;			/* -1: every view of the product */
	char	  **views;
	bool		pii;
	TimestampTz valid_from;
	TimestampTz valid_until;	/* DT_NOEND when open-ended */
	int			nscope;			/* (column, value) pairs, sorted by column */
	char	  **scope_col;
	char	  **scope_val;		/* canonical text of the column's type */
} DpAgreement;

typedef struct DpViewProducts
{
	char	   *view;
	int			nproducts;
	char	  **products;
} DpViewProducts;

typedef struct DpDecision
{
	bool		used;
	char		view[NAMEDATALEN];
	Oid			reader;
	uint64		generation;
	TimestampTz stmt;
	bool		allowed;
	bool		exempt;			/* admin or superuser: everything */
	bool		pii;
	bool		all_rows;
	const char *missing;		/* the product no agreement covers */
	/* per product p: cover[pstart[p] .. pstart[p+1]) */
	int			nproducts;
	int			pstart[MAX_PRODUCTS + 1];
	int			cover[MAX_COVER];
	/* columns of the row scopes, resolved against the row type */
	int			ncols;
	const char *cols[MAX_SCOPE_COLS];
	Oid			rowtype;
	AttrNumber	attnum[MAX_SCOPE_COLS];
	FmgrInfo	out[MAX_SCOPE_COLS];
} DpDecision;

static ExecutorCheckPerms_hook_type prev_ExecutorCheckPerms_hook = NULL;

static MemoryContext cache_cxt = NULL;
static bool cache_valid = false;
static bool cache_present = false;	/* the agreement table exists */
static uint64 cache_generation = 0;
static Oid	agreement_relid = InvalidOid;
static Oid	source_relid = InvalidOid;
static DpAgreement *agreements = NULL;
static int	nagreements = 0;
static DpViewProducts *view_products = NULL;
static int	nview_products = 0;
static bool loading = false;

static DpDecision decisions[MAX_DECISIONS];
static int	next_decision = 0;

/* what the last check decided, for the audit */
static int	nchecked = 0;
static Oid	checked_rel[MAX_CHECKED];
static char checked_ids[MAX_CHECKED][DP_AGREEMENT_IDS_LEN];

static void
relcache_callback(Datum arg pg_attribute_unused(), Oid relid)
{
	if (!OidIsValid(relid) || relid == agreement_relid || relid == source_relid ||
		!OidIsValid(agreement_relid))
		cache_valid = false;
}

static char **
text_array(Datum d, int *n)
{
	Datum	   *elems;
	bool	   *nulls;
	char	  **out;

	deconstruct_array(DatumGetArrayTypeP(d), TEXTOID, -1, false, TYPALIGN_INT,
					  &elems, &nulls, n);
	out = palloc(sizeof(char *) * Max(*n, 1));
	for (int i = 0; i < *n; i++)
		out[i] = nulls[i] ? pstrdup("") : TextDatumGetCString(elems[i]);
	return out;
}

/*
 * Read the active agreements and the products of every published view into
 * cache_cxt, with the latest committed snapshot.  In a transaction.
 */
static void
load_cache(void)
{
	Oid			ns = get_namespace_oid("dataplatform", true);
	MemoryContext old;
	bool		pushed = false;
	Oid			save_user;
	int			save_sec;
	Oid			owner;

	agreement_relid = OidIsValid(ns) ? get_relname_relid("agreement", ns) : InvalidOid;
	source_relid = OidIsValid(ns) ? get_relname_relid("consumer_source", ns) : InvalidOid;
	if (cache_cxt == NULL)
		cache_cxt = AllocSetContextCreate(TopMemoryContext, "dataplatform agreements",
										  ALLOCSET_SMALL_SIZES);
	MemoryContextReset(cache_cxt);
	agreements = NULL;
	nagreements = 0;
	view_products = NULL;
	nview_products = 0;
	cache_generation++;
	cache_present = OidIsValid(agreement_relid) && OidIsValid(source_relid);
	if (!cache_present)
	{
		cache_valid = true;
		return;
	}

	/* read as the table's owner: the reader may not read the catalog */
	GetUserIdAndSecContext(&save_user, &save_sec);
	owner = BOOTSTRAP_SUPERUSERID;
	{
		HeapTuple	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(agreement_relid));

		if (HeapTupleIsValid(tup))
		{
			owner = ((Form_pg_class) GETSTRUCT(tup))->relowner;
			ReleaseSysCache(tup);
		}
	}
	loading = true;
	PG_TRY();
	{
		uint64		n;

		SetUserIdAndSecContext(owner,
							   save_sec | SECURITY_LOCAL_USERID_CHANGE | SECURITY_RESTRICTED_OPERATION);
		SPI_connect();
		PushActiveSnapshot(GetLatestSnapshot());
		pushed = true;
		if (SPI_execute("SELECT a.id, r.oid, a.product, a.views, a.pii, a.approved_at, "
						"COALESCE(a.valid_until, 'infinity'), s.cols, s.vals "
						"FROM dataplatform.agreement a "
						"JOIN pg_catalog.pg_roles r ON r.rolname = a.role_name "
						"LEFT JOIN LATERAL (SELECT pg_catalog.array_agg(e.key ORDER BY e.key, v.v) AS cols, "
						"  pg_catalog.array_agg(v.v ORDER BY e.key, v.v) AS vals "
						"  FROM pg_catalog.jsonb_each(a.row_scope) e, "
						"  pg_catalog.jsonb_array_elements_text(e.value) v(v)) s ON true "
						"WHERE a.status = 'active'", true, 0) != SPI_OK_SELECT)
			elog(ERROR, "could not read dataplatform.agreement");
		n = SPI_processed;
		old = MemoryContextSwitchTo(cache_cxt);
		agreements = palloc0(sizeof(DpAgreement) * Max(n, 1));
		for (uint64 i = 0; i < n; i++)
		{
			HeapTuple	t = SPI_tuptable->vals[i];
			TupleDesc	td = SPI_tuptable->tupdesc;
			DpAgreement *a = &agreements[nagreements++];
			bool		isnull;
			Datum		d;
			int			nc = 0;

			a->id = DatumGetInt64(SPI_getbinval(t, td, 1, &isnull));
			a->role = DatumGetObjectId(SPI_getbinval(t, td, 2, &isnull));
			a->product = SPI_getvalue(t, td, 3);
			d = SPI_getbinval(t, td, 4, &isnull);
			a->nviews = -1;
			if (!isnull)
				a->views = text_array(d, &a->nviews);
			a->pii = DatumGetBool(SPI_getbinval(t, td, 5, &isnull));
			d = SPI_getbinval(t, td, 6, &isnull);
			a->valid_from = isnull ? DT_NOEND : DatumGetTimestampTz(d);
			a->valid_until = DatumGetTimestampTz(SPI_getbinval(t, td, 7, &isnull));
			d = SPI_getbinval(t, td, 8, &isnull);
			if (!isnull)
			{
				a->scope_col = text_array(d, &nc);
				a->scope_val = text_array(SPI_getbinval(t, td, 9, &isnull), &a->nscope);
			}
		}
		MemoryContextSwitchTo(old);

		if (SPI_execute("SELECT s.view, pg_catalog.array_agg(DISTINCT d.product ORDER BY d.product) "
						"FROM dataplatform.consumer_source s "
						"JOIN dataplatform.datasets d ON d.name = s.dataset GROUP BY s.view",
						true, 0) != SPI_OK_SELECT)
			elog(ERROR, "could not read dataplatform.consumer_source");
		n = SPI_processed;
		old = MemoryContextSwitchTo(cache_cxt);
		view_products = palloc0(sizeof(DpViewProducts) * Max(n, 1));
		for (uint64 i = 0; i < n; i++)
		{
			HeapTuple	t = SPI_tuptable->vals[i];
			TupleDesc	td = SPI_tuptable->tupdesc;
			DpViewProducts *v = &view_products[nview_products++];
			bool		isnull;

			v->view = SPI_getvalue(t, td, 1);
			v->products = text_array(SPI_getbinval(t, td, 2, &isnull), &v->nproducts);
		}
		MemoryContextSwitchTo(old);
		PopActiveSnapshot();
		pushed = false;
		SPI_finish();
	}
	PG_FINALLY();
	{
		SetUserIdAndSecContext(save_user, save_sec);
		loading = false;
		if (pushed)
			PopActiveSnapshot();
	}
	PG_END_TRY();
	cache_valid = true;
	memset(decisions, 0, sizeof(decisions));
}

/* The cache, current as of now.  In a transaction. */
static void
ensure_cache(void)
{
	AcceptInvalidationMessages();
	if (!cache_valid)
		load_cache();
}

static bool
is_exempt(Oid reader)
{
	Oid			admin = get_role_oid(DP_ROLE_ADMIN, true);

	return superuser_arg(reader) || (OidIsValid(admin) && has_privs_of_role(reader, admin));
}

static bool
covers(const DpAgreement *a, Oid reader, const char *view, const char *product,
	   TimestampTz now)
{
	if (a->valid_from > now || a->valid_until <= now)
		return false;
	if (a->product != NULL && (product == NULL || strcmp(a->product, product) != 0))
		return false;
	if (a->nviews >= 0)
	{
		bool		found = false;

		for (int i = 0; i < a->nviews && !found; i++)
			found = strcmp(a->views[i], view) == 0;
		if (!found)
			return false;
	}
	return has_privs_of_role(reader, a->role);
}

/*
 * Decide what reader may see of view now: whether it may read it at all,
 * PII, and the agreements whose row scopes apply.  A decision made in the
 * same statement is reused unless fresh (the executor check: each plan
 * started looks again, also inside one long function call).  The result lives in
 * the decisions array until the next reload or MAX_DECISIONS decisions.
 */
static DpDecision *
decide(const char *view, Oid reader, TimestampTz now, bool fresh)
{
	TimestampTz stmt = GetCurrentStatementStartTimestamp();
	DpDecision *d;
	DpViewProducts *vp = NULL;
	int			ncover = 0;
	static char *unknown[1] = {NULL};

	for (int i = 0; i < MAX_DECISIONS; i++)
	{
		d = &decisions[i];
		if (d->used && d->reader == reader && d->stmt == stmt &&
			d->generation == cache_generation && strcmp(d->view, view) == 0)
		{
			if (!fresh)
				return d;
			break;
		}
		d = NULL;
	}
	if (d == NULL)
	{
		d = &decisions[next_decision];
		next_decision = (next_decision + 1) % MAX_DECISIONS;
	}
	memset(d, 0, sizeof(DpDecision));
	d->used = true;
	strlcpy(d->view, view, NAMEDATALEN);
	d->reader = reader;
	d->stmt = stmt;
	d->generation = cache_generation;
	if (is_exempt(reader))
	{
		d->allowed = d->exempt = d->pii = d->all_rows = true;
		return d;
	}
	for (int i = 0; i < nview_products; i++)
		if (strcmp(view_products[i].view, view) == 0)
			vp = &view_products[i];

	/*
	 * A relation of dp_consumer that is not a published view (made by hand)
	 * belongs to no product: only an agreement over every product covers
	 * it.
	 */
	d->nproducts = vp ? vp->nproducts : 1;
	d->pii = true;
	d->all_rows = true;
	d->allowed = true;
	if (d->nproducts > MAX_PRODUCTS)
	{
		/* more products than a decision holds: refused, never half-checked */
		d->allowed = d->pii = d->all_rows = false;
		d->missing = vp->products[MAX_PRODUCTS];
		d->nproducts = 0;
		d->pstart[0] = 0;
		return d;
	}
	for (int p = 0; p < d->nproducts; p++)
	{
		const char *product = vp ? vp->products[p] : unknown[0];
		bool		pii = false;
		bool		all_rows = false;

		d->pstart[p] = ncover;
		for (int i = 0; i < nagreements && ncover < MAX_COVER; i++)
		{
			DpAgreement *a = &agreements[i];

			if (!covers(a, reader, view, product, now))
				continue;
			d->cover[ncover++] = i;
			pii |= a->pii;
			all_rows |= (a->nscope == 0);
			for (int s = 0; s < a->nscope; s++)
			{
				bool		known = false;

				for (int c = 0; c < d->ncols && !known; c++)
					known = strcmp(d->cols[c], a->scope_col[s]) == 0;
				if (!known && d->ncols < MAX_SCOPE_COLS)
					d->cols[d->ncols++] = a->scope_col[s];
			}
		}
		if (ncover == d->pstart[p])
		{
			d->allowed = false;
			d->missing = product ? product : "(not a published view)";
			d->pii = false;
			break;
		}
		d->pii &= pii;
		d->all_rows &= all_rows;
	}
	d->pstart[d->nproducts] = ncover;
	if (!d->allowed)
		d->all_rows = false;
	return d;
}

/*
 * The descriptor of a row type, copied into cache_cxt once per reload (a
 * few published tables' row types), so that the per-row check takes no
 * reference.
 */
#define MAX_ROW_DESCS	8
static Oid	row_desc_type[MAX_ROW_DESCS];
static TupleDesc row_desc_desc[MAX_ROW_DESCS];
static uint64 row_desc_generation = 0;

static TupleDesc
row_desc(Oid rowtype, int32 typmod)
{
	static int	next = 0;
	TupleDesc	cached;
	MemoryContext old;
	int			i;

	if (row_desc_generation != cache_generation)
	{
		memset(row_desc_type, 0, sizeof(row_desc_type));
		row_desc_generation = cache_generation;
	}
	for (i = 0; i < MAX_ROW_DESCS; i++)
		if (row_desc_type[i] == rowtype)
			return row_desc_desc[i];
	i = next;
	next = (next + 1) % MAX_ROW_DESCS;
	if (OidIsValid(row_desc_type[i]))
		FreeTupleDesc(row_desc_desc[i]);
	cached = lookup_rowtype_tupdesc(rowtype, typmod);
	old = MemoryContextSwitchTo(cache_cxt);
	row_desc_desc[i] = CreateTupleDescCopy(cached);
	MemoryContextSwitchTo(old);
	ReleaseTupleDesc(cached);
	row_desc_type[i] = rowtype;
	return row_desc_desc[i];
}

/* Whether a row of the view's table is in a's row scope. */
static bool
row_in_scope(const DpAgreement *a, DpDecision *d, HeapTupleHeader row)
{
	HeapTupleData tuple;
	TupleDesc	td;
	Oid			rowtype = HeapTupleHeaderGetTypeId(row);
	bool		in = true;

	if (a->nscope == 0)
		return true;
	td = row_desc(rowtype, HeapTupleHeaderGetTypMod(row));
	if (d->rowtype != rowtype)
	{
		/* resolve the scoped columns against this row type, once */
		for (int c = 0; c < d->ncols; c++)
		{
			d->attnum[c] = InvalidAttrNumber;
			for (int k = 0; k < td->natts; k++)
			{
				Form_pg_attribute att = TupleDescAttr(td, k);

				if (!att->attisdropped && strcmp(NameStr(att->attname), d->cols[c]) == 0)
				{
					Oid			fn;
					bool		varlena;

					getTypeOutputInfo(att->atttypid, &fn, &varlena);
					fmgr_info_cxt(fn, &d->out[c], cache_cxt);
					d->attnum[c] = att->attnum;
				}
			}
		}
		d->rowtype = rowtype;
	}
	tuple.t_len = HeapTupleHeaderGetDatumLength(row);
	ItemPointerSetInvalid(&tuple.t_self);
	tuple.t_tableOid = InvalidOid;
	tuple.t_data = row;

	/* every scoped column holds one of its values */
	for (int s = 0; s < a->nscope && in;)
	{
		const char *col = a->scope_col[s];
		int			c = 0;
		bool		match = false;
		char	   *text = NULL;

		while (c < d->ncols && strcmp(d->cols[c], col) != 0)
			c++;
		if (c < d->ncols && d->attnum[c] != InvalidAttrNumber)
		{
			bool		isnull;
			Datum		v = heap_getattr(&tuple, d->attnum[c], td, &isnull);

			if (!isnull)
				text = OutputFunctionCall(&d->out[c], v);
		}
		for (; s < a->nscope && strcmp(a->scope_col[s], col) == 0; s++)
			if (text && !match && strcmp(a->scope_val[s], text) == 0)
				match = true;
		in = match;
	}
	return in;
}

/* The reader's decision for a view named by a text argument. */
static DpDecision *
decision_for(text *view_text)
{
	char		view[NAMEDATALEN];
	Oid			reader = GetOuterUserId();
	TimestampTz stmt = GetCurrentStatementStartTimestamp();

	text_to_cstring_buffer(view_text, view, sizeof(view));
	/* per row: the decision of this statement, without looking again */
	if (cache_valid)
		for (int i = 0; i < MAX_DECISIONS; i++)
		{
			DpDecision *d = &decisions[i];

			if (d->used && d->reader == reader && d->stmt == stmt &&
				d->generation == cache_generation && strcmp(d->view, view) == 0)
				return d;
		}
	ensure_cache();
	return decide(view, reader, GetCurrentTimestamp(), false);
}

/*
 * sees_pii(view): whether the reader sees real values of the view's PII
 * columns: an admin, or an agreement with pii for every product the view
 * reads.
 */
Datum
dp_sees_pii_view(PG_FUNCTION_ARGS)
{
	DpDecision *d = decision_for(PG_GETARG_TEXT_PP(0));

	PG_RETURN_BOOL(d->allowed && d->pii);
}

/*
 * in_scope(view, row): whether a row of the view's table is visible to the
 * reader: for every product, one of the agreements covering the view has
 * no row scope or holds the row in it.  Never an error: rows outside are
 * hidden.
 */
Datum
dp_in_scope(PG_FUNCTION_ARGS)
{
	DpDecision *d = decision_for(PG_GETARG_TEXT_PP(0));
	HeapTupleHeader row;

	if (d->all_rows)
		PG_RETURN_BOOL(d->allowed);
	if (!d->allowed || PG_ARGISNULL(1))
		PG_RETURN_BOOL(false);
	row = PG_GETARG_HEAPTUPLEHEADER(1);
	for (int p = 0; p < d->nproducts; p++)
	{
		bool		in = false;

		for (int i = d->pstart[p]; i < d->pstart[p + 1] && !in; i++)
			in = row_in_scope(&agreements[d->cover[i]], d, row);
		if (!in)
			PG_RETURN_BOOL(false);
	}
	PG_RETURN_BOOL(true);
}

/* Whether a dp_consumer view was published as a security barrier view. */
static bool
is_barrier_view(Oid relid)
{
	Relation	rel = RelationIdGetRelation(relid);
	bool		barrier;

	if (!RelationIsValid(rel))
		return false;
	barrier = rel->rd_rel->relkind == RELKIND_VIEW && RelationIsSecurityView(rel);
	RelationClose(rel);
	return barrier;
}

static void
remember(Oid relid, const DpDecision *d)
{
	StringInfoData buf;

	if (nchecked >= MAX_CHECKED)
		return;
	checked_rel[nchecked] = relid;
	checked_ids[nchecked][0] = '\0';
	if (!d->exempt)
	{
		initStringInfo(&buf);
		for (int i = 0; i < d->pstart[d->nproducts]; i++)
		{
			int64		id = agreements[d->cover[i]].id;
			bool		dup = false;

			for (int k = 0; k < i && !dup; k++)
				dup = agreements[d->cover[k]].id == id;
			if (!dup)
				appendStringInfo(&buf, "%s" INT64_FORMAT, buf.len ? "," : "", id);
		}
		strlcpy(checked_ids[nchecked], buf.data, DP_AGREEMENT_IDS_LEN);
		pfree(buf.data);
	}
	nchecked++;
}

void
dp_agreement_ids_for(Oid relid, char *buf, Size len)
{
	buf[0] = '\0';
	for (int i = 0; i < nchecked; i++)
		if (checked_rel[i] == relid)
			strlcpy(buf, checked_ids[i], len);
}

/*
 * ExecutorCheckPerms_hook: every dp_consumer relation the plan reads needs
 * an agreement (see the file header).
 */
static bool
agreement_check_perms(List *range_table, bool ereport_on_violation)
{
	bool		result = true;
	Oid			consumer;
	Oid			reader = InvalidOid;
	ListCell   *lc;

	if (prev_ExecutorCheckPerms_hook)
		result = prev_ExecutorCheckPerms_hook(range_table, ereport_on_violation);
	if (!result || loading || IsParallelWorker() || !IsTransactionState())
		return result;
	nchecked = 0;
	consumer = get_namespace_oid("dp_consumer", true);
	if (!OidIsValid(consumer))
		return result;
	foreach(lc, range_table)
	{
		RangeTblEntry *rte = lfirst_node(RangeTblEntry, lc);
		char	   *relname;
		DpDecision *d;

		if (rte->rtekind != RTE_RELATION || !(rte->requiredPerms & ACL_SELECT) ||
			(rte->requiredPerms & (ACL_INSERT | ACL_UPDATE | ACL_DELETE)) ||
			get_rel_namespace(rte->relid) != consumer)
			continue;
		relname = get_rel_name(rte->relid);
		if (relname == NULL)
			continue;
		if (!OidIsValid(reader))
		{
			reader = GetOuterUserId();
			ensure_cache();
			if (!cache_present)
				return result;	/* a 0.1 schema: no agreements yet */
		}
		d = decide(relname, reader, GetCurrentTimestamp(), true);
		if (d->allowed && !d->all_rows && !is_barrier_view(rte->relid))
		{
			/* a view published before 0.2 cannot apply a row scope */
			if (!ereport_on_violation)
				return false;
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("permission denied for view dp_consumer.%s: it cannot apply the row scope of the agreement",
							quote_identifier(relname)),
					 errdetail("The view was published before dataplatform 0.2."),
					 errhint("An administrator publishes it again with dataplatform.publish(name, source, '{\"replace\": true}').")));
		}
		if (!d->allowed)
		{
			if (!ereport_on_violation)
				return false;
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("permission denied for view dp_consumer.%s: role \"%s\" has no active access agreement for data product \"%s\"",
							quote_identifier(relname), GetUserNameFromId(reader, false), d->missing),
					 errdetail("Reading a published view needs an approved agreement covering it that has not expired or been revoked, for every data product it reads."),
					 errhint("Ask for one with dataplatform.request_access('%s', purpose, valid_until); an administrator approves it.",
							 d->missing)));
		}
		remember(rte->relid, d);
	}
	return result;
}

void
dp_agreement_init(void)
{
	prev_ExecutorCheckPerms_hook = ExecutorCheckPerms_hook;
	ExecutorCheckPerms_hook = agreement_check_perms;
	CacheRegisterRelcacheCallback(relcache_callback, (Datum) 0);
}

/*
 * Statement trigger on dataplatform.agreement and consumer_source: every
 * backend reloads its agreements once this transaction commits.
 */
Datum
dp_agreement_changed(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("agreement_changed must be called as a trigger")));
	CacheInvalidateRelcacheByRelid(RelationGetRelid(td->tg_relation));
	cache_valid = false;
	return PointerGetDatum(NULL);
}
