/*
 * partition.h
 *		The append-only tables partitioned by batch-id or time range
 *		(dataplatform.partition_rule): their partitions made on demand by
 *		the writer, ahead by the worker, dropped whole by retention, and
 *		the event trigger that refuses dropping or detaching one otherwise.
 */
#ifndef DP_PARTITION_H
#define DP_PARTITION_H

#include "postgres.h"

#include "lib/stringinfo.h"

/*
 * Make sure schema.table (partitioned by range of one bigint column) has a
 * partition holding value; creates it (ShareUpdateExclusiveLock on the
 * parent until the end of the transaction) when it has none.  Connected
 * to SPI.  Costs a relcache lookup when the partition exists.
 */
extern void dp_partition_ensure(const char *schema, const char *table, int64 value);

/*
 * The partition a row keyed value lands in (made when there is none): its
 * name, in schema.  Connected to SPI.
 */
extern char *dp_partition_for(const char *schema, const char *table, int64 value);

/*
 * The worker's pass: for every rule, the partition holding the last batch
 * id handed out and the next one.  Starts and commits its own transaction.
 * Returns how many partitions it created.
 */
extern int	dp_partition_create_ahead(void);

/*
 * apply_retention's pass (connected to SPI): detach and drop every
 * partition of every rule whose whole batch-id range was handed out and
 * whose batches are all past their product's retention (a history
 * table's: that holds no version ending at or after its dataset's
 * retention cutoff); appends a JSON
 * array of what it dropped to report.  Returns the count dropped.
 */
extern int	dp_partition_drop_expired(StringInfo report);

/*
 * purge_audit's pass for a table partitioned by time (connected to SPI):
 * detach and drop every partition whose range ends at or before cutoff (a
 * timestamptz); appends a JSON array of what it dropped to report and
 * adds the rows they held to *rows.  Returns the count dropped.
 */
extern int	dp_partition_drop_before(const char *schema, const char *table, int64 cutoff,
									 StringInfo report, int64 *rows);

/*
 * <table><suffix> as a relation name: the table's name cut short so that
 * the whole fits in NAMEDATALEN - 1 bytes.  palloc'd.
 */
extern char *dp_partition_name(const char *table, const char *suffix);

#endif							/* DP_PARTITION_H */
