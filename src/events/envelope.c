/*
 * envelope.c
 *		Reading change-event envelopes: the paths of the configuration
 *		("events"), the entity id harmonised to the key's type, the kind of
 *		change from the event type, and the ordering key from the event's
 *		time or sequence (see events.h for how keys order events).
 *
 * Nothing here touches a table: a bad envelope makes its event rejected,
 * never an error.
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/memutils.h"

#include "events.h"
#include "harmonise.h"
#include "normalise.h"
#include "util.h"

#define ORDER_FRACTION_DIGITS 12

/* ------------------------------------------------------------------------
 * Ordering keys
 * ------------------------------------------------------------------------
 */

/*
 * The ordering key of a time: the harmonised UTC time to the second, then
 * the fraction with every digit sent (padded to 12), then "Z": it sorts as
 * the times do.  NULL when the time does not read.  *utc gets the
 * harmonised value (microseconds) for _updated_at.
 */
char *
dp_events_time_order_key(const char *raw, char **utc)
{
	char	   *buf = NULL;
	size_t		bufsize = 0;
	char		frac[ORDER_FRACTION_DIGITS + 1];
	const char *dot;
	int			n = 0;
	const char *p;

	if (dp_harmonise_value(DP_DT_DATETIME, raw, strlen(raw), NULL, &buf, &bufsize,
						   CurrentMemoryContext) != DP_ISSUE_NONE || buf[0] == '\0')
		return NULL;
	*utc = pstrdup(buf);
	/* the harmonised fraction (at most 6 digits) */
	memset(frac, '0', ORDER_FRACTION_DIGITS);
	frac[ORDER_FRACTION_DIGITS] = '\0';
	dot = strchr(buf, '.');
	if (dot)
		for (p = dot + 1; *p >= '0' && *p <= '9' && n < ORDER_FRACTION_DIGITS; p++)
			frac[n++] = *p;
	/* more digits as sent, when they extend the same fraction */
	for (p = raw; *p; p++)
	{
		const char *q;
		int			len = 0;

		if ((*p != '.' && *p != ',') || p == raw || p[-1] < '0' || p[-1] > '9')
			continue;
		for (q = p + 1; *q >= '0' && *q <= '9'; q++)
			len++;
		if (len > 6 && (dot == NULL || strncmp(p + 1, dot + 1, 6) == 0))
		{
			for (n = 0; n < len && n < ORDER_FRACTION_DIGITS; n++)
				frac[n] = p[1 + n];
			break;
		}
	}
	return psprintf("%.19s.%sZ", buf, frac);
}

/* A sequence as an ordering key: a non-negative integer, zero-padded. */
static char *
sequence_order_key(const char *raw)
{
	char	   *end;
	long long	v;

	errno = 0;
	v = strtoll(raw, &end, 10);
	if (errno != 0 || end == raw || *end != '\0' || v < 0)
		return NULL;
	return psprintf("s%020lld", v);
}

/* ------------------------------------------------------------------------
 * Reading envelopes
 * ------------------------------------------------------------------------
 */

/* The value at a path of an object, or NULL. */
JsonbValue *
dp_events_path_value(JsonbContainer *obj, const DpPath *path)
{
	JsonbContainer *c = obj;
	JsonbValue *v = NULL;
	int			i;

	for (i = 0; i < path->n; i++)
	{
		JsonbValue	k;

		if (c == NULL || !JsonContainerIsObject(c))
			return NULL;
		k.type = jbvString;
		k.val.string.val = path->parts[i];
		k.val.string.len = strlen(path->parts[i]);
		v = findJsonbValueFromContainer(c, JB_FOBJECT, &k);
		if (v == NULL)
			return NULL;
		c = v->type == jbvBinary ? v->val.binary.data : NULL;
	}
	return v;
}

/* A scalar at a path as text; NULL when absent, null or not a scalar. */
static char *
path_text(JsonbContainer *obj, const DpPath *path)
{
	JsonbValue *v = dp_events_path_value(obj, path);

	if (v == NULL)
		return NULL;
	switch (v->type)
	{
		case jbvString:
			return pnstrdup(v->val.string.val, v->val.string.len);
		case jbvNumeric:
			return DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v->val.numeric)));
		case jbvBool:
			return pstrdup(v->val.boolean ? "true" : "false");
		default:
			return NULL;
	}
}

