/*
 * generate.c
 *		dataplatform.generate(dataset, n, seed): realistic dummy rows that
 *		satisfy a dataset's spec, pushed as one batch (for development and
 *		staging databases, which must not hold real personal data).
 *
 * Values follow each field's datatype, codelist, minimum/maximum and
 * pattern, and look like what the field's name suggests (given names,
 * surnames, e-mail addresses, phone numbers in Ofcom's drama range,
 * addresses, postcodes, dates of birth, rents...).  Key fields are unique
 * within a call and between calls with different seeds; the same seed
 * gives the same rows.  Optional fields are left empty now and then, as
 * real extracts do.  The rows go through push like any producer's
 * (raw, transform, issues, keyed upsert) but are not obfuscated: they are
 * invented.
 */
#include "postgres.h"

#include <ctype.h>
#include <math.h>

#include "common/hashfn.h"
#include "common/pg_prng.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/datetime.h"
#include "utils/json.h"
#include "utils/jsonb.h"

#include "access.h"
#include "obfuscate.h"
#include "pattern.h"
#include "pipeline.h"
#include "spec.h"
#include "util.h"

PG_FUNCTION_INFO_V1(dp_generate);

#define DP_GENERATE_MAX_ROWS 1000000

static const char *const given_names[] = {
	"Amara", "Ben", "Chloe", "Dev", "Ebony", "Femi", "Grace", "Hassan", "Isla", "Jamal",
	"Kofi", "Leah", "Mehmet", "Nadia", "Oscar", "Priya", "Rosa", "Samuel", "Tariq", "Yusuf"
};
static const char *const surnames[] = {
	"Adeyemi", "Brown", "Campbell", "Demir", "Evans", "Fernandes", "Green", "Hussain",
	"Ibrahim", "Jones", "Khan", "Levy", "Mensah", "Nowak", "Okafor", "Patel", "Quinn",
	"Rahman", "Smith", "Taylor"
};
static const char *const streets[] = {
	"Mare Street", "Dalston Lane", "Kingsland Road", "Amhurst Road", "Morning Lane",
	"Stoke Newington High Street", "Clapton Square", "Well Street", "Homerton High Street",
	"Graham Road"
};
static const char *const places[] = {
	"Hackney Central", "Dalston", "De Beauvoir", "Homerton", "Clapton", "Stoke Newington",
	"Shoreditch", "Hoxton"
};
static const char *const words[] = {
	"repair", "visit", "requested", "tenant", "reported", "kitchen", "boiler", "window",
	"follow", "up", "completed", "inspection", "damp", "garden", "access", "arranged"
};

#define PICK(state, list) ((list)[pg_prng_uint64_range(state, 0, lengthof(list) - 1)])

/* Field names compared without case and without separators. */
static bool
name_has(const DpField *f, const char *word)
{
	char		folded[NAMEDATALEN * 2];
	int			n = 0;
	const char *p;

	for (p = f->name; *p && n < (int) sizeof(folded) - 1; p++)
		if (isalnum((unsigned char) *p))
			folded[n++] = pg_ascii_tolower((unsigned char) *p);
	folded[n] = '\0';
	return strstr(folded, word) != NULL;
}

static double
bound(const char *literal, double dflt)
{
	return literal ? strtod(literal, NULL) : dflt;
}

static char *
string_value(const DpField *f, pg_prng_state *st, int64 row)
{
	if (name_has(f, "email"))
		return psprintf("%s.%s%d@example.org", PICK(st, given_names), PICK(st, surnames),
						(int) pg_prng_uint64_range(st, 1, 99));
	if (name_has(f, "first") || name_has(f, "given") || name_has(f, "forename"))
		return pstrdup(PICK(st, given_names));
	if (name_has(f, "surname") || name_has(f, "last") || name_has(f, "family"))
		return pstrdup(PICK(st, surnames));
	if (name_has(f, "phone") || name_has(f, "mobile") || name_has(f, "telephone"))
		return psprintf("07700 900%03d", (int) pg_prng_uint64_range(st, 0, 999));
	if (name_has(f, "postcode"))
		return psprintf("E%d %d%c%c", (int) pg_prng_uint64_range(st, 1, 9),
						(int) pg_prng_uint64_range(st, 1, 9),
						'A' + (int) pg_prng_uint64_range(st, 0, 25),
						'A' + (int) pg_prng_uint64_range(st, 0, 25));
	if (name_has(f, "address") || name_has(f, "street"))
		return psprintf("%d %s, London", (int) pg_prng_uint64_range(st, 1, 250), PICK(st, streets));
	if (name_has(f, "ward") || name_has(f, "area") || name_has(f, "town"))
		return pstrdup(PICK(st, places));
	if (name_has(f, "name"))
		return psprintf("%s %s", PICK(st, given_names), PICK(st, surnames));
	if (name_has(f, "ref") || name_has(f, "code") || name_has(f, "number"))
		return psprintf("%c%08lld", 'A' + (int) (row % 26), (long long) pg_prng_uint64_range(st, 0, 99999999));
	return psprintf("%s %lld", f->name, (long long) row + 1);
}

