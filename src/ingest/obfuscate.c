/*
 * obfuscate.c
 *		PII obfuscation outside production: the environment setting, the
 *		keyed token of a value, and the rewriting of a payload before it
 *		lands anywhere.
 *
 * dataplatform.environment (development | staging | production) says what
 * kind of data a database may hold.  Outside production, every value of a
 * field marked "pii" in the dataset's spec is replaced, as the payload
 * arrives and before anything is written (raw, clean, history, issues,
 * quarantine), by a token: HMAC-SHA256 of the value (trimmed) under
 * dataplatform.obfuscation_key.  The same value gives the same token, in
 * every dataset, so keys and joins still work; without the key nobody can
 * recompute a token from a guessed value.  Tokens keep the field's
 * datatype where one can:
 *
 *	string, text	"tok_" and 24 hex digits (and "@obfuscated.invalid" when
 *					the value has an "@": e-mail addresses keep their shape)
 *	url				https://obfuscated.invalid/<24 hex digits>
 *	integer, decimal a whole number below 10^12
 *	flag			true or false, from the token
 *	uuid			a version-4-shaped uuid from the token
 *	date, datetime	generalised to 1 January of its year (a value that is
 *					not a date becomes a "tok_" token, and an issue)
 *	json			leaf by leaf, keeping the structure: strings become
 *					"tok_" tokens, numbers whole-number tokens; true, false
 *					and null stay
 *
 * Empty values (and the spellings of "no value") stay as they are: there
 * is nothing to hide, and a missing value must stay missing.
 *
 * Raw batches are stored as obfuscated, so rebuild and asynchronous
 * processing replay tokens and never obfuscate twice.
 *
 * The same tokens mask PII columns of published views for consumers
 * granted without pii (dataplatform.mask, dataplatform.sees_pii), in every
 * environment.
 */
#include "postgres.h"

#include "access/xact.h"
#include "common/hmac.h"
#include "common/cryptohash.h"
#include "common/sha2.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"

#include "access.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "utils/lsyscache.h"
#include "utils/resowner.h"

#include "normalise.h"
#include "obfuscate.h"
#include "util.h"

/* after the server headers: jansson's json_typeof is a macro */
#include <jansson.h>


static const char *
environment_name(void)
{
	return dp_environment == DP_ENV_STAGING ? "staging" :
		dp_environment == DP_ENV_PRODUCTION ? "production" : "development";
}

bool
dp_obfuscation_needed(const DpSpec *spec)
{
	int			i;
	bool		has_pii = false;

	if (dp_environment == DP_ENV_PRODUCTION)
		return false;
	for (i = 0; i < spec->nfields; i++)
		has_pii |= spec->fields[i].pii;
	if (!has_pii)
		return false;
	if (dp_obfuscation_key == NULL || dp_obfuscation_key[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("dataset \"%s\" has PII fields and dataplatform.obfuscation_key is not set",
						spec->dataset),
				 errdetail("In the %s environment PII values are obfuscated before they are stored; "
						   "without a key they would be stored in clear.", environment_name()),
				 errhint("A superuser sets dataplatform.obfuscation_key (ALTER SYSTEM, then "
						 "pg_reload_conf()), or dataplatform.environment = 'production' where real data belongs.")));
	return true;
}

/* The key tokens are made with: the obfuscation key, or mask()'s. */
static const char *token_key = NULL;

/*
 * One HMAC context per transaction, made on first use under the top
 * transaction's resource owner and freed before commit (or by the resource
 * owner on abort): making and freeing one per value cost a third of a push.
 */
static pg_hmac_ctx *xact_hmac = NULL;
static bool xact_callback_registered = false;

static void
hmac_xact_callback(XactEvent event, void *arg)
{
	(void) arg;
	if (xact_hmac == NULL)
		return;
	if (event == XACT_EVENT_PRE_COMMIT || event == XACT_EVENT_PARALLEL_PRE_COMMIT ||
		event == XACT_EVENT_PRE_PREPARE)
	{
		pg_hmac_free(xact_hmac);
		xact_hmac = NULL;
	}
	else if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT ||
			 event == XACT_EVENT_COMMIT || event == XACT_EVENT_PARALLEL_COMMIT ||
			 event == XACT_EVENT_PREPARE)
		xact_hmac = NULL;		/* released with the transaction's resources */
}

