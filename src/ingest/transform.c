/*
 * transform.c
 *		One producer row -> typed spec fields and issues (see transform.h
 *		for the order of the steps).  Shared by push, push_csv, check,
 *		check_csv and rebuild, so the dry run and the load can never differ.
 *
 * Memory: the DpTransform, its source columns and its issues live in the
 * context current at dp_transform_begin (the batch); per-row scratch lives
 * in row_cxt and the row arena (DpTransform.arena: cells and harmonised
 * values), both emptied at the start of every row; the output values are
 * allocated in the caller's context.
 */
#include "postgres.h"

#include "utils/memutils.h"

#include "issue.h"
#include "normalise.h"
#include "spatial.h"
#include "transform.h"
#include "util.h"

DpTransform *
dp_transform_begin(const DpSpec *spec, const DpConfig *cfg)
{
	DpTransform *t = palloc0(sizeof(DpTransform));
	int			i;
	int32		today = dp_today_days();

	t->spec = spec;
	t->cfg = cfg;
	t->batch_cxt = CurrentMemoryContext;
	t->row_cxt = AllocSetContextCreate(CurrentMemoryContext, "dataplatform transform row",
									   ALLOCSET_DEFAULT_SIZES);
	t->constraints = palloc0(sizeof(DpConstraints) * spec->nfields);
	for (i = 0; i < spec->nfields; i++)
	{
		const DpField *f = &spec->fields[i];
		DpConstraints *c = &t->constraints[i];

		c->minimum = f->minimum;
		c->maximum = f->maximum;
		c->codelist = (const char *const *) f->codelist;
		c->ncodelist = f->ncodelist;
		c->min_length = f->min_length;
		c->max_length = f->max_length;
		c->has_max_length = f->max_length >= 0;
		c->has_today = true;
		c->today_days = today;
		if (f->pattern)
		{
			char		err[256];

			c->pattern = dp_pattern_in_context(f->pattern, false, false, err, sizeof(err));
			if (c->pattern == NULL)
				elog(ERROR, "stored pattern of field \"%s\" does not compile: %s", f->name, err);
		}
	}
	t->maxcolumns = 16;
	t->columns = palloc(sizeof(DpSourceColumn) * t->maxcolumns);
	t->maxissues = 256;
	t->issues = palloc(sizeof(DpIssueRec) * t->maxissues);
	t->value = palloc(sizeof(char *) * spec->nfields);
	t->original = palloc(sizeof(char *) * spec->nfields);
	t->vlen = palloc(sizeof(size_t) * spec->nfields);
	t->dropped = palloc(sizeof(bool) * spec->nfields);
	t->mentioned = palloc(sizeof(bool) * spec->nfields);
	t->deprecated_seen = palloc0(sizeof(bool) * spec->nfields);
	t->configured = palloc0(sizeof(bool) * spec->nfields);
	for (i = 0; i < spec->nfields; i++)
		if (dp_datatype_is_spatial(spec->fields[i].datatype))
		{
			/* PostGIS dropped since the dataset was defined: say which field needs it */
			dp_spatial_require(spec->dataset, spec->fields[i].name);
			t->spatial = dp_spatial_begin(cfg->boundary);
			break;
		}
	t->bufsize = 256;
	t->buf = palloc(t->bufsize);
	t->arena_size = 4096;
	t->arena = palloc(t->arena_size);
	return t;
}

static void
add_issue(DpTransform *t, const DpSourceRow *row, int field, const char *field_name,
		  const char *type, const char *severity, const char *value,
		  const char *normalised, const char *message)
{
	dp_transform_add_issue_named(t, row ? row->row_number : 0, row ? row->line_number : 0,
								 field, field_name, type, severity, value, normalised, message);
}

void
dp_transform_add_issue(DpTransform *t, int64 row_number, int64 line_number, int field,
					   const char *type, const char *severity, const char *value,
					   const char *normalised, const char *message)
{
	dp_transform_add_issue_named(t, row_number, line_number, field, NULL, type, severity,
								 value, normalised, message);
}