static char *
text_value(pg_prng_state *st)
{
	StringInfoData buf;
	int			n = (int) pg_prng_uint64_range(st, 3, 12);
	int			i;

	initStringInfo(&buf);
	for (i = 0; i < n; i++)
	{
		const char *w = PICK(st, words);

		if (i == 0)
		{
			appendStringInfoChar(&buf, pg_ascii_toupper((unsigned char) w[0]));
			appendStringInfoString(&buf, w + 1);
		}
		else
			appendStringInfo(&buf, " %s", w);
	}
	appendStringInfoChar(&buf, '.');
	return buf.data;
}

static char *
uuid_value(pg_prng_state *st)
{
	uint64		a = pg_prng_uint64(st),
				b = pg_prng_uint64(st);

	a = (a & ~UINT64CONST(0xF000)) | UINT64CONST(0x4000);	/* version 4 */
	b = (b & ~(UINT64CONST(0xC) << 60)) | (UINT64CONST(0x8) << 60);	/* variant */
	return psprintf("%08x-%04x-%04x-%04x-%012llx",
					(unsigned) (a >> 32), (unsigned) ((a >> 16) & 0xFFFF), (unsigned) (a & 0xFFFF),
					(unsigned) (b >> 48), (unsigned long long) (b & UINT64CONST(0xFFFFFFFFFFFF)));
}

/* A date as days from 2000-01-01 (proleptic Gregorian). */
static char *
date_value(int32 days)
{
	int			jd = days + 2451545;	/* Julian day of 2000-01-01 */
	int			year,
				month,
				day;

	j2date(jd, &year, &month, &day);
	return psprintf("%04d-%02d-%02d", year, month, day);
}

static char *
field_value(const DpField *f, pg_prng_state *st, int64 row, int seed)
{
	switch (f->datatype)
	{
		case DP_DT_INTEGER:
			{
				double		lo = bound(f->minimum, name_has(f, "age") ? 18 : name_has(f, "room") ? 1 : 0);
				double		hi = bound(f->maximum, name_has(f, "age") ? 95 : name_has(f, "room") ? 6 : 1000);

				if (f->is_key)
					return psprintf(INT64_FORMAT, (int64) seed * DP_GENERATE_MAX_ROWS + row + 1);
				lo = ceil(lo);
				hi = floor(hi);
				if (hi < lo)
					hi = lo;
				return psprintf(INT64_FORMAT, (int64) lo + (int64) pg_prng_uint64_range(st, 0, (uint64) (hi - lo)));
			}
		case DP_DT_DECIMAL:
			{
				bool		money = name_has(f, "rent") || name_has(f, "price") || name_has(f, "amount") ||
					name_has(f, "cost") || name_has(f, "charge");
				double		lo = bound(f->minimum, money ? 50 : 0);
				double		hi = bound(f->maximum, money ? 400 : 1000);
				double		v;

				if (hi < lo)
					hi = lo;
				v = lo + pg_prng_double(st) * (hi - lo);
				v = floor(v * 100) / 100;
				if (v < lo)
					v = lo;
				return psprintf("%.2f", v);
			}
		case DP_DT_FLAG:
			return pstrdup(pg_prng_bool(st) ? "true" : "false");
		case DP_DT_DATE:
			if (name_has(f, "birth") || name_has(f, "dob"))
				return date_value(-23376 + (int32) pg_prng_uint64_range(st, 0, 25567));	/* 1936-2005 */
			return date_value((int32) pg_prng_uint64_range(st, 0, 9495));	/* 2000-2025 */
		case DP_DT_DATETIME:
			{
				char	   *d = date_value((int32) pg_prng_uint64_range(st, 7305, 9495));	/* 2020-2025 */

				return psprintf("%sT%02d:%02d:%02dZ", d, (int) pg_prng_uint64_range(st, 0, 23),
								(int) pg_prng_uint64_range(st, 0, 59), (int) pg_prng_uint64_range(st, 0, 59));
			}
		case DP_DT_URL:
			return psprintf("https://example.org/%s/%lld", f->column, (long long) row + 1);
		case DP_DT_UUID:
			return uuid_value(st);
		case DP_DT_JSON:
			return psprintf("{\"generated\": true, \"row\": %lld, \"note\": \"%s\"}",
							(long long) row + 1, PICK(st, words));
		case DP_DT_TEXT:
			return text_value(st);
		case DP_DT_POINT:
		case DP_DT_MULTIPOLYGON:
			{
				/* somewhere in England (inside the default boundary), in WGS84 */
				double		x = -2.5 + pg_prng_double(st) * 3.0;
				double		y = 51.0 + pg_prng_double(st) * 2.0;
				double		d = 0.0005 + pg_prng_double(st) * 0.002;

				if (f->datatype == DP_DT_POINT)
					return psprintf("POINT (%.6f %.6f)", x, y);
				return psprintf("MULTIPOLYGON (((%.6f %.6f,%.6f %.6f,%.6f %.6f,%.6f %.6f,%.6f %.6f)))",
								x, y, x + d, y, x + d, y + d, x, y + d, x, y);
			}
		default:
			if (f->is_key)
				return psprintf("GEN-%d-%07lld", seed, (long long) row + 1);
			return string_value(f, st, row);
	}
}

