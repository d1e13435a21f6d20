/*
 * product.c
 *		Data products: dataplatform.define_product.
 *
 * A product is an upsert keyed by name.  Keys present in meta are set
 * (null clears them); keys absent keep their current value, so
 * define_product('housing', '{"status": "published"}') changes only the
 * status.
 */
#include "postgres.h"

#include <math.h>

#include "executor/spi.h"
#include "fmgr.h"

#include "access.h"
#include "naming.h"
#include "util.h"

PG_FUNCTION_INFO_V1(dp_define_product);

/* meta keys in the order of the INSERT's parameters $2.. */
static const char *const product_keys[] = {
	"description", "domain", "owner", "email", "status", "retention_days", "tags",
	"licence", "contact", "update_frequency", "classification"
};
#define N_PRODUCT_KEYS lengthof(product_keys)

static void
meta_error(const char *product, const char *key, const char *expected,
		   const json_t *got)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid \"%s\" for data product \"%s\"", key, product),
			 errdetail("Expected %s, got %s.", expected, dp_json_type_name(got))));
}

static bool
email_valid(const char *s)
{
	const char *at = strchr(s, '@');

	return at != NULL && at != s && at[1] != '\0' && strchr(at + 1, '@') == NULL &&
		strchr(at + 1, '.') != NULL && strpbrk(s, " \t\r\n<>,;") == NULL;
}

/*
 * Turn one meta value into the text parameter for its column (NULL for SQL
 * NULL), checking its type and value.
 */
static char *
meta_param(const char *product, const char *key, json_t *value)
{
	if (json_is_null(value))
		return NULL;

	if (strcmp(key, "retention_days") == 0)
	{
		double		days;

		if (!json_is_number(value) ||
			json_number_value(value) != floor(json_number_value(value)))
			meta_error(product, key, "a whole number of days", value);
		days = json_number_value(value);
		if (days < 0 || days > 1000000)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid \"retention_days\" for data product \"%s\"", product),
					 errdetail("retention_days must be between 0 and 1000000, got %.15g.", days)));
		return psprintf("%.0f", days);
	}
	if (strcmp(key, "tags") == 0)
	{
		StringInfoData buf;
		size_t		i;
		json_t	   *tag;

		if (!json_is_array(value))
			meta_error(product, key, "an array of strings", value);
		initStringInfo(&buf);
		appendStringInfoChar(&buf, '{');
		json_array_foreach(value, i, tag)
		{
			const char *s;

			if (!json_is_string(tag))
				meta_error(product, "tags", "an array of strings", tag);
			s = json_string_value(tag);
			if (i > 0)
				appendStringInfoChar(&buf, ',');
			appendStringInfoChar(&buf, '"');
			for (; *s; s++)
			{
				if (*s == '"' || *s == '\\')
					appendStringInfoChar(&buf, '\\');
				appendStringInfoChar(&buf, *s);
			}
			appendStringInfoChar(&buf, '"');
		}
		appendStringInfoChar(&buf, '}');
		return buf.data;
	}

	if (!json_is_string(value))
		meta_error(product, key, "a string", value);
	if (strcmp(key, "status") == 0)
	{
		const char *s = json_string_value(value);

		if (strcmp(s, "draft") != 0 && strcmp(s, "published") != 0 &&
			strcmp(s, "retired") != 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid \"status\" for data product \"%s\": \"%s\"",
							product, s),
					 errhint("Use one of draft, published, retired.")));
	}
	if (strcmp(key, "classification") == 0)
	{
		const char *s = json_string_value(value);

		if (strcmp(s, "public") != 0 && strcmp(s, "internal") != 0 &&
			strcmp(s, "confidential") != 0 && strcmp(s, "restricted") != 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid \"classification\" for data product \"%s\": \"%s\"",
							product, s),
					 errhint("Use one of public, internal, confidential, restricted.")));
	}
	if (strcmp(key, "email") == 0 && !email_valid(json_string_value(value)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid \"email\" for data product \"%s\": \"%s\"",
						product, json_string_value(value)),
				 errhint("Give one address such as team@example.org.")));
	return pstrdup(json_string_value(value));
}