/* Record an issue; strings are copied into the batch context. */
void
dp_transform_add_issue_named(DpTransform *t, int64 row_number, int64 line_number, int field,
							 const char *field_name, const char *type, const char *severity,
							 const char *value, const char *normalised, const char *message)
{
	MemoryContext old = MemoryContextSwitchTo(t->batch_cxt);
	DpIssueRec *r;

	if (t->nissues == t->maxissues)
	{
		t->maxissues *= 2;
		t->issues = repalloc_huge(t->issues, sizeof(DpIssueRec) * t->maxissues);
	}
	r = &t->issues[t->nissues++];
	r->row_number = row_number;
	r->line_number = line_number;
	r->field = field >= 0 ? t->spec->fields[field].name :
		field_name ? pstrdup(field_name) : NULL;
	r->issue_type = type;
	r->severity = severity;
	r->value = value ? pstrdup(value) : NULL;
	r->normalised = normalised ? pstrdup(normalised) : NULL;
	r->message = pstrdup(message ? message : dp_issue_type_description(type));
	{
		int			k;

		for (k = 0; k < t->ntypes && strcmp(t->type_names[k], type) != 0; k++)
			;
		if (k < t->ntypes)
			t->type_counts[k]++;
		else if (k < DP_TRANSFORM_ISSUE_TYPES)
		{
			t->type_names[k] = type;	/* as r->issue_type: the catalogue's */
			t->type_counts[k] = 1;
			t->ntypes++;
		}
		else
			t->types_overflow = true;
	}
	if (strcmp(severity, "error") == 0)
		t->issue_counts[0]++;
	else if (strcmp(severity, "warning") == 0)
		t->issue_counts[1]++;
	else
		t->issue_counts[2]++;
	MemoryContextSwitchTo(old);
}

void
dp_transform_reset_issues(DpTransform *t)
{
	t->nissues = 0;
}

/*
 * A source column against a "column" rule: equal once case, spaces, "-",
 * "_" and every other punctuation are folded away, so that the planning-data
 * pipeline's column.csv (which compares its folded spellings) works as
 * written.
 */
static bool
rule_matches(const char *a, int alen, const char *b)
{
	int			i = 0;

	for (;;)
	{
		while (i < alen && !isalnum((unsigned char) a[i]) && !IS_HIGHBIT_SET(a[i]))
			i++;
		while (*b && !isalnum((unsigned char) *b) && !IS_HIGHBIT_SET(*b))
			b++;
		if (i == alen || *b == '\0')
			return i == alen && *b == '\0';
		if (pg_ascii_tolower((unsigned char) a[i]) != pg_ascii_tolower((unsigned char) *b))
			return false;
		i++;
		b++;
	}
}

/* Names compare with case folded and spaces, "_", "-" and "." ignored. */
static bool
names_match(const char *a, int alen, const char *b)
{
	int			i = 0;

	for (;;)
	{
		while (i < alen && (a[i] == ' ' || a[i] == '_' || a[i] == '-' || a[i] == '.'))
			i++;
		while (*b == ' ' || *b == '_' || *b == '-' || *b == '.')
			b++;
		if (i == alen || *b == '\0')
			return i == alen && *b == '\0';
		if (pg_ascii_tolower((unsigned char) a[i]) != pg_ascii_tolower((unsigned char) *b))
			return false;
		i++;
		b++;
	}
}

static bool
used_by_concat(const DpConfig *cfg, const char *name, int len)
{
	int			i,
				j;

	/* the coordinate columns of a "point" rule are used the same way */
	for (i = 0; i < cfg->npoints; i++)
		if (rule_matches(name, len, cfg->points[i].x) || rule_matches(name, len, cfg->points[i].y))
			return true;

	for (i = 0; i < cfg->nconcats; i++)
		for (j = 0; j < cfg->concats[i].nsources; j++)
			if ((int) strlen(cfg->concats[i].sources[j]) == len &&
				memcmp(cfg->concats[i].sources[j], name, len) == 0)
				return true;
	return false;
}