static pg_hmac_ctx *
hmac_context(void)
{
	if (xact_hmac == NULL)
	{
		ResourceOwner saved = CurrentResourceOwner;

		if (!xact_callback_registered)
		{
			RegisterXactCallback(hmac_xact_callback, NULL);
			xact_callback_registered = true;
		}
		CurrentResourceOwner = TopTransactionResourceOwner ? TopTransactionResourceOwner : saved;
		xact_hmac = pg_hmac_create(PG_SHA256);
		CurrentResourceOwner = saved;
		if (xact_hmac == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("out of memory")));
	}
	return xact_hmac;
}

/* HMAC-SHA256 of the value under the key. */
static void
token_bytes(const char *v, size_t len, uint8 *out)
{
	pg_hmac_ctx *ctx = hmac_context();
	const char *key = token_key ? token_key : dp_obfuscation_key;

	if (pg_hmac_init(ctx, (const uint8 *) key, strlen(key)) < 0 ||
		pg_hmac_update(ctx, (const uint8 *) v, len) < 0 ||
		pg_hmac_final(ctx, out, PG_SHA256_DIGEST_LENGTH) < 0)
		elog(ERROR, "could not compute the obfuscation token: %s", pg_hmac_error(ctx));
}

static char *
hex(const uint8 *b, int n)
{
	static const char digits[] = "0123456789abcdef";
	char	   *s = palloc(n * 2 + 1);
	int			i;

	for (i = 0; i < n; i++)
	{
		s[2 * i] = digits[b[i] >> 4];
		s[2 * i + 1] = digits[b[i] & 15];
	}
	s[n * 2] = '\0';
	return s;
}

static int64
token_number(const uint8 *b)
{
	uint64		n = 0;
	int			i;

	for (i = 0; i < 8; i++)
		n = (n << 8) | b[i];
	return (int64) (n % UINT64CONST(1000000000000));
}

static char *
string_token(const char *v, size_t len)
{
	uint8		b[PG_SHA256_DIGEST_LENGTH];

	token_bytes(v, len, b);
	return psprintf("tok_%s", hex(b, 12));
}

/* JSON leaf by leaf; returns a new reference. */
static json_t *
obfuscate_json(json_t *j)
{
	switch (json_typeof(j))
	{
		case JSON_OBJECT:
			{
				const char *k;
				json_t	   *v;
				void	   *tmp;

				json_object_foreach_safe(j, tmp, k, v)
					json_object_set_new(j, k, obfuscate_json(v));
				return json_incref(j);
			}
		case JSON_ARRAY:
			{
				size_t		i;

				for (i = 0; i < json_array_size(j); i++)
					json_array_set_new(j, i, obfuscate_json(json_array_get(j, i)));
				return json_incref(j);
			}
		case JSON_STRING:
			return json_string(string_token(json_string_value(j), json_string_length(j)));
		case JSON_INTEGER:
		case JSON_REAL:
			{
				char	   *text = json_dumps(j, JSON_ENCODE_ANY);
				uint8		b[PG_SHA256_DIGEST_LENGTH];
				json_t	   *r;

				token_bytes(text, strlen(text), b);
				r = json_integer(token_number(b));
				pfree(text);
				return r;
			}
		default:
			return json_incref(j);
	}
}