Datum
dp_generate(PG_FUNCTION_ARGS)
{
	char	   *dataset = dp_arg_cstring(fcinfo, 0, "dataset");
	int32		n = PG_ARGISNULL(1) ? -1 : PG_GETARG_INT32(1);
	int32		seed = PG_ARGISNULL(2) ? 0 : PG_GETARG_INT32(2);
	DpLoadOptions opts = {0};
	DpSpec	   *spec;
	pg_prng_state st;
	DpPattern **patterns;
	StringInfoData rows;
	int64		batch_id;
	int			i;
	int64		r;

	dp_require_admin("generate dummy data");
	if (n < 1 || n > DP_GENERATE_MAX_ROWS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cannot generate %d rows for dataset \"%s\"", n, dataset),
				 errhint("Generate between 1 and %d rows per call.", DP_GENERATE_MAX_ROWS)));
	if (seed < 0 || seed > 9999)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("seed %d for dataset \"%s\" is out of range", seed, dataset),
				 errhint("Use a seed from 0 to 9999; each seed gives its own keys.")));
	if (dp_environment == DP_ENV_PRODUCTION)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("dummy data is not generated in production (dataset \"%s\")", dataset),
				 errhint("Generate dummy data in development or staging databases.")));

	SPI_connect();
	spec = dp_spec_of(dataset);
	patterns = palloc0(sizeof(DpPattern *) * Max(spec->nfields, 1));
	for (i = 0; i < spec->nfields; i++)
		if (spec->fields[i].pattern)
		{
			char		errbuf[256];

			patterns[i] = dp_pattern_in_context(spec->fields[i].pattern, false, false,
												errbuf, sizeof(errbuf));
		}

	pg_prng_seed(&st, (uint64) seed * UINT64CONST(0x9E3779B97F4A7C15) ^ hash_bytes_extended((const unsigned char *) dataset, strlen(dataset), 0));
	initStringInfo(&rows);
	appendStringInfoChar(&rows, '[');
	for (r = 0; r < n; r++)
	{
		bool		first = true;

		appendStringInfoString(&rows, r == 0 ? "{" : ", {");
		for (i = 0; i < spec->nfields; i++)
		{
			const DpField *f = &spec->fields[i];
			char	   *v = NULL;
			int			attempt;

			/* optional fields are sometimes empty, as in real extracts */
			if (!f->required && !f->is_key && pg_prng_uint64_range(&st, 0, 9) == 0)
				continue;
			for (attempt = 0; attempt < 20; attempt++)
			{
				v = f->ncodelist > 0 ?
					pstrdup(f->codelist[pg_prng_uint64_range(&st, 0, f->ncodelist - 1)]) :
					field_value(f, &st, r, seed);
				if (patterns[i] == NULL || f->is_key || dp_pattern_match(patterns[i], v))
					break;
				v = NULL;
			}
			if (v == NULL)
				continue;		/* no invented value fits the pattern: leave it empty */
			if (!first)
				appendStringInfoString(&rows, ", ");
			first = false;
			escape_json(&rows, f->name);
			appendStringInfoString(&rows, ": ");
			escape_json(&rows, v);
		}
		appendStringInfoChar(&rows, '}');
		CHECK_FOR_INTERRUPTS();
	}
	appendStringInfoChar(&rows, ']');
	for (i = 0; i < spec->nfields; i++)
		if (patterns[i])
			dp_pattern_free(patterns[i]);

	/* a push like any other, but the rows are invented: no obfuscation */
	opts.synthetic = true;
	batch_id = dp_push_rows(dataset,
							DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(rows.data))),
							&opts);
	SPI_finish();
	PG_RETURN_INT64(batch_id);
}
