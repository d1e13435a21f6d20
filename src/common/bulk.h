/*
 * bulk.h
 *		Writing rows into a table the way COPY does, and finding keys through
 *		an index, without SQL (bulk.c).
 *
 * A DpBulk holds a relation opened for insertion with its indexes, an
 * executor state for index insertion and constraint checks, and a buffer
 * of slots written with the table AM's multi-insert; it also updates and
 * deletes rows a probe found.  A DpProbe answers "is this key stored, and
 * what does the row hold?" through the table's primary key index or
 * another btree index.  Both live
 * in the memory context current at their creation and must be ended in the
 * same transaction (subtransaction) that created them.
 */
#ifndef DP_BULK_H
#define DP_BULK_H

#include "postgres.h"

#include "access/attnum.h"
#include "storage/itemptr.h"
#include "executor/tuptable.h"
#include "fmgr.h"
#include "utils/relcache.h"

typedef struct DpBulk DpBulk;
typedef struct DpProbe DpProbe;

/*
 * Open schema.table for insertion (RowExclusiveLock, or what the caller
 * already holds).  The table must have no insert triggers.
 */
extern DpBulk *dp_bulk_begin(const char *schema, const char *table);

/*
 * The attribute number of a column, or an ERROR naming it; the number of
 * attributes (dropped ones included).
 */
extern AttrNumber dp_bulk_attnum(DpBulk *b, const char *column);
extern int	dp_bulk_natts(DpBulk *b);

/*
 * The next slot to fill: every value NULL.  Set values with
 * dp_bulk_set_text / dp_bulk_set_datum, then dp_bulk_store.
 */
extern TupleTableSlot *dp_bulk_slot(DpBulk *b);
extern void dp_bulk_set_text(DpBulk *b, AttrNumber att, const char *text);
extern void dp_bulk_set_datum(DpBulk *b, AttrNumber att, Datum value);
extern void dp_bulk_store(DpBulk *b);

/* The value of a column's type from its text form (the type's input function). */
extern Datum dp_bulk_input(DpBulk *b, AttrNumber att, const char *text);

/*
 * The same without the input function, for the canonical spellings of
 * uuid, date, timestamptz, boolean, bigint, numeric and text with type
 * modifier -1 (bulk_input.c): true and *result exactly what the input
 * function gives, or false (the caller uses the input function).  Memory
 * in CurrentMemoryContext.
 */
extern bool dp_bulk_fast_input(Oid typid, int32 typmod, const char *text, Datum *result);

/*
 * A column that takes its default (an identity, a clock) in every row
 * stored from now on where no value was set, as COPY fills the columns it
 * is not sent.
 */
extern void dp_bulk_default(DpBulk *b, AttrNumber att);

/*
 * Rows found by a probe (under a lock that keeps other writers out):
 * dp_bulk_update replaces the row at tid with the current slot (filled as
 * for dp_bulk_store; HOT when no indexed column changes, else new index
 * entries; unchanged, per attribute or NULL, names the columns known to
 * keep the stored value, whose indexes then skip the uniqueness check),
 * dp_bulk_delete deletes it.  The table must have no update (delete)
 * triggers.
 */
extern void dp_bulk_update(DpBulk *b, ItemPointer tid, const bool *unchanged);

/*
 * Record every row version this DpBulk writes (stores and updates) in the
 * change feed as written by batch_id of dataset (change_feed.c), when it
 * ends.  Every writer of a dataset's current table calls it.
 */
extern void dp_bulk_feed(DpBulk *b, const char *dataset, int64 batch_id);
extern void dp_bulk_delete(DpBulk *b, ItemPointer tid);

/*
 * Write what is buffered, close the relation; returns the rows written
 * (stored, updated and deleted).
 */
extern uint64 dp_bulk_end(DpBulk *b);

/*
 * Storing rows whose keys are probably new without probing for them first:
 * after dp_bulk_take_back, a stored row whose primary key is held by a row
 * already there is not an error: the index entries are made as always
 * (the insertion's own uniqueness check finds the conflict), and
 * dp_bulk_end_taken_back deletes the row again and hands back the tags
 * (dp_bulk_tag, set before dp_bulk_store) of such rows, *ntags of them,
 * for the caller to write another way.  Its return value counts only the
 * rows that stayed.  Call under a lock that keeps other writers out.
 */
extern void dp_bulk_take_back(DpBulk *b);
extern void dp_bulk_tag(DpBulk *b, int tag);
extern uint64 dp_bulk_end_taken_back(DpBulk *b, int **tags, int *ntags);

/*
 * Probes of schema.table's primary key, of any btree index schema.index
 * on its first nkeys key columns (0: all; a partial index finds only the
 * rows that match its predicate), or of a btree index of schema.table that
 * leads with column, on that column (a partitioned table: every leaf's
 * such index in turn, the rows in the parent's row type).  Probes see committed
 * rows and the transaction's own earlier writes (the caller holds a lock
 * that keeps other writers out).  Keys are given in the order of the
 * index's columns, as datums (dp_probe_input: from text).
 * dp_probe_begin_unique: through a unique btree index on exactly these
 * columns in this order (not partial, no expressions), or NULL if there
 * is none.
 */
extern DpProbe *dp_probe_begin(const char *schema, const char *table);
extern DpProbe *dp_probe_begin_index(const char *schema, const char *index, int nkeys);
extern DpProbe *dp_probe_begin_on(const char *schema, const char *table, const char *column);
extern DpProbe *dp_probe_begin_unique(const char *schema, const char *table, const char *const *columns,
									  int ncolumns);
extern int	dp_probe_nkeys(DpProbe *p);
extern const char *dp_probe_key_column(DpProbe *p, int i);
extern Datum dp_probe_input(DpProbe *p, int i, const char *text);
extern bool dp_probe_exists(DpProbe *p, const Datum *key);

/*
 * The first stored row with this key, or NULL; dp_probe_next the next one.
 * The slot (tts_tid: where the row is) is valid until the next call.
 * dp_probe_text gives a column of it as text (its output function, as a
 * cast to text does; NULL for SQL NULL), dp_probe_datum as a datum.
 */
extern TupleTableSlot *dp_probe_fetch(DpProbe *p, const Datum *key);
extern TupleTableSlot *dp_probe_next(DpProbe *p);
extern AttrNumber dp_probe_attnum(DpProbe *p, const char *column);
extern Oid	dp_probe_atttype(DpProbe *p, AttrNumber att);
extern char *dp_probe_text(DpProbe *p, AttrNumber att);
extern Datum dp_probe_datum(DpProbe *p, AttrNumber att, bool *isnull);
extern void dp_probe_end(DpProbe *p);

#endif							/* DP_BULK_H */