int
dp_transform_column(DpTransform *t, const char *name, int len)
{
	DpSourceColumn *c;
	int			i;
	MemoryContext old;

	for (i = 0; i < t->ncolumns; i++)
		if (t->columns[i].len == len && memcmp(t->columns[i].name, name, len) == 0)
			return i;

	old = MemoryContextSwitchTo(t->batch_cxt);
	if (t->ncolumns == t->maxcolumns)
	{
		t->maxcolumns *= 2;
		t->columns = repalloc(t->columns, sizeof(DpSourceColumn) * t->maxcolumns);
	}
	c = &t->columns[t->ncolumns];
	c->name = pnstrdup(name, len);
	c->len = len;
	c->field = -1;
	c->how = DP_COL_UNKNOWN;
	/* an exact rule first, then one that matches once folded */
	for (i = 0; i < t->cfg->ncolumns; i++)
		if (strcmp(t->cfg->columns[i].source, c->name) == 0)
			break;
	if (i == t->cfg->ncolumns)
		for (i = 0; i < t->cfg->ncolumns; i++)
			if (rule_matches(name, len, t->cfg->columns[i].source))
				break;
	if (i < t->cfg->ncolumns)
	{
		{
			c->field = t->cfg->columns[i].field;
			c->how = c->field == DP_FIELD_IGNORE ? DP_COL_IGNORED : DP_COL_CONFIG;
			if (c->field == DP_FIELD_IGNORE)
				c->field = -1;
			else
				t->configured[c->field] = true;
		}
	}
	if (c->how == DP_COL_UNKNOWN)
	{
		for (i = 0; i < t->spec->nfields; i++)
		{
			if (names_match(name, len, t->spec->fields[i].name))
			{
				c->field = i;
				c->how = DP_COL_MATCHED;
				break;
			}
		}
	}
	if (c->how == DP_COL_UNKNOWN && used_by_concat(t->cfg, name, len))
		c->how = DP_COL_CONCAT;
	if (c->how == DP_COL_UNKNOWN)
		add_issue(t, NULL, -1, c->name, DP_ISSUE_UNKNOWN_FIELD, "warning", NULL, NULL,
				  psprintf("Column \"%s\" matches no field of dataset \"%s\"; its values were dropped.",
						   c->name, t->spec->dataset));
	MemoryContextSwitchTo(old);
	return t->ncolumns++;
}

int
dp_transform_column_guess(DpTransform *t, const char *name, int len, int guess)
{
	if (guess >= 0 && guess < t->ncolumns && t->columns[guess].len == len &&
		memcmp(t->columns[guess].name, name, len) == 0)
		return guess;
	return dp_transform_column(t, name, len);
}

/*
 * n bytes of the row's arena, or NULL when it has not the room (the next
 * row will).
 */
static inline char *
arena_take(DpTransform *t, size_t n)
{
	char	   *p;

	if (t == NULL)
		return NULL;
	if (t->arena_size - t->arena_used < n)
	{
		t->arena_short = true;
		return NULL;
	}
	p = t->arena + t->arena_used;
	t->arena_used += n;
	return p;
}

/*
 * Cell normalisation: trim whitespace, and treat the usual spellings of
 * "no value" as empty.  Returns the trimmed value (NUL-terminated, in t's
 * row arena, or CurrentMemoryContext when t is NULL or the arena is full)
 * or NULL for empty; its length in *outlen.
 */
static char *
normalise_cell_len(DpTransform *t, const char *v, size_t len, size_t *outlen)
{
	size_t		i;
	bool		all_q = true,
				all_dash = true;

	while (len > 0 && (*v == ' ' || *v == '\t' || *v == '\r' || *v == '\n'))
		v++, len--;
	while (len > 0 && (v[len - 1] == ' ' || v[len - 1] == '\t' ||
					   v[len - 1] == '\r' || v[len - 1] == '\n'))
		len--;
	/* non-breaking spaces at either end */
	while (len >= 2 && (unsigned char) v[0] == 0xC2 && (unsigned char) v[1] == 0xA0)
		v += 2, len -= 2;
	while (len >= 2 && (unsigned char) v[len - 2] == 0xC2 && (unsigned char) v[len - 1] == 0xA0)
		len -= 2;
	if (len == 0)
		return NULL;
	/* all "?" or all "-": only a cell that starts so can be */
	if (v[0] == '?' || v[0] == '-')
	{
		for (i = 0; i < len; i++)
		{
			all_q &= v[i] == '?';
			all_dash &= v[i] == '-';
		}
		if (all_q || all_dash)
			return NULL;
	}
	if ((len == 4 && pg_strncasecmp(v, "null", 4) == 0) ||
		(len == 6 && pg_strncasecmp(v, "<null>", 6) == 0) ||
		(len == 3 && pg_strncasecmp(v, "n/a", 3) == 0) ||
		(len == 4 && pg_strncasecmp(v, "#n/a", 4) == 0) ||
		(len == 2 && pg_strncasecmp(v, "na", 2) == 0))
		return NULL;
	{
		/* pnstrdup's copy (to a NUL byte, if any), keeping its length */
		size_t		n = strnlen(v, len);
		char	   *copy = arena_take(t, n + 1);

		if (copy == NULL)
			copy = palloc(n + 1);

		memcpy(copy, v, n);
		copy[n] = '\0';
		*outlen = n;
		return copy;
	}
}

