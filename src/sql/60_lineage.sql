
------------------------------------------------------------------------------
-- Part 60: lineage and the catalogue (issue 16).  Column lineage of
-- published views (written at publish by src/consumer/lineage.c), the
-- trail of one row (lineage, lineage_of_record, lineage_of_batch) and the
-- DCAT catalogue of published views (catalogue).
--
-- The trail is a read: thin PL/pgSQL over the catalog, running as the
-- caller (SECURITY INVOKER), so a consumer reads the row through
-- dp_consumer (its agreement checked, PII masked, the read audited) and
-- sees nothing below it, while an admin, who may read the clean layer,
-- the batch log and raw, gets the rest.  Every step goes through an index
-- on what the step before found: a clean table's primary key, its
-- history's key index, batch's primary key, the event log's index of
-- processed ids (one per partition), the primary
-- key of dp_raw.chunk (raw_rows), issue's (batch_id,
-- row_number).
------------------------------------------------------------------------------

CREATE TABLE @extschema@.view_column_lineage (
	view			text NOT NULL REFERENCES @extschema@.consumer_view (name) ON DELETE CASCADE,
	column_name		text NOT NULL,
	ordinal			integer NOT NULL,
	dataset			text,
	field			text,
	source_column	name,
	history			boolean NOT NULL DEFAULT false,
	transformation	text NOT NULL
					CHECK (transformation IN ('identity', 'expression', 'aggregate', 'constant')),
	expression		text,
	filter			text,
	UNIQUE NULLS NOT DISTINCT (view, column_name, dataset, field)
);
CREATE INDEX view_column_lineage_field ON @extschema@.view_column_lineage (dataset, field);
COMMENT ON TABLE @extschema@.view_column_lineage IS
'column lineage of published views, from their analysed query at publish: per view column, each dataset field it reads (none for a constant), whether through the history table, how (identity, expression, aggregate, constant), the expression over the dataset''s table when it reads one table of the query and calls only built-in functions, and the condition a row meets to be in the view when the view reads one table (its WHERE, or true)';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.view_column_lineage', '');
REVOKE ALL ON @extschema@.view_column_lineage FROM PUBLIC;
GRANT SELECT ON @extschema@.view_column_lineage TO dataplatform_admin, dataplatform_consumer;

-- the collection run that stored a batch, found without reading the log
CREATE INDEX collection_log_batch ON @extschema@.collection_log (batch_id) WHERE batch_id IS NOT NULL;

------------------------------------------------------------------------------
-- lineage_of_batch: one batch, who sent it, under which spec and
-- configuration, and (collections) from which endpoint and URL
------------------------------------------------------------------------------

CREATE FUNCTION @extschema@.lineage_of_batch(batch bigint)
RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
	b record;
	result jsonb;
BEGIN
	SELECT * INTO b FROM @extschema@.batch bt WHERE bt.id = lineage_of_batch.batch;
	IF NOT FOUND THEN
		RETURN NULL;
	END IF;
	result := jsonb_build_object(
		'id', b.id, 'dataset', b.dataset, 'kind', b.kind, 'pushed_by', b.pushed_by,
		'received_at', b.received_at, 'status', b.status, 'rows', b.rows,
		'rows_loaded', b.rows_loaded, 'rows_quarantined', b.rows_quarantined,
		'sha256', b.sha256, 'source', b.source, 'raw_purged_at', b.raw_purged_at,
		'spec', (SELECT jsonb_build_object('version', s.version, 'change', s.change,
										   'defined_by', s.defined_by, 'defined_at', s.defined_at)
				   FROM @extschema@.spec_version s
				  WHERE s.dataset = b.dataset
					AND s.major = split_part(b.spec_version, '.', 1)::integer
					AND s.minor = split_part(b.spec_version, '.', 2)::integer),
		'config', (SELECT jsonb_build_object('version', c.version, 'defined_by', c.defined_by,
											 'defined_at', c.defined_at, 'config', c.config)
					 FROM @extschema@.config_version c
					WHERE c.dataset = b.dataset AND c.version = b.config_version),
		'collection', (SELECT jsonb_build_object('endpoint', l.endpoint, 'url', e.url,
												 'run_id', l.run_id, 'http_status', l.http_status,
												 'started_at', l.started_at, 'format', l.format)
						 FROM @extschema@.collection_log l
						 LEFT JOIN @extschema@.endpoint e ON e.name = l.endpoint
						WHERE l.batch_id = b.id AND l.outcome = 'stored'
						ORDER BY l.id LIMIT 1));
	RETURN jsonb_strip_nulls(result);
END
$fn$;
COMMENT ON FUNCTION @extschema@.lineage_of_batch(bigint) IS
'one batch''s part of a trail: kind, who pushed it and when, its counts and hash, the spec and configuration versions applied, and for a collection the endpoint, its URL and the run (admins)';

------------------------------------------------------------------------------
-- lineage_of_record: one record of a dataset, every version of it
------------------------------------------------------------------------------

