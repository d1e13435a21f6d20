-- The demo behind `make demo`: define data products and datasets from the
-- bundled specification files, and show what the platform made of them.
-- Run from samples/ (spec files are read relative to it).
\pset footer off
\set ON_ERROR_STOP on
SET client_min_messages = warning;
CREATE EXTENSION dataplatform;

\echo
\echo '== data products'
SELECT name, status, owner FROM dataplatform.define_product('housing',
  '{"description": "Council housing: tenures, people, assets", "domain": "housing",
    "owner": "Housing Data Team", "email": "housing-data@example.gov.uk",
    "status": "published", "retention_days": 2555, "tags": ["housing", "tenure"]}');
SELECT name, status, owner FROM dataplatform.define_product('planning',
  '{"description": "Planning designations", "domain": "planning",
    "owner": "Planning Data Team", "email": "planning-data@example.gov.uk"}');

\echo
\echo '== specifications (samples/specs/*.json) -> versions'
\set spec `cat specs/tenure.json`
SELECT 'tenure' AS dataset, dataplatform.define_dataset(:'spec') AS version;
\set spec `cat specs/person.json`
SELECT 'person' AS dataset, dataplatform.define_dataset(:'spec') AS version;
\set spec `cat specs/conservation-area.json`
SELECT 'conservation-area' AS dataset, dataplatform.define_dataset(:'spec') AS version;

\echo
\echo '== an additive change is a minor version'
SELECT dataplatform.define_dataset(
  jsonb_set(:'spec'::jsonb, '{fields}',
            (:'spec'::jsonb -> 'fields') || '[{"name": "entry-date", "datatype": "date"}]')) AS version;

\echo
\echo '== a breaking change is refused without allow_breaking'
\set ON_ERROR_STOP off
SELECT dataplatform.define_dataset(
  jsonb_set(dataplatform.describe('conservation-area') - 'version' - 'clean_table',
            '{fields,7,datatype}', '"integer"'));
\set ON_ERROR_STOP on

\echo
\echo '== catalog: dataplatform.product, dataplatform.dataset'
SELECT name, status, datasets, tags FROM dataplatform.product ORDER BY name;
SELECT name, product, version, key, field_count, clean_table FROM dataplatform.dataset ORDER BY name;

\echo
\echo '== fields of tenure (dataplatform.field)'
SELECT name, "column", datatype, is_key, required, pii, options
  FROM dataplatform.field WHERE dataset = 'tenure' ORDER BY ordinal;

\echo
\echo '== generated clean tables'
\d+ dp_clean.tenure
\d dp_clean.tenure_history
\d+ dp_clean.conservation_area

\echo
\echo '== version history (dataplatform.spec_version)'
SELECT dataset, version, change, changes FROM dataplatform.spec_version ORDER BY dataset, major, minor;
