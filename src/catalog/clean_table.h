/*
 * clean_table.h
 *		DDL of a dataset's clean table dp_clean.<t> and history table
 *		dp_clean.<t>_history.
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

#endif							/* DP_CLEAN_TABLE_H */