CREATE FUNCTION @extschema@.lineage_of_record(dataset text, key jsonb)
RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
	d record;
	f record;
	cond text := '';
	cur jsonb;
	hist jsonb;
	versions jsonb := '[]';
	v jsonb;
	vno integer := 0;
	b bigint;
	r bigint;
	ev jsonb;
	keyobj jsonb := '{}';
	val jsonb;
BEGIN
	SELECT ds.name, ds.table_name, ds.spec -> 'key' AS keys INTO d
	  FROM @extschema@.datasets ds WHERE ds.name = lineage_of_record.dataset;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'dataset "%" does not exist', lineage_of_record.dataset
			USING ERRCODE = 'undefined_object';
	END IF;
	IF key IS NULL OR (jsonb_typeof(key) <> 'object' AND jsonb_array_length(d.keys) <> 1)
	   OR jsonb_typeof(key) IN ('array', 'null') THEN
		RAISE EXCEPTION 'key for dataset "%" must be a JSON object of its key fields %', d.name, d.keys
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	-- the key by field name (or column name); a scalar for a one-field key
	FOR f IN SELECT fl.name, fl.column_name, format_type(a.atttypid, a.atttypmod) AS type
			   FROM jsonb_array_elements_text(d.keys) WITH ORDINALITY AS k(n, o)
			   JOIN @extschema@.fields fl ON fl.dataset = d.name AND fl.name = k.n
			   JOIN pg_attribute a ON a.attrelid = format('dp_clean.%I', d.table_name)::regclass
								  AND a.attname = fl.column_name
			  ORDER BY k.o
	LOOP
		val := CASE WHEN jsonb_typeof(key) <> 'object' THEN key
					ELSE COALESCE(key -> f.name, key -> f.column_name::text) END;
		IF val IS NULL OR jsonb_typeof(val) = 'null' THEN
			RAISE EXCEPTION 'key for dataset "%" has no value for key field "%"', d.name, f.name
				USING ERRCODE = 'invalid_parameter_value',
					  HINT = format('The key fields are %s.', d.keys);
		END IF;
		keyobj := keyobj || jsonb_build_object(f.name, val);
		cond := cond || CASE WHEN cond = '' THEN '' ELSE ' AND ' END
				|| format('s.%I = %L::%s', f.column_name, val #>> '{}', f.type);
	END LOOP;

	-- every version: the history (its key index), then the current row (primary key)
	EXECUTE format('SELECT jsonb_agg(to_jsonb(s) ORDER BY s._valid_from, s._history_id) FROM dp_clean.%I s WHERE %s',
				   d.table_name || '_history', cond) INTO hist;
	EXECUTE format('SELECT to_jsonb(s) FROM dp_clean.%I s WHERE %s', d.table_name, cond) INTO cur;
	IF cur IS NOT NULL THEN
		hist := COALESCE(hist, '[]') || jsonb_build_array(cur || '{"_operation": "current"}');
	END IF;
	IF hist IS NULL THEN
		RETURN jsonb_build_object('dataset', d.name, 'key', keyobj, 'found', false, 'versions', '[]'::jsonb);
	END IF;

	FOR v IN SELECT x FROM jsonb_array_elements(hist) AS e(x) LOOP
		vno := vno + 1;
		b := (v ->> '_batch_id')::bigint;
		r := (v ->> '_row')::bigint;
		ev := NULL;
		IF v ->> '_event_id' IS NOT NULL THEN
			-- the event that wrote it, and through it its raw row
			SELECT jsonb_build_object('event_id', e.event_id, 'batch_id', e.batch_id, 'ordinal', e.ordinal,
									  'event_type', e.event_type, 'event_time', e.event_time,
									  'outcome', e.outcome, 'detail', e.detail)
			  INTO ev
			  FROM @extschema@.event e
			 WHERE e.dataset = d.name AND e.event_id = v ->> '_event_id'
			   AND e.outcome NOT IN ('duplicate', 'rejected') AND e.event_id IS NOT NULL;
			IF ev IS NOT NULL THEN
				b := (ev ->> 'batch_id')::bigint;
				r := (ev ->> 'ordinal')::bigint;
			END IF;
		END IF;
		versions := versions || jsonb_build_array(jsonb_strip_nulls(jsonb_build_object(
			'version', vno,
			'operation', v ->> '_operation',
			'valid_from', COALESCE(v -> '_valid_from', v -> '_updated_at'),
			'valid_to', v -> '_valid_to',
			'closed_by_batch', v -> '_closed_by_batch',
			'closed_by_event', v -> '_closed_by_event',
			'values', (SELECT jsonb_object_agg(x.fk, x.fv) FROM jsonb_each(v) AS x(fk, fv) WHERE x.fk !~ '^_'),
			'batch', @extschema@.lineage_of_batch((v ->> '_batch_id')::bigint),
			'event', ev,
			-- the row, through dp_raw.chunk's primary key (raw_rows: only
			-- the run that holds it; dp_raw.rows would read every run of
			-- the batch)
			'raw', CASE WHEN r IS NOT NULL THEN
					(SELECT jsonb_build_object('batch_id', x.batch_id, 'ordinal', x.ordinal, 'line_number', x.line_number,
											   'data', x.data, 'raw', x.raw)
					   FROM @extschema@.raw_rows(b, r, r) x) END,
			'issues', (SELECT jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
								'field', i.field, 'issue_type', i.issue_type, 'severity', i.severity,
								'value', i.value, 'normalised_value', i.normalised_value,
								'line_number', i.line_number, 'message', i.message))
								ORDER BY i.field, i.issue_type)
						 FROM @extschema@.issue i WHERE i.batch_id = b AND i.row_number = r))));
	END LOOP;
	RETURN jsonb_build_object('dataset', d.name, 'key', keyobj, 'found', cur IS NOT NULL,
							  'versions', versions);
