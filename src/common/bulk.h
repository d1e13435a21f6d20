/*
 * bulk.h
 *		Writing rows into a table the way COPY does, and finding keys through
 *		an index, without SQL (bulk.c).
 *
 * A DpBulk holds a relation opened for insertion with its indexes, an
 * executor state for index insertion and constraint checks, and a buffer
 * of slots written with the table AM's multi-insert.  A DpProbe answers
 * "is this key stored?" through the table's primary key index.  Both live
 * in the memory context current at their creation and must be ended in the
 * same transaction (subtransaction) that created them.
 */
#ifndef DP_BULK_H
#define DP_BULK_H

#include "postgres.h"

#include "access/attnum.h"
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

/* The attribute number of a column, or an ERROR naming it. */
extern AttrNumber dp_bulk_attnum(DpBulk *b, const char *column);

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

/* Write what is buffered, close the relation; returns the rows written. */
extern uint64 dp_bulk_end(DpBulk *b);

/*
 * Probes of schema.table's primary key.  Probes see the transaction's own
 * earlier writes (the caller holds a lock that keeps other writers out).
 * key_atts are the table's attribute numbers of the key columns, in the
 * order of the index's columns.
 */
extern DpProbe *dp_probe_begin(const char *schema, const char *table);
extern int	dp_probe_nkeys(DpProbe *p);
extern const char *dp_probe_key_column(DpProbe *p, int i);
extern Datum dp_probe_input(DpProbe *p, int i, const char *text);
extern bool dp_probe_exists(DpProbe *p, const Datum *key);
extern void dp_probe_end(DpProbe *p);

#endif							/* DP_BULK_H */