static char *
normalise_cell(const char *v, size_t len)
{
	size_t		outlen;

	return normalise_cell_len(NULL, v, len, &outlen);
}

char *
dp_transform_normalise_cell(const char *v, size_t len)
{
	return normalise_cell(v, len);
}

int
dp_transform_pii_field(const DpTransform *t, int col)
{
	const DpSourceColumn *c = &t->columns[col];
	int			i,
				j;

	if (c->field >= 0 && c->how != DP_COL_IGNORED && t->spec->fields[c->field].pii)
		return c->field;
	for (i = 0; i < t->cfg->nconcats; i++)
	{
		const DpConcatRule *r = &t->cfg->concats[i];

		if (!t->spec->fields[r->field].pii)
			continue;
		for (j = 0; j < r->nsources; j++)
			if ((int) strlen(r->sources[j]) == c->len && memcmp(r->sources[j], c->name, c->len) == 0)
				return r->field;
	}
	return -1;
}

/* The value of the source column with that name in this row, or NULL. */
static char *
source_value(DpTransform *t, const DpSourceRow *row, const char *name)
{
	int			i;

	for (i = 0; i < t->ncolumns && i < row->ncells; i++)
		if (strcmp(t->columns[i].name, name) == 0 && row->vals[i] != NULL)
			return normalise_cell(row->vals[i], row->lens[i]);
	return NULL;
}

/* The value of the source column a point rule names (folded match), or NULL. */
static char *
point_value(DpTransform *t, const DpSourceRow *row, const char *name)
{
	int			i;

	for (i = 0; i < t->ncolumns && i < row->ncells; i++)
		if (row->vals[i] != NULL && rule_matches(t->columns[i].name, t->columns[i].len, name))
			return normalise_cell(row->vals[i], row->lens[i]);
	return NULL;
}

bool
dp_transform_skips(DpTransform *t, const DpSourceRow *row)
{
	const DpConfig *cfg = t->cfg;
	char	   *text;
	int			i;

	if (cfg->nskip == 0)
		return false;
	if (row->raw)
		text = pnstrdup(row->raw, row->raw_len);
	else
	{
		StringInfoData buf;

		initStringInfo(&buf);
		for (i = 0; i < row->ncells; i++)
		{
			if (i > 0)
				appendStringInfoChar(&buf, ',');
			if (row->vals[i])
				appendBinaryStringInfo(&buf, row->vals[i], row->lens[i]);
		}
		text = buf.data;
	}
	for (i = 0; i < cfg->nskip; i++)
		if (dp_pattern_match(cfg->skip_re[i], text))
			return true;
	return false;
}

/* Patch expansion into a palloc'd string, or NULL when the rule does not match. */
static char *
patch_value(const DpPatchRule *r, const char *value)
{
	char		small[256];
	long		n = dp_pattern_expand(r->re, value, r->replacement, small, sizeof(small));
	char	   *out;

	if (n < 0)
		return NULL;
	if (n < (long) sizeof(small))
		return pstrdup(small);
	out = palloc(n + 1);
	(void) dp_pattern_expand(r->re, value, r->replacement, out, n + 1);
	return out;
}