END
$fn$;
COMMENT ON FUNCTION @extschema@.lineage_of_record(text, jsonb) IS
'the trail of one record of a dataset (key: an object of its key fields, or a scalar for a one-field key): every version, oldest first, with the batch and event that wrote it, its raw row as received (line number for CSV) and the issues raised on that row (admins)';

------------------------------------------------------------------------------
-- lineage: one row of a published view or of a dataset
------------------------------------------------------------------------------

CREATE FUNCTION @extschema@.lineage(relation text, key jsonb, max_rows integer DEFAULT 100)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
	vname text;
	is_admin boolean := pg_has_role(current_user, 'dataplatform_admin', 'USAGE');
	kname text;
	typ text;
	keycols text;
	keyexpr text;
	cond text := '';
	rows_found jsonb;
	row_ jsonb;
	info jsonb;
	cols jsonb;
	src record;
	c record;
	kf record;
	probe text;
	ncond integer;
	nkey integer;
	total bigint;
	keys jsonb;
	trails jsonb;
	sources jsonb := '[]';
	reason text;
	dsname text;
BEGIN
	IF max_rows IS NULL OR max_rows < 1 OR max_rows > 10000 THEN
		RAISE EXCEPTION 'max_rows must be between 1 and 10000'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF relation IS NULL OR key IS NULL THEN
		RAISE EXCEPTION 'relation and key must not be null' USING ERRCODE = 'null_value_not_allowed';
	END IF;

	-- a published view (dp_consumer.<name> or <name>), or else a dataset
	vname := CASE WHEN relation LIKE 'dp_consumer.%' THEN substr(relation, 13) ELSE relation END;
	IF NOT EXISTS (SELECT 1 FROM pg_class cl WHERE cl.relnamespace = 'dp_consumer'::regnamespace
					  AND cl.relname = vname AND cl.relkind = 'v') THEN
		IF relation LIKE 'dp_consumer.%' THEN
			RAISE EXCEPTION 'view "%" is not published', vname USING ERRCODE = 'undefined_object';
		END IF;
		IF NOT is_admin THEN
			RAISE EXCEPTION 'permission denied to trace dataset "%"', relation
				USING ERRCODE = 'insufficient_privilege',
					  DETAIL = 'The clean layer, the batch log and raw are for dataplatform_admin; consumers trace rows of the views they read.';
		END IF;
		dsname := CASE WHEN relation LIKE 'dp_clean.%' THEN
						   (SELECT ds.name FROM @extschema@.datasets ds WHERE ds.table_name = substr(relation, 10))
					   ELSE COALESCE((SELECT ds.name FROM @extschema@.datasets ds WHERE ds.name = relation),
									 (SELECT ds.name FROM @extschema@.datasets ds WHERE ds.table_name = relation)) END;
		IF dsname IS NULL THEN
			RAISE EXCEPTION 'relation "%" is neither a published view nor a dataset', relation
				USING ERRCODE = 'undefined_object';
		END IF;
		info := @extschema@.lineage_of_record(dsname, key);
		RETURN jsonb_build_object('relation', dsname, 'kind', 'dataset') || info
			|| jsonb_build_object('views', COALESCE((
				SELECT jsonb_agg(DISTINCT l.view) FROM @extschema@.view_column_lineage l
				 WHERE l.dataset = dsname), '[]'));
	END IF;

	-- the row, read as the caller: its agreement, row scope and masking hold
	IF jsonb_typeof(key) <> 'object' OR key = '{}' THEN
		RAISE EXCEPTION 'key for view "%" must be a non-empty JSON object of column values', vname
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	FOR kname IN SELECT jsonb_object_keys(key) LOOP
		typ := NULL;
		SELECT format_type(a.atttypid, a.atttypmod) INTO typ
		  FROM pg_attribute a
		 WHERE a.attrelid = format('dp_consumer.%I', vname)::regclass AND a.attname = kname
		   AND a.attnum > 0 AND NOT a.attisdropped;
		IF typ IS NULL THEN
			RAISE EXCEPTION 'view "%" has no column "%"', vname, kname USING ERRCODE = 'undefined_column';
		END IF;
		cond := cond || CASE WHEN cond = '' THEN '' ELSE ' AND ' END
				|| CASE WHEN jsonb_typeof(key -> kname) = 'null' THEN format('v.%I IS NULL', kname)
						ELSE format('v.%I = %L::%s', kname, key ->> kname, typ) END;
	END LOOP;
	EXECUTE format('SELECT jsonb_agg(to_jsonb(v)) FROM (SELECT * FROM dp_consumer.%I v WHERE %s LIMIT 2) v',
				   vname, cond) INTO rows_found;
	IF rows_found IS NULL THEN
		RAISE EXCEPTION 'view "%" has no row with key %', vname, key
			USING ERRCODE = 'no_data_found';
	END IF;
	IF jsonb_array_length(rows_found) > 1 THEN
		RAISE EXCEPTION 'more than one row of view "%" has key %', vname, key
			USING ERRCODE = 'cardinality_violation', HINT = 'Give every column of the view''s key.';
	END IF;
	row_ := rows_found -> 0;

	SELECT COALESCE(jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
				'column', l.column_name, 'dataset', l.dataset, 'field', l.field,
				'history', NULLIF(l.history, false), 'transformation', l.transformation,
				'expression', l.expression)) ORDER BY l.ordinal, l.dataset, l.field), '[]')
	  INTO cols
	  FROM @extschema@.view_column_lineage l WHERE l.view = vname;
	info := jsonb_build_object('relation', 'dp_consumer.' || quote_ident(vname), 'kind', 'view',
							   'key', key, 'row', row_, 'columns', cols);
	IF NOT is_admin THEN
		RETURN info || jsonb_build_object('cut', jsonb_build_object('at', 'view',
			'reason', 'the clean layer, the batch log and raw are for dataplatform_admin'));
	END IF;

	info := info || (SELECT jsonb_strip_nulls(jsonb_build_object(
						'method', cv.method, 'view_key', to_jsonb(cv.key),
						'published_by', cv.published_by, 'published_at', cv.published_at,
						'refreshed_at', cv.refreshed_at))
					   FROM @extschema@.consumer_view cv WHERE cv.name = vname);

	-- per dataset the view reads: the records behind the row
	FOR src IN SELECT ds.name, ds.table_name, ds.spec -> 'key' AS keys,
					  bool_or(l.history) AS history, max(l.filter) AS filter
				 FROM @extschema@.view_column_lineage l
				 JOIN @extschema@.datasets ds ON ds.name = l.dataset
				WHERE l.view = vname
				GROUP BY ds.name, ds.table_name, ds.spec
				ORDER BY ds.name
	LOOP
		reason := NULL;
		probe := '';
		ncond := 0;
		-- 1. every key field of the dataset shown as it is by a view column
		nkey := jsonb_array_length(src.keys);
		FOR kf IN SELECT fl.name, fl.column_name, l.column_name AS vcol
					FROM jsonb_array_elements_text(src.keys) AS k(n)
					JOIN @extschema@.fields fl ON fl.dataset = src.name AND fl.name = k.n
					JOIN LATERAL (SELECT l.column_name FROM @extschema@.view_column_lineage l
								   WHERE l.view = vname AND l.dataset = src.name AND l.field = fl.name
									 AND l.transformation = 'identity' AND NOT l.history
								   ORDER BY l.ordinal LIMIT 1) l ON true
		LOOP
			IF row_ -> kf.vcol IS NULL OR jsonb_typeof(row_ -> kf.vcol) = 'null' THEN
				EXIT;
			END IF;
			ncond := ncond + 1;
		END LOOP;
		IF ncond = nkey AND NOT src.history THEN
			SELECT jsonb_object_agg(fl.name, row_ -> l.column_name) INTO keys
			  FROM jsonb_array_elements_text(src.keys) AS k(n)
			  JOIN @extschema@.fields fl ON fl.dataset = src.name AND fl.name = k.n
			  JOIN LATERAL (SELECT l.column_name FROM @extschema@.view_column_lineage l
							 WHERE l.view = vname AND l.dataset = src.name AND l.field = fl.name
							   AND l.transformation = 'identity' AND NOT l.history
							 ORDER BY l.ordinal LIMIT 1) l ON true;
			sources := sources || jsonb_build_array(jsonb_build_object(
				'dataset', src.name, 'match', 'key', 'count', 1, 'limit', max_rows,
				'records', jsonb_build_array(@extschema@.lineage_of_record(src.name, keys))));
			CONTINUE;
		END IF;
		-- 2. the view's key columns as expressions over the dataset's table
		--    (a group of an aggregate view), with the view's filter
		FOR c IN SELECT vk.col, l.expression, l.transformation
				   FROM unnest((SELECT cv.key FROM @extschema@.consumer_view cv WHERE cv.name = vname)) AS vk(col)
				   LEFT JOIN LATERAL (
						SELECT l.expression, l.transformation FROM @extschema@.view_column_lineage l
						 WHERE l.view = vname AND l.column_name = vk.col
						   AND (l.dataset = src.name OR l.dataset IS NULL)
						 ORDER BY l.dataset NULLS LAST LIMIT 1) l ON true
		LOOP
			IF c.expression IS NULL OR c.transformation = 'aggregate' THEN
				reason := format('view column "%s" is not an expression of built-in functions over dataset "%s" alone',
								 c.col, src.name);
				EXIT;
			END IF;
			SELECT format_type(a.atttypid, a.atttypmod) INTO typ FROM pg_attribute a
			 WHERE a.attrelid = format('dp_consumer.%I', vname)::regclass AND a.attname = c.col;
			probe := probe || CASE WHEN probe = '' THEN '' ELSE ' AND ' END
					 || CASE WHEN row_ -> c.col IS NULL OR jsonb_typeof(row_ -> c.col) = 'null'
							 THEN format('(%s) IS NULL', c.expression)
							 ELSE format('(%s) = %L::%s', c.expression, row_ ->> c.col, typ) END;
		END LOOP;
		IF reason IS NULL AND src.history THEN
			reason := format('the view reads the history of dataset "%s"', src.name);
		END IF;
		IF reason IS NULL AND probe = '' THEN
			reason := 'the view has no key columns';
		END IF;
		IF reason IS NULL AND src.filter IS NULL THEN
			reason := 'the view reads more than one table, or its filter calls functions other than built-in ones';
		END IF;
		IF reason IS NOT NULL THEN
			sources := sources || jsonb_build_array(jsonb_build_object(
				'dataset', src.name, 'match', 'not traced', 'reason', reason));
			CONTINUE;
		END IF;
		IF src.filter <> 'true' THEN
			probe := probe || format(' AND (%s)', src.filter);
		END IF;
		SELECT string_agg(format('%L, %I.%I', fl.name, src.table_name, fl.column_name), ', ' ORDER BY k.o),
			   string_agg(format('%I.%I', src.table_name, fl.column_name), ', ' ORDER BY k.o)
		  INTO keyexpr, keycols
		  FROM jsonb_array_elements_text(src.keys) WITH ORDINALITY AS k(n, o)
		  JOIN @extschema@.fields fl ON fl.dataset = src.name AND fl.name = k.n;
		EXECUTE format('SELECT count(*) FROM dp_clean.%I %I WHERE %s', src.table_name, src.table_name, probe)
			INTO total;
		EXECUTE format('SELECT COALESCE(jsonb_agg(x.k ORDER BY x.o), ''[]'') FROM ('
					   'SELECT jsonb_build_object(%s) AS k, row_number() OVER (ORDER BY %s) AS o '
					   'FROM dp_clean.%I %I WHERE %s ORDER BY %s LIMIT %s) x',
					   keyexpr, keycols, src.table_name, src.table_name, probe, keycols, max_rows)
			INTO keys;
		SELECT COALESCE(jsonb_agg(@extschema@.lineage_of_record(src.name, x.k) ORDER BY x.o), '[]')
		  INTO trails
		  FROM jsonb_array_elements(keys) WITH ORDINALITY AS x(k, o);
		sources := sources || jsonb_build_array(jsonb_build_object(
			'dataset', src.name, 'match', 'group', 'condition', probe,
			'count', total, 'limit', max_rows, 'truncated', total > max_rows,
			'records', trails));
	END LOOP;
	RETURN info || jsonb_build_object('sources', sources);
