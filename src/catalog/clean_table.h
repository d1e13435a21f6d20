/*
 * clean_table.h
 *		DDL of a dataset's clean table dp_clean.<t>, history table
 *		dp_clean.<t>_history (partitioned) and removed keys
 *		dp_clean.<t>_removed.
 */
#ifndef DP_CLEAN_TABLE_H
#define DP_CLEAN_TABLE_H

#include "spec.h"

/* Create both tables for a new dataset (caller is connected to SPI). */
extern void dp_clean_table_create(const DpSpec *spec);

/*
 * Bring both tables from old to spec: add, drop (clean table only; history
 * keeps every column it ever had), retype, change nullability and the key.
 * An impossible migration is an ERROR naming the dataset, the field and a
 * bad value.  Caller is connected to SPI and holds the dataset lock.
 */
extern void dp_clean_table_migrate(const DpSpec *old, const DpSpec *spec);

/*
 * Give both tables the lineage column _row when they lack it (tables of a
 * dataset restored from a dump of version 0.1 into 0.2: ALTER EXTENSION
 * UPDATE has nothing to do then).  Cheap when the column is there (a
 * syscache lookup); otherwise an ALTER TABLE (a nullable column without a
 * default: no rewrite).  Caller is connected to SPI and holds the dataset
 * lock.
 */
extern void dp_clean_table_ensure_lineage(const DpSpec *spec);

/*
 * Make a history table of version 0.1 (an identity, not partitioned)
 * partitioned by range of _closed_by_batch, its rows in one partition
 * from MINVALUE; nothing when it is partitioned already.  Caller is
 * connected to SPI and holds the dataset lock.
 */
extern void dp_clean_table_partition_history(const DpSpec *spec);

#endif							/* DP_CLEAN_TABLE_H */