DpRowStatus
dp_transform_row(DpTransform *t, const DpSourceRow *row, char **out)
{
	const DpSpec *spec = t->spec;
	const DpConfig *cfg = t->cfg;
	MemoryContext caller = MemoryContextSwitchTo(t->row_cxt);
	DpRowStatus status = DP_ROW_LOADED;
	bool		row_has_error = false;
	int			i,
				j;

	MemoryContextReset(t->row_cxt);
	if (t->arena_short)
	{
		/* the last row did not fit: twice the room */
		pfree(t->arena);
		t->arena_size *= 2;
		t->arena = MemoryContextAlloc(t->batch_cxt, t->arena_size);
		t->arena_short = false;
	}
	t->arena_used = 0;
	memset(t->value, 0, sizeof(char *) * spec->nfields);
	memset(t->original, 0, sizeof(char *) * spec->nfields);
	memset(t->vlen, 0xff, sizeof(size_t) * spec->nfields);	/* DP_VLEN_UNKNOWN */
	memset(t->dropped, 0, sizeof(bool) * spec->nfields);
	memset(t->mentioned, 0, sizeof(bool) * spec->nfields);

	/* skip */
	if (dp_transform_skips(t, row))
	{
		MemoryContextSwitchTo(caller);
		return DP_ROW_SKIPPED;
	}

	/*
	 * normalise cells and map columns: the first non-empty value wins; a
	 * column a "column" rule maps wins over one that only has the field's
	 * name (as the pipeline's column.csv does)
	 */
	for (i = 0; i < row->ncells && i < t->ncolumns; i++)
	{
		int			f = t->columns[i].field;

		if (f < 0 || row->vals[i] == NULL)
			continue;
		if (t->columns[i].how == DP_COL_MATCHED && t->configured[f])
			continue;
		t->mentioned[f] = true;
		if (t->value[f] != NULL)
			continue;
		t->value[f] = normalise_cell_len(t, row->vals[i], row->lens[i], &t->vlen[f]);
		t->original[f] = t->value[f];
	}

	/* filter: each named field must match its pattern at the start */
	for (i = 0; i < cfg->nfilters; i++)
	{
		const DpFilterRule *r = &cfg->filters[i];
		char		dummy[1];

		if (dp_pattern_expand(r->re, t->value[r->field] ? t->value[r->field] : "",
							  "", dummy, sizeof(dummy)) < 0)
		{
			MemoryContextSwitchTo(caller);
			return DP_ROW_FILTERED;
		}
	}

	/* concat: non-empty parts joined, between prepend and append */
	for (i = 0; i < cfg->nconcats; i++)
	{
		const DpConcatRule *r = &cfg->concats[i];
		StringInfoData buf;
		int			parts = 0;

		initStringInfo(&buf);
		appendStringInfoString(&buf, r->prepend);
		for (j = 0; j < r->nsources; j++)
		{
			char	   *v = source_value(t, row, r->sources[j]);

			if (v == NULL)
				continue;
			if (parts++ > 0)
				appendStringInfoString(&buf, r->separator);
			appendStringInfoString(&buf, v);
		}
		appendStringInfoString(&buf, r->append);
		if (parts > 0)
		{
			t->mentioned[r->field] = true;
			t->value[r->field] = buf.data;
			t->vlen[r->field] = DP_VLEN_UNKNOWN;
			if (t->original[r->field] == NULL)
				t->original[r->field] = buf.data;
		}
	}

	/* patch: the first matching rule (field rules before general ones) */
	for (i = 0; i < spec->nfields; i++)
	{
		if (t->value[i] == NULL)
			continue;
		for (j = 0; j < cfg->npatches; j++)
		{
			const DpPatchRule *r = &cfg->patches[j];
			char	   *patched;

			if (r->field >= 0 && r->field != i)
				continue;
			patched = patch_value(r, t->value[i]);
			if (patched == NULL)
				continue;
			if (strcmp(patched, t->value[i]) != 0)
				add_issue(t, row, i, NULL, DP_ISSUE_PATCH, "warning", t->value[i], patched,
						  psprintf("Patched by pattern \"%s\".", r->pattern));
			t->value[i] = patched[0] ? patched : NULL;
			t->vlen[i] = DP_VLEN_UNKNOWN;
			break;
		}
	}

	/* lookup: exact value, case-insensitive -> canonical value */
	for (j = 0; j < cfg->nlookups; j++)
	{
		const DpLookupRule *r = &cfg->lookups[j];
		char	   *v = t->value[r->field];

		if (v != NULL && pg_strcasecmp(v, r->from) == 0 && strcmp(v, r->to) != 0)
		{
			add_issue(t, row, r->field, NULL, DP_ISSUE_LOOKUP, "warning", v, r->to, NULL);
			t->value[r->field] = pstrdup(r->to);
			t->vlen[r->field] = DP_VLEN_UNKNOWN;
		}
	}

	/* point: from two coordinate columns when the field has no value */
	for (j = 0; j < cfg->npoints; j++)
	{
		const DpPointRule *r = &cfg->points[j];
		char	   *x,
				   *y;

		if (t->value[r->field] != NULL)
			continue;
		x = point_value(t, row, r->x);
		y = point_value(t, row, r->y);
		if (x == NULL && y == NULL)
			continue;
		t->mentioned[r->field] = true;
		t->value[r->field] = dp_spatial_point_text(x, y);
		t->vlen[r->field] = DP_VLEN_UNKNOWN;
		t->original[r->field] = psprintf("%s, %s", x ? x : "", y ? y : "");
		if (t->value[r->field] == NULL)
		{
			add_issue(t, row, r->field, NULL, "invalid coordinates", "error",
					  t->original[r->field],
					  NULL, psprintf("Columns \"%s\" and \"%s\" do not hold a pair of numbers.", r->x, r->y));
			t->dropped[r->field] = true;
			row_has_error = true;
		}
	}

	/* harmonise each value by its datatype and constraints */
	for (i = 0; i < spec->nfields; i++)
	{
		const DpField *f = &spec->fields[i];
		DpIssue		issue;
		unsigned	notes = 0;
		size_t		outlen,
					inlen,
					room;
		char	   *harmonised;

		if (t->value[i] == NULL)
			continue;
		/* t->spatial is set when a field is spatial */
		if (t->spatial != NULL && dp_datatype_is_spatial(f->datatype))
		{
			DpSpatialResult res;
			int			k;

			dp_spatial_harmonise(t->spatial, f->datatype, t->value[i], strlen(t->value[i]),
								 t->geojson_source, &res);
			for (k = 0; k < res.nissues; k++)
			{
				bool		error = strcmp(res.issues[k].severity, "error") == 0;

				/* the value as sent only with an error (a geometry is long) */
				add_issue(t, row, i, NULL, res.issues[k].type, res.issues[k].severity,
						  error ? pnstrdup(t->original[i], Min(strlen(t->original[i]), 1000)) : NULL,
						  NULL, res.issues[k].detail);
				row_has_error |= error;
			}
			t->value[i] = res.value;
			t->vlen[i] = DP_VLEN_UNKNOWN;
			if (res.value == NULL)
				t->dropped[i] = true;
			continue;
		}
		inlen = t->vlen[i] != DP_VLEN_UNKNOWN ? t->vlen[i] : strlen(t->value[i]);
		/* straight into the arena when it has the room */
		room = t->arena_size - t->arena_used;
		harmonised = t->arena + t->arena_used;
		outlen = dp_harmonise_noted(f->datatype, t->value[i], inlen, &t->constraints[i],
									harmonised, room, &issue, &notes);
		if (outlen >= room)
		{
			t->arena_short = true;
			issue = dp_harmonise_value_noted(f->datatype, t->value[i], inlen,
											 &t->constraints[i], &t->buf, &t->bufsize,
											 t->batch_cxt, &notes, &outlen);
			harmonised = NULL;
		}
		if (issue != DP_ISSUE_NONE)
		{
			add_issue(t, row, i, NULL, dp_issue_name(issue), dp_issue_severity(issue),
					  t->original[i], NULL, NULL);
			t->value[i] = NULL;
			t->dropped[i] = true;
			row_has_error = true;
		}
		else
		{
			if ((harmonised ? harmonised[0] : t->buf[0]) == '\0')
				t->value[i] = NULL;
			else if (harmonised)
			{
				/* where it was written (no NUL byte inside) */
				Assert(strlen(harmonised) == outlen);
				t->arena_used += outlen + 1;
				t->value[i] = harmonised;
				t->vlen[i] = outlen;
			}
			else
			{
				/* pstrdup(t->buf), its length known (no NUL byte inside) */
				Assert(strlen(t->buf) == outlen);
				t->value[i] = palloc(outlen + 1);
				memcpy(t->value[i], t->buf, outlen + 1);
				t->vlen[i] = outlen;
			}
			if (f->deprecated && t->value[i] && !t->deprecated_seen[i])
			{
				/* once per batch: the producer should move, not be flooded */
				t->deprecated_seen[i] = true;
				add_issue(t, row, i, NULL, DP_ISSUE_DEPRECATED_FIELD, "info", t->original[i], NULL,
						  f->replaced_by ?
						  psprintf("Field \"%s\" is deprecated; send \"%s\" instead.", f->name, f->replaced_by) :
						  psprintf("Field \"%s\" is deprecated.", f->name));
			}
			if (notes & DP_NOTE_DAY_MONTH_SWAPPED)
				add_issue(t, row, i, NULL, DP_ISSUE_DAY_MONTH_SWAPPED, "warning",
						  t->original[i], t->value[i],
						  "The day and month were read the other way round: the first reading was impossible.");
		}
	}

	/* default: a constant, or another field's value (not for a partial row) */
	for (j = 0; j < cfg->ndefaults && !t->partial; j++)
	{
		const DpDefaultRule *r = &cfg->defaults[j];
		const DpField *f = &spec->fields[r->field];

		if (t->value[r->field] != NULL)
			continue;
		if (r->value)
		{
			t->value[r->field] = r->value;
			t->vlen[r->field] = DP_VLEN_UNKNOWN;
			add_issue(t, row, r->field, NULL, DP_ISSUE_DEFAULT_VALUE, "warning", NULL, r->value, NULL);
		}
		else if (t->value[r->from_field] != NULL)
		{
			const char *v = t->value[r->from_field];

			if (dp_harmonise_value(f->datatype, v, strlen(v), &t->constraints[r->field],
								   &t->buf, &t->bufsize, t->batch_cxt) == DP_ISSUE_NONE &&
				t->buf[0])
			{
				t->value[r->field] = pstrdup(t->buf);
				t->vlen[r->field] = DP_VLEN_UNKNOWN;
				add_issue(t, row, r->field, NULL, DP_ISSUE_DEFAULT_FIELD, "warning", NULL,
						  t->value[r->field],
						  psprintf("Taken from field \"%s\".", spec->fields[r->from_field].name));
			}
		}
	}

	/* validate: required and key fields need a value (not for a partial row) */
	for (i = 0; i < spec->nfields && !t->partial; i++)
	{
		const DpField *f = &spec->fields[i];

		if (t->value[i] != NULL || !f->required)
			continue;
		status = DP_ROW_QUARANTINED;
		if (!t->dropped[i])
			add_issue(t, row, i, NULL, DP_ISSUE_MISSING_VALUE, "error", NULL, NULL,
					  f->is_key ? "The key field has no value." : "The required field has no value.");
	}
	if (cfg->strict && row_has_error)
		status = DP_ROW_QUARANTINED;

	/* the row's values, copied out in one allocation */
	{
		size_t		total = 0;
		size_t	   *lens = t->vlen;
		char	   *p;

		for (i = 0; i < spec->nfields; i++)
			if (t->value[i])
			{
				if (lens[i] == DP_VLEN_UNKNOWN)
					lens[i] = strlen(t->value[i]);
				total += lens[i] + 1;
			}
		MemoryContextSwitchTo(caller);
		p = total ? palloc(total) : NULL;
		for (i = 0; i < spec->nfields; i++)
		{
			if (t->value[i] == NULL)
			{
				out[i] = NULL;
				continue;
			}
			memcpy(p, t->value[i], lens[i] + 1);
			out[i] = p;
			p += lens[i] + 1;
		}
	}
	return status;
}

char *
dp_transform_mapping_json(const DpTransform *t)
{
	static const char *const how[] = {"config", "matched", "ignored", "concat", "unknown"};
	StringInfoData buf;
	int			i;

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '[');
	for (i = 0; i < t->ncolumns; i++)
	{
		const DpSourceColumn *c = &t->columns[i];

		appendStringInfoString(&buf, i ? ", {\"column\": " : "{\"column\": ");
		escape_json(&buf, c->name);
		appendStringInfoString(&buf, ", \"field\": ");
		if (c->field >= 0)
			escape_json(&buf, t->spec->fields[c->field].name);
		else
			appendStringInfoString(&buf, "null");
		appendStringInfo(&buf, ", \"how\": \"%s\"}", how[c->how]);
	}
	appendStringInfoChar(&buf, ']');
	return buf.data;
}