END
$fn$;
COMMENT ON FUNCTION @extschema@.lineage(text, jsonb, integer) IS
'the trail of one row of a published view (key: an object of column values) or of a dataset: the row, its column lineage and, for admins, the records behind it (for an aggregate view row the group''s rows, at most max_rows of them with their count), each with every version, the batch and event that wrote it, the raw row as received, its issues, the spec and configuration applied and who pushed it; consumers get the row as they may read it and its column lineage';

REVOKE ALL ON FUNCTION @extschema@.lineage_of_batch(bigint),
	@extschema@.lineage_of_record(text, jsonb),
	@extschema@.lineage(text, jsonb, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.lineage_of_batch(bigint),
	@extschema@.lineage_of_record(text, jsonb)
	TO dataplatform_admin;
GRANT EXECUTE ON FUNCTION @extschema@.lineage(text, jsonb, integer)
	TO dataplatform_admin, dataplatform_consumer;

------------------------------------------------------------------------------
-- catalogue: the published views as a data.json (DCAT-US 1.1) catalogue
------------------------------------------------------------------------------

-- An update frequency as ISO 8601 (data.json's accrualPeriodicity): a word
-- (daily, weekly, ...), or a repeating duration as it is; NULL otherwise.
CREATE FUNCTION @extschema@.catalogue_frequency(frequency text)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
	SELECT CASE
		WHEN frequency ~ '^R/P' THEN frequency
		ELSE (SELECT m.iso FROM (VALUES
				('continuous', 'R/PT1S'), ('hourly', 'R/PT1H'), ('daily', 'R/P1D'),
				('weekly', 'R/P1W'), ('fortnightly', 'R/P2W'), ('monthly', 'R/P1M'),
				('quarterly', 'R/P3M'), ('biannually', 'R/P6M'), ('annually', 'R/P1Y'),
				('annual', 'R/P1Y'), ('yearly', 'R/P1Y'), ('irregular', 'irregular'))
				AS m(word, iso) WHERE m.word = lower(btrim(frequency)))
	END
$fn$;
COMMENT ON FUNCTION @extschema@.catalogue_frequency(text) IS
'an update frequency as data.json''s accrualPeriodicity: continuous, hourly, daily, weekly, fortnightly, monthly, quarterly, biannually, annually (or yearly) and irregular, or an ISO 8601 repeating duration (R/P...) as it is; NULL for anything else';

-- A licence as a URL: a URL as it is, a known identifier as its URL; NULL otherwise.
CREATE FUNCTION @extschema@.catalogue_licence(licence text)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
	SELECT CASE
		WHEN licence ~ '^https?://[^ ]+$' THEN licence
		ELSE (SELECT m.url FROM (VALUES
				('ogl-uk-3.0', 'https://www.nationalarchives.gov.uk/doc/open-government-licence/version/3/'),
				('ogl', 'https://www.nationalarchives.gov.uk/doc/open-government-licence/version/3/'),
				('cc-by-4.0', 'https://creativecommons.org/licenses/by/4.0/'),
				('cc-by-sa-4.0', 'https://creativecommons.org/licenses/by-sa/4.0/'),
				('cc0-1.0', 'https://creativecommons.org/publicdomain/zero/1.0/'),
				('odc-by-1.0', 'https://opendatacommons.org/licenses/by/1-0/'),
				('odbl-1.0', 'https://opendatacommons.org/licenses/odbl/1-0/'),
				('pddl-1.0', 'https://opendatacommons.org/licenses/pddl/1-0/'))
				AS m(id, url) WHERE m.id = lower(btrim(licence)))
	END
$fn$;
COMMENT ON FUNCTION @extschema@.catalogue_licence(text) IS
'a licence as the URL data.json wants: a URL as it is; OGL-UK-3.0 (or OGL), CC-BY-4.0, CC-BY-SA-4.0, CC0-1.0, ODC-BY-1.0, ODbL-1.0, PDDL-1.0 as theirs; NULL for anything else';

-- data.json's dataset entries as a DCAT-AP catalogue in JSON-LD: the same
-- metadata under DCAT-AP's properties, IRIs as {"@id": ...}, access rights
-- and frequencies from the EU vocabularies.
CREATE FUNCTION @extschema@.catalogue_dcat_ap(datasets jsonb, base text)
RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
	SELECT jsonb_strip_nulls(jsonb_build_object(
		'@context', jsonb_build_object(
			'dcat', 'http://www.w3.org/ns/dcat#', 'dct', 'http://purl.org/dc/terms/',
			'foaf', 'http://xmlns.com/foaf/0.1/', 'vcard', 'http://www.w3.org/2006/vcard/ns#',
			'xsd', 'http://www.w3.org/2001/XMLSchema#'),
		'@id', COALESCE(base, 'postgresql:///' || current_database()),
		'@type', 'dcat:Catalog',
		'dct:title', 'Published views of ' || current_database(),
		'dct:description', 'The published views (dp_consumer) of the data platform in database '
						   || current_database() || ', from dataplatform.catalogue(''dcat-ap'').',
		'dct:publisher', jsonb_build_object('@type', 'foaf:Agent', 'foaf:name', current_database()),
		'dcat:dataset', COALESCE((SELECT jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
			'@id', e ->> 'identifier',
			'@type', 'dcat:Dataset',
			'dct:identifier', e ->> 'identifier',
			'dct:title', e ->> 'title',
			'dct:description', e ->> 'description',
			'dcat:keyword', e -> 'keyword',
			'dct:modified', jsonb_build_object('@value', e ->> 'modified', '@type', 'xsd:dateTime'),
			'dct:publisher', jsonb_build_object('@type', 'foaf:Agent', 'foaf:name', e #>> '{publisher,name}'),
			'dcat:contactPoint', jsonb_build_object('@type', 'vcard:Kind',
				'vcard:fn', e #>> '{contactPoint,fn}',
				'vcard:hasEmail', CASE WHEN e #> '{contactPoint,hasEmail}' IS NOT NULL
									   THEN jsonb_build_object('@id', e #>> '{contactPoint,hasEmail}') END),
			'dct:license', CASE WHEN e ? 'license' THEN jsonb_build_object('@id', e ->> 'license') END,
			'dct:accessRights', jsonb_build_object('@id',
				'http://publications.europa.eu/resource/authority/access-right/' ||
				CASE e ->> 'accessLevel' WHEN 'public' THEN 'PUBLIC' WHEN 'non-public' THEN 'NON_PUBLIC'
					 ELSE 'RESTRICTED' END),
			'dct:accrualPeriodicity', (SELECT jsonb_build_object('@id',
					'http://publications.europa.eu/resource/authority/frequency/' || f.eu)
				FROM (VALUES ('R/PT1S', 'CONT'), ('R/PT1H', 'HOURLY'), ('R/P1D', 'DAILY'),
							 ('R/P1W', 'WEEKLY'), ('R/P2W', 'BIWEEKLY'), ('R/P1M', 'MONTHLY'),
							 ('R/P3M', 'QUARTERLY'), ('R/P6M', 'ANNUAL_2'), ('R/P1Y', 'ANNUAL'),
							 ('irregular', 'IRREG')) AS f(iso, eu)
			   WHERE f.iso = e ->> 'accrualPeriodicity'),
			'dcat:distribution', (SELECT jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
					'@type', 'dcat:Distribution',
					'dct:title', d ->> 'title',
					'dct:description', d ->> 'description',
					'dcat:accessURL', jsonb_build_object('@id', COALESCE(d ->> 'accessURL', d ->> 'downloadURL')),
					'dcat:downloadURL', CASE WHEN d ? 'downloadURL' THEN jsonb_build_object('@id', d ->> 'downloadURL') END,
					-- IANA's registered types only (NDJSON has none)
					'dcat:mediaType', CASE WHEN d ->> 'mediaType' = 'text/csv' THEN jsonb_build_object('@id',
										'https://www.iana.org/assignments/media-types/text/csv') END,
					'dct:format', CASE WHEN d ->> 'mediaType' = 'text/csv' THEN jsonb_build_object('@id',
										'http://publications.europa.eu/resource/authority/file-type/CSV') END,
					'dct:license', CASE WHEN e ? 'license' THEN jsonb_build_object('@id', e ->> 'license') END))
					ORDER BY o)
				FROM jsonb_array_elements(e -> 'distribution') WITH ORDINALITY AS x(d, o))))
			ORDER BY n)
			FROM jsonb_array_elements(datasets) WITH ORDINALITY AS y(e, n)), '[]')))
