/*
 * staging.c
 *		Change events outside production: the PII fields of each envelope's
 *		data replaced by tokens before anything is stored, exactly as a push
 *		replaces them (src/ingest/obfuscate.c), so that staging can run the
 *		real event feed.
 *
 * apply_events calls dp_events_obfuscate on the whole delivery before it
 * lands in dp_raw; everything after (the event log, orphans, history,
 * issues, clean state) reads the rewritten envelopes, so no value of a PII
 * field is stored anywhere and replays never obfuscate twice.  Rewritten:
 * the objects at the configured new-data and old-data paths (member by
 * member through the dataset's column mapping, as dp_obfuscate_rows does
 * for a pushed row) and the entity id when the key field is PII (the same
 * token a push of that key gives, so events find the rows snapshots and
 * pushes stored).  Other envelope members are not fields of the spec and
 * stay as sent.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "miscadmin.h"
#include "utils/memutils.h"

#include "events.h"
#include "obfuscate.h"

/* env with the value at path replaced by repl (the path exists). */
static Jsonb *
set_path(Jsonb *env, const DpPath *path, Jsonb *repl)
{
	Datum	   *parts = palloc(sizeof(Datum) * path->n);
	ArrayType  *arr;

	for (int i = 0; i < path->n; i++)
		parts[i] = CStringGetTextDatum(path->parts[i]);
	arr = construct_array(parts, path->n, TEXTOID, -1, false, TYPALIGN_INT);
	return DatumGetJsonbP(DirectFunctionCall4(jsonb_set, JsonbPGetDatum(env),
											  PointerGetDatum(arr), JsonbPGetDatum(repl),
											  BoolGetDatum(false)));
}

/* The object at path of env with its PII members replaced, when there is one. */
static Jsonb *
obfuscate_data(EventRun *run, Jsonb *env, const DpPath *path)
{
	JsonbValue *v;

	if (path->n == 0)
		return env;
	v = dp_events_path_value(&env->root, path);
	if (v == NULL || v->type != jbvBinary || !JsonContainerIsObject(v->val.binary.data))
		return env;				/* nothing to hide (a bad envelope is rejected later) */
	return set_path(env, path, dp_obfuscate_rows(run->load->t, JsonbValueToJsonb(v)));
}

/* The entity id's token, when the key field is PII and the id a scalar. */
static Jsonb *
obfuscate_entity(EventRun *run, Jsonb *env)
{
	const DpField *kf = &run->load->spec->fields[run->keyfield];
	const DpPath *path = &run->ec->entity;
	JsonbValue *v;
	char	   *text;
	char	   *token;
	JsonbValue	tv;

	if (!kf->pii || path->n == 0)
		return env;
	v = dp_events_path_value(&env->root, path);
	if (v == NULL)
		return env;
	if (v->type == jbvString)
		text = pnstrdup(v->val.string.val, v->val.string.len);
	else if (v->type == jbvNumeric)
		text = DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v->val.numeric)));
	else
		return env;
	token = dp_obfuscate_cell(kf, text, strlen(text));
	if (token == NULL)
		return env;
	tv.type = jbvString;
	tv.val.string.val = token;
	tv.val.string.len = strlen(token);
	return set_path(env, path, JsonbValueToJsonb(&tv));
}

Jsonb *
dp_events_obfuscate(EventRun *run, Jsonb *events)
{
	DpLoad	   *load = run->load;
	MemoryContext old;
	JsonbIterator *it;
	JsonbIteratorToken tok;
	JsonbValue	v;
	JsonbParseState *st = NULL;
	JsonbValue *res = NULL;

	if (load->synthetic || !dp_obfuscation_needed(load->spec))
		return events;
	old = MemoryContextSwitchTo(load->cxt);
	res = pushJsonbValue(&st, WJB_BEGIN_ARRAY, NULL);
	it = JsonbIteratorInit(&events->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok != WJB_ELEM)
			continue;
		if (v.type == jbvBinary && JsonContainerIsObject(v.val.binary.data))
		{
			Jsonb	   *env = JsonbValueToJsonb(&v);
			JsonbValue	ev;

			env = obfuscate_data(run, env, &run->ec->new_data);
			env = obfuscate_data(run, env, &run->ec->old_data);
			env = obfuscate_entity(run, env);
			ev.type = jbvBinary;
			ev.val.binary.data = &env->root;
			ev.val.binary.len = VARSIZE(env) - VARHDRSZ;
			res = pushJsonbValue(&st, WJB_ELEM, &ev);
		}
		else
			res = pushJsonbValue(&st, WJB_ELEM, &v);
		CHECK_FOR_INTERRUPTS();
	}
	res = pushJsonbValue(&st, WJB_END_ARRAY, NULL);
	events = JsonbValueToJsonb(res);
	MemoryContextSwitchTo(old);
	return events;
}