Datum
dp_define_product(PG_FUNCTION_ARGS)
{
	MemoryContext result_cxt = CurrentMemoryContext;
	char	   *name;
	json_t	   *meta;
	const char *key;
	json_t	   *value;
	const char *args[N_PRODUCT_KEYS + 2];
	StringInfoData present;
	Datum		result;
	size_t		i;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("data product name must not be null")));
	name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	dp_require_admin("define a data product");

	if (!dp_product_name_valid(name))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_NAME),
				 errmsg("invalid data product name \"%s\"", name),
				 errdetail("A product name has 1 to 63 lowercase ASCII letters, digits, underscores or hyphens, and starts with a letter or digit.")));

	meta = PG_ARGISNULL(1) ? dp_json_new_object() : dp_json_from_jsonb(PG_GETARG_JSONB_P(1), "product metadata");
	if (!json_is_object(meta))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("metadata for data product \"%s\" must be a JSON object", name),
				 errdetail("Got %s.", dp_json_type_name(meta))));

	memset(args, 0, sizeof(args));
	args[0] = name;
	initStringInfo(&present);
	appendStringInfoChar(&present, '{');
	json_object_foreach(meta, key, value)
	{
		for (i = 0; i < N_PRODUCT_KEYS; i++)
			if (strcmp(key, product_keys[i]) == 0)
				break;
		if (i == N_PRODUCT_KEYS)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown key \"%s\" in metadata for data product \"%s\"",
							key, name),
					 errhint("Known keys: description, domain, owner, email, status, retention_days, tags, licence, contact, update_frequency, classification.")));
		args[i + 1] = meta_param(name, key, value);
		if (present.len > 1)
			appendStringInfoChar(&present, ',');
		appendStringInfoString(&present, key);
	}
	appendStringInfoChar(&present, '}');
	args[N_PRODUCT_KEYS + 1] = present.data;

	SPI_connect();
	dp_spi_exec_text(
		"INSERT INTO dataplatform.products AS p "
		"(name, description, domain, owner, email, status, retention_days, tags, "
		" licence, contact, update_frequency, classification) "
		"VALUES ($1, $2, $3, $4, $5, COALESCE($6, 'draft'), $7::integer, "
		"        COALESCE($8::text[], '{}'), $9, $10, $11, $12) "
		"ON CONFLICT (name) DO UPDATE SET "
		" description = CASE WHEN 'description' = ANY($13::text[]) THEN EXCLUDED.description ELSE p.description END,"
		" domain = CASE WHEN 'domain' = ANY($13::text[]) THEN EXCLUDED.domain ELSE p.domain END,"
		" owner = CASE WHEN 'owner' = ANY($13::text[]) THEN EXCLUDED.owner ELSE p.owner END,"
		" email = CASE WHEN 'email' = ANY($13::text[]) THEN EXCLUDED.email ELSE p.email END,"
		" status = CASE WHEN 'status' = ANY($13::text[]) THEN EXCLUDED.status ELSE p.status END,"
		" retention_days = CASE WHEN 'retention_days' = ANY($13::text[]) THEN EXCLUDED.retention_days ELSE p.retention_days END,"
		" tags = CASE WHEN 'tags' = ANY($13::text[]) THEN EXCLUDED.tags ELSE p.tags END,"
		" licence = CASE WHEN 'licence' = ANY($13::text[]) THEN EXCLUDED.licence ELSE p.licence END,"
		" contact = CASE WHEN 'contact' = ANY($13::text[]) THEN EXCLUDED.contact ELSE p.contact END,"
		" update_frequency = CASE WHEN 'update_frequency' = ANY($13::text[]) THEN EXCLUDED.update_frequency ELSE p.update_frequency END,"
		" classification = CASE WHEN 'classification' = ANY($13::text[]) THEN EXCLUDED.classification ELSE p.classification END,"
		" updated_at = pg_catalog.now()",
		N_PRODUCT_KEYS + 2, args);
	{
		char	   *detail = json_dumps(meta, JSON_COMPACT | JSON_SORT_KEYS);

		dp_audit("define_product", name, detail);
	}
	json_decref(meta);

	/*
	 * Retention is enforced by a daily job of the background worker, made
	 * with the first product that has one (not by CREATE EXTENSION, whose
	 * job would clash with the jobs pg_dump restores).
	 */
	if (dp_spi_exec_text("SELECT 1 FROM dataplatform.products WHERE name = $1 AND retention_days > 0 "
						 "AND NOT EXISTS (SELECT 1 FROM dataplatform.job WHERE name = 'dataplatform: retention')",
						 1, args) > 0)
		dp_spi_exec("SELECT dataplatform.schedule('dataplatform: retention', '@daily', "
					"'SELECT dataplatform.apply_retention()')", 0, NULL, NULL, NULL);

	dp_spi_exec_text("SELECT * FROM dataplatform.product WHERE name = $1", 1, args);
	result = dp_spi_row_as_result(fcinfo, result_cxt);
	SPI_finish();
	PG_RETURN_DATUM(result);
}