$fn$;
COMMENT ON FUNCTION @extschema@.catalogue_dcat_ap(jsonb, text) IS
'catalogue(''dcat-ap'') from data.json''s dataset entries: DCAT-AP properties in JSON-LD, access rights and frequencies from the EU vocabularies (internal)';

CREATE FUNCTION @extschema@.catalogue(format text DEFAULT 'dcat')
RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
	base text := NULLIF(current_setting('dataplatform.catalogue_url'), '');
	datasets jsonb;
BEGIN
	IF format IS NULL OR format NOT IN ('dcat', 'data.json', 'dcat-ap') THEN
		RAISE EXCEPTION 'unknown catalogue format "%"', format
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Formats are dcat and data.json (the same document: DCAT-US 1.1, DCAT as JSON-LD), and dcat-ap (DCAT-AP in JSON-LD).';
	END IF;
	IF base IS NOT NULL AND base !~ '/$' THEN
		base := base || '/';
	END IF;
	SELECT COALESCE(jsonb_agg(jsonb_strip_nulls(e.entry) ORDER BY e.name), '[]') INTO datasets
	  FROM (
		SELECT v.name, jsonb_build_object(
			'@type', 'dcat:Dataset',
			'identifier', COALESCE(base, 'postgresql:///' || current_database() || '?view=dp_consumer.') || v.name,
			'title', COALESCE(m.title, initcap(replace(v.name, '_', ' '))),
			'description', COALESCE(v.description, d.spec ->> 'description', p.description,
									 initcap(replace(v.name, '_', ' '))),
			'keyword', to_jsonb(ARRAY(SELECT DISTINCT t FROM unnest(p.tags || ARRAY[p.name] || m.tags) AS t
									  WHERE t IS NOT NULL AND btrim(t) <> '' ORDER BY t)),
			'modified', to_char(COALESCE(v.refreshed_at, v.published_at) AT TIME ZONE 'UTC',
								'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
			'publisher', jsonb_build_object('@type', 'org:Organization',
											'name', COALESCE(p.owner, p.name)),
			'contactPoint', jsonb_build_object('@type', 'vcard:Contact',
				'fn', COALESCE(CASE WHEN m.contact !~ '@' THEN m.contact END, p.owner, p.name),
				'hasEmail', 'mailto:' || COALESCE(CASE WHEN m.contact ~ '^[^ @]+@[^ @]+\.[^ @]+$' THEN m.contact END,
												  p.email)),
			'accessLevel', CASE WHEN m.classification = 'public' AND NOT pii.any THEN 'public'
								WHEN m.classification IN ('confidential', 'restricted') OR pii.any THEN 'non-public'
								ELSE 'restricted public' END,
			'rights', CASE WHEN m.classification = 'public' AND NOT pii.any THEN NULL
						   ELSE 'Read under an access agreement: dataplatform.request_access, approved by the data product''s administrators.' END,
			'license', @extschema@.catalogue_licence(m.licence),
			'accrualPeriodicity', @extschema@.catalogue_frequency(m.update_frequency),
			'bureauCode', jsonb_build_array(COALESCE(m.bureau_code, '000:00')),
			'programCode', jsonb_build_array(COALESCE(m.program_code, '000:000')),
			'theme', CASE WHEN p.domain IS NOT NULL THEN jsonb_build_array(p.domain) END,
			'distribution', jsonb_build_array(
				jsonb_build_object('@type', 'dcat:Distribution',
					'title', 'dp_consumer.' || v.name,
					'description', 'The published view, read with SQL over the PostgreSQL protocol.',
					'accessURL', COALESCE(base, 'postgresql:///' || current_database() || '?view=dp_consumer.') || v.name,
					'format', 'PostgreSQL view'),
				jsonb_build_object('@type', 'dcat:Distribution',
					'title', 'CSV export',
					'description', format('dataplatform.export(%L, ''csv'')', v.name),
					CASE WHEN base IS NULL THEN 'accessURL' ELSE 'downloadURL' END,
					COALESCE(base || v.name || '.csv', 'postgresql:///' || current_database() || '?view=dp_consumer.' || v.name),
					'mediaType', 'text/csv', 'format', 'CSV'),
				jsonb_build_object('@type', 'dcat:Distribution',
					'title', 'NDJSON export',
					'description', format('dataplatform.export(%L, ''json'')', v.name),
					CASE WHEN base IS NULL THEN 'accessURL' ELSE 'downloadURL' END,
					COALESCE(base || v.name || '.ndjson', 'postgresql:///' || current_database() || '?view=dp_consumer.' || v.name),
					'mediaType', 'application/x-ndjson', 'format', 'NDJSON'))
			) AS entry
		  FROM @extschema@.consumer_view v
		  -- the product: the view's dataset's, or else the first dataset it reads
		  LEFT JOIN LATERAL (
				SELECT ds.* FROM @extschema@.datasets ds
				 WHERE ds.name = COALESCE(v.dataset,
						 (SELECT s.dataset FROM @extschema@.consumer_source s
						   WHERE s.view = v.name ORDER BY s.dataset LIMIT 1))) d ON true
		  LEFT JOIN @extschema@.products p ON p.name = d.product
		  -- metadata: the spec's member, else the product's (columns or not yet)
		  CROSS JOIN LATERAL (
				SELECT COALESCE(d.spec ->> 'title', NULL) AS title,
					   COALESCE(d.spec ->> 'licence', d.spec ->> 'license',
								to_jsonb(p) ->> 'licence', to_jsonb(p) ->> 'license') AS licence,
					   COALESCE(d.spec ->> 'contact', to_jsonb(p) ->> 'contact') AS contact,
					   COALESCE(d.spec ->> 'update_frequency', to_jsonb(p) ->> 'update_frequency') AS update_frequency,
					   COALESCE(d.spec ->> 'classification', to_jsonb(p) ->> 'classification') AS classification,
					   to_jsonb(p) ->> 'bureau_code' AS bureau_code,
					   to_jsonb(p) ->> 'program_code' AS program_code,
					   ARRAY(SELECT jsonb_array_elements_text(CASE WHEN jsonb_typeof(d.spec -> 'tags') = 'array'
																   THEN d.spec -> 'tags' ELSE '[]' END)) AS tags) m
		  CROSS JOIN LATERAL (
				SELECT EXISTS (SELECT 1 FROM @extschema@.view_column_lineage l
								 JOIN @extschema@.fields f ON f.dataset = l.dataset AND f.name = l.field
								WHERE l.view = v.name AND f.pii AND l.transformation <> 'aggregate') AS any) pii
	  ) e;
	IF format = 'dcat-ap' THEN
		RETURN @extschema@.catalogue_dcat_ap(datasets, base);
	END IF;
	RETURN jsonb_build_object(
		'@context', 'https://project-open-data.cio.gov/v1.1/schema/catalog.jsonld',
		'@type', 'dcat:Catalog',
		'conformsTo', 'https://project-open-data.cio.gov/v1.1/schema',
		'describedBy', 'https://project-open-data.cio.gov/v1.1/schema/catalog.json',
		'dataset', datasets);
END
$fn$;
COMMENT ON FUNCTION @extschema@.catalogue(text) IS
'the published views as a data.json catalogue (DCAT-US 1.1, DCAT in JSON-LD, as data.gov.uk harvests): title, description, identifier, licence, publisher, contact point, update frequency, keywords from tags, access level, distributions (the view and its CSV and NDJSON exports), from the spec''s and the product''s metadata; URLs under dataplatform.catalogue_url';

REVOKE ALL ON FUNCTION @extschema@.catalogue(text), @extschema@.catalogue_frequency(text),
	@extschema@.catalogue_licence(text), @extschema@.catalogue_dcat_ap(jsonb, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.catalogue(text), @extschema@.catalogue_frequency(text),
	@extschema@.catalogue_licence(text)
	TO dataplatform_admin, dataplatform_consumer, dataplatform_auditor;