static bool
ends_with(const char *s, const char *suffix)
{
	size_t		n = strlen(s),
				m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

static bool
in_list(const char *s, char **list, int n)
{
	int			i;

	for (i = 0; i < n; i++)
		if (strcmp(s, list[i]) == 0)
			return true;
	return false;
}

/*
 * Read one envelope.  Problems make the event rejected (outcome set, with
 * a detail), never an error.
 */
void
dp_events_read_envelope(EventRun *run, Ev *ev, JsonbContainer *env)
{
	const DpEventsConfig *ec = run->ec;
	const DpField *kf = &run->load->spec->fields[run->keyfield];
	JsonbValue *nd;
	char	   *buf = NULL;
	size_t		bufsize = 0;

	if (!JsonContainerIsObject(env))
	{
		ev->outcome = "rejected";
		ev->detail = "the event is not a JSON object";
		return;
	}
	ev->id = path_text(env, &ec->id);
	ev->entity_raw = path_text(env, &ec->entity);
	ev->type = path_text(env, &ec->type);
	if (ev->type)
	{
		/* a feed repeats a few types: one copy and one text datum each */
		if (run->last_type == NULL || strcmp(run->last_type, ev->type) != 0)
		{
			run->last_type = MemoryContextStrdup(run->load->cxt, ev->type);
			run->last_type_d = (Datum) 0;
		}
		pfree(ev->type);
		ev->type = run->last_type;
		ev->type_d = dp_events_text_datum(run, &run->last_type_d, run->last_type);
	}
	ev->time_raw = path_text(env, &ec->time);
	if (ev->id == NULL || ev->id[0] == '\0')
	{
		ev->outcome = "rejected";
		ev->detail = psprintf("no event id at \"%s\"", ec->id.text);
		return;
	}
	if (ev->entity_raw == NULL || ev->entity_raw[0] == '\0')
	{
		ev->outcome = "rejected";
		ev->detail = psprintf("no entity id at \"%s\"", ec->entity.text);
		return;
	}
	if (dp_harmonise_value(kf->datatype, ev->entity_raw, strlen(ev->entity_raw), NULL,
						   &buf, &bufsize, CurrentMemoryContext) != DP_ISSUE_NONE || buf[0] == '\0')
	{
		ev->outcome = "rejected";
		ev->detail = psprintf("entity id \"%s\" is not a valid %s", ev->entity_raw,
							  dp_datatype_name(kf->datatype));
		return;
	}
	ev->entity = pstrdup(buf);
	if (ev->time_raw)
		ev->order_key = dp_events_time_order_key(ev->time_raw, &ev->time_utc);
	if (ec->sequence.n > 0)
	{
		char	   *seq = path_text(env, &ec->sequence);

		ev->order_key = seq ? sequence_order_key(seq) : NULL;
		if (ev->order_key == NULL)
		{
			ev->outcome = "rejected";
			ev->detail = seq ? psprintf("sequence \"%s\" is not a non-negative integer", seq) :
				psprintf("no sequence at \"%s\"", ec->sequence.text);
			return;
		}
	}
	else if (ev->time_raw == NULL)
	{
		ev->outcome = "rejected";
		ev->detail = psprintf("no event time at \"%s\"", ec->time.text);
		return;
	}
	else if (ev->order_key == NULL)
	{
		ev->outcome = "rejected";
		ev->detail = psprintf("event time \"%s\" does not read as a date and time", ev->time_raw);
		return;
	}

	/* the kind, from the type */
	if (ev->type && in_list(ev->type, ec->create, ec->ncreate))
		ev->kind = EV_CREATE;
	else if (ev->type && in_list(ev->type, ec->delete, ec->ndelete))
		ev->kind = EV_DELETE;
	else if (ev->type && in_list(ev->type, ec->update, ec->nupdate))
		ev->kind = EV_UPDATE;
	else if (ec->nupdate > 0 || ec->ncreate > 0 || ec->ndelete > 0)
	{
		if (ec->nupdate > 0)
		{
			ev->outcome = "rejected";
			ev->detail = psprintf("event type \"%s\" is not configured", ev->type ? ev->type : "");
			return;
		}
		ev->kind = EV_UPDATE;
	}
	else if (ev->type && ends_with(ev->type, "CreatedEvent"))
		ev->kind = EV_CREATE;
	else if (ev->type && ends_with(ev->type, "DeletedEvent"))
		ev->kind = EV_DELETE;
	else
		ev->kind = EV_UPDATE;

	nd = dp_events_path_value(env, &ec->new_data);
	if (nd != NULL && nd->type == jbvBinary && JsonContainerIsObject(nd->val.binary.data))
		ev->new_data = nd->val.binary.data;
	else if (ev->kind != EV_DELETE)
	{
		ev->outcome = "rejected";
		ev->detail = nd == NULL || nd->type == jbvNull ?
			psprintf("no new data at \"%s\"", ec->new_data.text) :
			psprintf("new data at \"%s\" is not a JSON object", ec->new_data.text);
		return;
	}

	/* what the rows of the event store, made once (beside the strings) */
	ev->entity_hash = dp_events_key_hash(ev->entity);
	ev->id_hash = dp_events_key_hash(ev->id);
	ev->id_d = CStringGetTextDatum(ev->id);
	ev->entity_d = CStringGetTextDatum(ev->entity);
	ev->key_d = CStringGetTextDatum(ev->order_key);
}
