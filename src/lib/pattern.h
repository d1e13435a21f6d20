/*
 * pattern.h
 *		Compiled POSIX extended regular expressions for the spec's "pattern"
 *		constraint and the configuration's skip, filter and patch rules.
 *		Pure C (the C library's <regex.h>), no backend calls.
 *
 * Opaque on purpose: PostgreSQL's regex/regex.h #defines regex_t to its own
 * pg_regex_t, so this header must not mention regex_t.  The caller provides
 * dp_pattern_size() bytes (palloc is fine), compiles once, and calls
 * dp_pattern_free() when done (the C library allocates internally with
 * malloc).
 */
#ifndef DP_PATTERN_H
#define DP_PATTERN_H

#include <stdbool.h>
#include <stddef.h>

typedef struct DpPattern DpPattern;

extern size_t dp_pattern_size(void);

/*
 * Compile regex.  icase: match ignoring case; capture: keep subexpressions
 * for dp_pattern_expand.  false on a bad expression, with the C library's
 * message in errbuf.
 */
extern bool dp_pattern_compile_ex(DpPattern *p, const char *regex, bool icase,
								  bool capture, char *errbuf, size_t errlen);

/* Case-sensitive, no captures: the spec's "pattern" constraint. */
extern bool dp_pattern_compile(DpPattern *p, const char *regex,
							   char *errbuf, size_t errlen);
extern void dp_pattern_free(DpPattern *p);

/* Whether the NUL-terminated value matches somewhere (unanchored). */
extern bool dp_pattern_match(const DpPattern *p, const char *value);

/*
 * Patch rule semantics (as digital-land's patch phase, Python re.match):
 * when the pattern (compiled with capture) matches at the start of value,
 * write replacement to out with \0..\9 replaced by the captured groups
 * (a group that did not take part gives ""; "\\" gives a backslash) and
 * return the length needed excluding the NUL (like snprintf: grow and call
 * again when >= outcap).  Returns -1 when the pattern does not match at the
 * start.
 */
extern long dp_pattern_expand(const DpPattern *p, const char *value,
							  const char *replacement, char *out, size_t outcap);

#endif							/* DP_PATTERN_H */
