/*
 * freshness.h
 *		Marking datasets late against their spec's "fresh_within" (freshness.c).
 */
#ifndef DP_FRESHNESS_H
#define DP_FRESHNESS_H

/*
 * In a transaction of its own (the background worker, outside any
 * transaction): mark late datasets, clear the others; returns the datasets
 * newly late.
 */
extern int	dp_freshness_mark(void);

#endif							/* DP_FRESHNESS_H */
