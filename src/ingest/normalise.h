/*
 * normalise.h
 *		Backend helpers around the harmonise library.
 */
#ifndef DP_NORMALISE_H
#define DP_NORMALISE_H

#include "postgres.h"

#include "harmonise.h"

/* Today as days since 1970-01-01, for far-future-date checks. */
extern int32 dp_today_days(void);

/*
 * Harmonise one value into *buf, growing it (in mcxt) until the value fits;
 * returns the issue, DP_ISSUE_NONE when the value is good.
 */
extern DpIssue dp_harmonise_value(DpDatatype dt, const char *in, size_t len,
								  const DpConstraints *c, char **buf,
								  size_t *bufsize, MemoryContext mcxt);
/* dp_harmonise_value, also giving the notes and the value's length (*outlen) */
extern DpIssue dp_harmonise_value_noted(DpDatatype dt, const char *in, size_t len,
										const DpConstraints *c, char **buf,
										size_t *bufsize, MemoryContext mcxt,
										unsigned *notes, size_t *outlen);

#endif							/* DP_NORMALISE_H */
