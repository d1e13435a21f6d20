/*
 * util.h
 *		Backend helpers shared by the API modules: jansson <-> jsonb bridging,
 *		SPI execution with checked return codes, SQL text building.
 */
#ifndef DP_UTIL_H
#define DP_UTIL_H

#include "postgres.h"

#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/json.h"
#include "utils/jsonb.h"

/*
 * PostgreSQL's fmgrprotos.h declares the SQL function json_object(), and
 * jansson its constructor json_object(): include the backend's under another
 * name first.  Modules that use jansson include this header instead of
 * utils/builtins.h.
 */
#define json_object pg_json_object_sql
#include "utils/builtins.h"
#undef json_object
#include <jansson.h>

/* Install palloc-backed allocators for jansson (called from _PG_init). */
extern void dp_json_init(void);

/*
 * Parse a jsonb value with jansson.  Objects live in CurrentMemoryContext
 * (see dp_json_init), so an ERROR frees them; callers still json_decref on
 * the normal path.  Integers are read as reals (jansson's integers are 64
 * bits; jsonb's numbers are not); a number beyond a double's range is an
 * ERROR (22003) naming what, e.g. "the specification".
 */
extern json_t *dp_json_from_jsonb(Jsonb *jb, const char *what);

/* jansson value -> jsonb Datum, built directly (what jsonb_in makes of its text). */
extern Datum dp_json_to_jsonb(json_t *value);

/*
 * A new empty JSON object.  Never call jansson's json_object() from here:
 * the server exports an SQL function of that name, which the dynamic
 * linker binds first, and calling it crashes the backend.
 */
extern json_t *dp_json_new_object(void);

/* Name of a jansson value's type, for error messages ("an object", ...). */
extern const char *dp_json_type_name(const json_t *value);

/*
 * Run one SQL statement through SPI (caller is connected).  Parameters are
 * as given; nulls as for SPI_execute_with_args.  Always read-write, so each
 * statement sees what the previous ones of the same call wrote.  Raises on
 * any SPI failure; returns SPI_processed.
 */
extern uint64 dp_spi_exec(const char *sql, int nargs, Oid *types,
						  Datum *values, const char *nulls);

/* Same, all parameters text (NULL pointers become SQL NULLs). */
extern uint64 dp_spi_exec_text(const char *sql, int nargs, const char **args);

/*
 * Run every statement (text, first column) that sql (text parameters)
 * returns, in order: DDL made by a query.  The statements are read first,
 * as each one run replaces the query's result.
 */
extern void dp_spi_exec_returned(const char *sql, int nargs, const char **args);

/*
 * The same two for a statement the data path runs on every call: its plan
 * is prepared once per backend and kept (SPI_keepplan; the plan cache
 * re-plans it after DDL).  Only for constant SQL text (a literal): a
 * backend keeps at most a few dozen such plans, other texts run unkept.
 */
extern uint64 dp_spi_exec_kept(const char *sql, int nargs, Oid *types,
							   Datum *values, const char *nulls);
extern uint64 dp_spi_exec_text_kept(const char *sql, int nargs, const char **args);

/*
 * The kept plan of such a statement, prepared on first use; NULL when the
 * backend keeps as many as it may (run the text unkept then).  For callers
 * that execute it themselves (e.g. under a snapshot of their own).
 */
extern SPIPlanPtr dp_spi_kept_plan(const char *sql, int nargs, Oid *types);

/* Text value of column col (1-based) of result row row; NULL if SQL NULL. */
extern char *dp_spi_getvalue(uint64 row, int col);

/*
 * Argument n of an API function as a C string; an ERROR (22004) naming the
 * argument when it is NULL.  Works for text and name arguments.
 */
extern char *dp_arg_cstring(FunctionCallInfo fcinfo, int n, const char *argname);

/*
 * Compile a regular expression into a DpPattern that lives in
 * CurrentMemoryContext: the C library's internal allocations are released
 * by a reset callback when the context goes, on error paths too.  NULL when
 * the expression is bad, with the C library's message in errbuf.
 */
struct DpPattern;
extern struct DpPattern *dp_pattern_in_context(const char *regex, bool icase, bool capture,
											   char *errbuf, size_t errlen);

/*
 * Run fn(arg) in a subtransaction of its own, with CurrentMemoryContext
 * (the caller's) current inside it.  fn returns true to keep its work (the
 * subtransaction is released) or false to undo it (rolled back).  On an
 * ERROR the subtransaction is rolled back and the error, copied into the
 * caller's memory context, is returned (the error state is flushed; the
 * caller records, frees or re-throws it); NULL when fn returned.  Either
 * way the caller's memory context and resource owner are current again.
 * The caller's SPI connection stays open (one made inside fn and left open
 * by an error is closed by the rollback).
 */
extern ErrorData *dp_try_in_subxact(bool (*fn) (void *arg), void *arg);

/*
 * A transaction of a background process (the worker, outside any
 * transaction): started, connected to SPI, with a snapshot and activity
 * shown in pg_stat_activity.  bounded: the worker's own bookkeeping, which
 * gives up on a lock after 200 ms rather than take part in a deadlock (the
 * next tick tries again).  dp_bg_xact_end commits it, reports the
 * process's statistics and shows it idle.
 */
extern void dp_bg_xact_begin(const char *activity, bool bounded);
extern void dp_bg_xact_end(void);

/* Append "schema"."name" quoted. */
extern void dp_append_qualified(StringInfo buf, const char *schema, const char *name);



/*
 * Form the function's composite result from row 0 of the last SPI result,
 * whose columns match the declared result type.  The tuple is built in
 * result_cxt (the context current before SPI_connect).
 */
extern Datum dp_spi_row_as_result(FunctionCallInfo fcinfo, MemoryContext result_cxt);

#endif							/* DP_UTIL_H */