char *
dp_obfuscate_value(DpDatatype dt, const char *v, size_t len)
{
	uint8		b[PG_SHA256_DIGEST_LENGTH];

	switch (dt)
	{
		case DP_DT_DATE:
		case DP_DT_DATETIME:
			{
				char	   *buf = NULL;
				size_t		bufsize = 0;

				if (dp_harmonise_value(dt, v, len, NULL, &buf, &bufsize, CurrentMemoryContext) == DP_ISSUE_NONE &&
					strlen(buf) >= 4)
					return psprintf(dt == DP_DT_DATE ? "%.4s-01-01" : "%.4s-01-01T00:00:00Z", buf);
				return string_token(v, len);
			}
		case DP_DT_INTEGER:
		case DP_DT_DECIMAL:
			token_bytes(v, len, b);
			return psprintf(INT64_FORMAT, token_number(b));
		case DP_DT_FLAG:
			token_bytes(v, len, b);
			return pstrdup(b[0] & 1 ? "true" : "false");
		case DP_DT_UUID:
			{
				char	   *h;

				token_bytes(v, len, b);
				b[6] = (b[6] & 0x0f) | 0x40;
				b[8] = (b[8] & 0x3f) | 0x80;
				h = hex(b, 16);
				return psprintf("%.8s-%.4s-%.4s-%.4s-%.12s", h, h + 8, h + 12, h + 16, h + 20);
			}
		case DP_DT_URL:
			token_bytes(v, len, b);
			return psprintf("https://obfuscated.invalid/%s", hex(b, 12));
		case DP_DT_JSON:
			{
				json_error_t err;
				json_t	   *j = json_loadb(v, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
				json_t	   *o;
				char	   *text;

				if (j == NULL)
					return string_token(v, len);
				o = obfuscate_json(j);
				json_decref(j);
				text = json_dumps(o, JSON_ENCODE_ANY | JSON_COMPACT);
				json_decref(o);
				return text;	/* palloc'd: jansson allocates with palloc */
			}
		default:
			/* an e-mail address keeps its shape, so a pattern for one still holds */
			if (memchr(v, '@', len) != NULL)
				return psprintf("%s@obfuscated.invalid", string_token(v, len));
			return string_token(v, len);
	}
}

/* One scalar cell of a PII field, as the transform would read it. */
char *
dp_obfuscate_cell(const DpField *f, const char *v, size_t len)
{
	char	   *cell = dp_transform_normalise_cell(v, len);

	if (cell == NULL)
		return NULL;			/* empty: stays as sent */
	return dp_obfuscate_value(f->datatype, cell, strlen(cell));
}

static char *
scalar_text(const JsonbValue *v, size_t *len)
{
	char	   *s;

	switch (v->type)
	{
		case jbvString:
			*len = v->val.string.len;
			return v->val.string.val;
		case jbvNumeric:
			s = numeric_normalize(v->val.numeric);
			break;
		case jbvBool:
			s = pstrdup(v->val.boolean ? "true" : "false");
			break;
		default:
			return NULL;
	}
	*len = strlen(s);
	return s;
}

/* A leaf inside a PII json value. */
static void
obfuscate_leaf(JsonbValue *v)
{
	size_t		len;
	char	   *text;

	if (v->type == jbvString)
	{
		text = string_token(v->val.string.val, v->val.string.len);
		v->val.string.val = text;
		v->val.string.len = strlen(text);
	}
	else if (v->type == jbvNumeric)
	{
		uint8		b[PG_SHA256_DIGEST_LENGTH];

		text = scalar_text(v, &len);
		token_bytes(text, len, b);
		v->val.numeric = int64_to_numeric(token_number(b));
	}
}

Jsonb *
dp_obfuscate_rows(DpTransform *t, Jsonb *rows)
{
	JsonbIterator *it = JsonbIteratorInit(&rows->root);
	JsonbParseState *st = NULL;
	JsonbValue	v;
	JsonbValue *res = NULL;
	JsonbIteratorToken tok;
	int			row_depth = JB_ROOT_IS_OBJECT(rows) ? 1 : 2;
	int			depth = 0;
	int			field = -1;		/* the PII field of the current member */
	int			pii_depth = 0;	/* inside a PII container from this depth */

	while ((tok = JsonbIteratorNext(&it, &v, false)) != WJB_DONE)
	{
		switch (tok)
		{
			case WJB_BEGIN_ARRAY:
			case WJB_BEGIN_OBJECT:
				depth++;
				if (pii_depth == 0 && field >= 0 && depth == row_depth + 1)
					pii_depth = depth;
				res = pushJsonbValue(&st, tok, NULL);
				break;
			case WJB_END_ARRAY:
			case WJB_END_OBJECT:
				if (depth == pii_depth)
				{
					pii_depth = 0;
					field = -1;
				}
				depth--;
				res = pushJsonbValue(&st, tok, NULL);
				break;
			case WJB_KEY:
				if (depth == row_depth && pii_depth == 0)
					field = dp_transform_pii_field(t, dp_transform_column(t, v.val.string.val,
																		  v.val.string.len));
				res = pushJsonbValue(&st, tok, &v);
				break;
			case WJB_VALUE:
			case WJB_ELEM:
				if (pii_depth > 0)
					obfuscate_leaf(&v);
				else if (tok == WJB_VALUE && depth == row_depth && field >= 0)
				{
					size_t		len;
					char	   *text = scalar_text(&v, &len);
					char	   *token = text ? dp_obfuscate_cell(&t->spec->fields[field], text, len) : NULL;

					if (token)
					{
						v.type = jbvString;
						v.val.string.val = token;
						v.val.string.len = strlen(token);
					}
					field = -1;
				}
				res = pushJsonbValue(&st, tok, &v);
				break;
			default:
				break;
		}
	}
	return JsonbValueToJsonb(res);
}

/* A CSV field as text: quoted when it must be. */
static void
append_csv_field(StringInfo buf, const char *v, size_t len, char delimiter, char quote)
{
	size_t		i;
	bool		needs = false;

	for (i = 0; i < len && !needs; i++)
		needs = v[i] == delimiter || v[i] == quote || v[i] == '\n' || v[i] == '\r';
	if (!needs)
	{
		appendBinaryStringInfo(buf, v, len);
		return;
	}
	appendStringInfoChar(buf, quote);
	for (i = 0; i < len; i++)
	{
		if (v[i] == quote)
			appendStringInfoChar(buf, quote);
		appendStringInfoChar(buf, v[i]);
	}
	appendStringInfoChar(buf, quote);
}

char *
dp_obfuscate_csv_record(DpTransform *t, const int *colmap, DpCsvField *fields, size_t nfields,
						char delimiter, char quote, size_t *outlen)
{
	StringInfoData buf;
	size_t		i;

	initStringInfo(&buf);
	for (i = 0; i < nfields; i++)
	{
		int			f = dp_transform_pii_field(t, colmap[i]);

		if (f >= 0)
		{
			char	   *token = dp_obfuscate_cell(&t->spec->fields[f], fields[i].value, fields[i].len);

			if (token)
			{
				fields[i].value = token;
				fields[i].len = strlen(token);
			}
		}
		if (i > 0)
			appendStringInfoChar(&buf, delimiter);
		append_csv_field(&buf, fields[i].value, fields[i].len, delimiter, quote);
	}
	*outlen = buf.len;
	return buf.data;
}

PG_FUNCTION_INFO_V1(dp_sees_pii);
PG_FUNCTION_INFO_V1(dp_mask);

/* sees_pii(): whether the caller sees real values of PII columns. */
Datum
dp_sees_pii(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(dp_caller_sees_pii());
}

/*
 * mask(value anyelement, key text) RETURNS anyelement: the value's token
 * under key, of the same type (NULL when the type has no token).  The
 * published views call it with the key in dp_consumer_data.mask_key, which
 * only the views' owner reads.
 */
Datum
dp_mask(PG_FUNCTION_ARGS)
{
	Oid			type = get_fn_expr_argtype(fcinfo->flinfo, 0);
	DpDatatype	dt;
	Oid			out,
				in,
				ioparam;
	bool		varlena;
	char	   *valtext;
	char	   *token;

	char	   *key;
	Datum		result;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		PG_RETURN_NULL();
	key = text_to_cstring(PG_GETARG_TEXT_PP(1));
	if (key[0] == '\0')
		PG_RETURN_NULL();
	switch (type)
	{
		case TEXTOID:
		case VARCHAROID:
		case BPCHAROID:
			dt = DP_DT_STRING;
			break;
		case INT2OID:
		case INT4OID:
		case INT8OID:
		case NUMERICOID:
		case FLOAT4OID:
		case FLOAT8OID:
			dt = DP_DT_INTEGER;
			break;
		case BOOLOID:
			dt = DP_DT_FLAG;
			break;
		case DATEOID:
			dt = DP_DT_DATE;
			break;
		case TIMESTAMPTZOID:
		case TIMESTAMPOID:
			dt = DP_DT_DATETIME;
			break;
		case UUIDOID:
			dt = DP_DT_UUID;
			break;
		case JSONBOID:
		case JSONOID:
			dt = DP_DT_JSON;
			break;
		default:
			PG_RETURN_NULL();
	}
	getTypeOutputInfo(type, &out, &varlena);
	valtext = OidOutputFunctionCall(out, PG_GETARG_DATUM(0));
	if (valtext[0] == '\0')
		PG_RETURN_DATUM(PG_GETARG_DATUM(0));
	token_key = key;
	PG_TRY();
	{
		token = dp_obfuscate_value(dt, valtext, strlen(valtext));
	}
	PG_FINALLY();
	{
		token_key = NULL;
	}
	PG_END_TRY();
	/* a whole-number token that fits the column's integer type */
	if (type == INT2OID)
		token = psprintf("%lld", (long long) (strtoll(token, NULL, 10) % 10000));
	else if (type == INT4OID)
		token = psprintf("%lld", (long long) (strtoll(token, NULL, 10) % 1000000000));
	else if (dt == DP_DT_DATETIME && type == TIMESTAMPOID)
		token[strlen(token) - 1] = '\0';	/* no zone */
	getTypeInputInfo(type, &in, &ioparam);
	result = OidInputFunctionCall(in, token, ioparam, -1);
	PG_RETURN_DATUM(result);
}
