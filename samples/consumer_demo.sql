-- The consumer layer, for `make demo` (\i from samples/demo.sql once the
-- datasets tenure, person and conservation-area hold data): publish a
-- dataset and packaged views, show them as a BI tool sees them, refresh them
-- incrementally after a push, gate a refresh with an expectation, export.

\echo
\echo '== consumer layer: publish a dataset and packaged views into dp_consumer'
SELECT dataplatform.publish('tenure', 'tenure',
  '{"description": "Tenancies and leases, current state"}') - 'ms' AS published;
SELECT dataplatform.publish('rent_by_tenure_type',
  $$SELECT coalesce(tenure_type, 'unknown') AS tenure_type, count(*) AS tenures,
           count(weekly_rent) AS with_rent, sum(weekly_rent) AS weekly_rent,
           avg(weekly_rent) AS mean_weekly_rent, max(weekly_rent) AS max_weekly_rent
      FROM tenure GROUP BY 1$$,
  '{"description": "Weekly rent by tenure type", "expect": [{"row_count_min": 1}],
    "comments": {"tenures": "Number of tenancies", "weekly_rent": "Total weekly rent in pounds"}}') - 'ms' AS published;
SELECT dataplatform.publish('conservation_area_current',
  $$SELECT reference, name, designation_date, end_date IS NULL AS is_current, area_hectares
      FROM conservation_area$$,
  '{"description": "Conservation areas, with whether each is still designated"}') - 'ms' AS published;

\echo
\echo '== dataplatform.consumer_status: method, key, rows, pending changes'
SELECT view, method, key, row_count, last_status, pending_batches FROM dataplatform.consumer_status ORDER BY view;

\echo
\echo '== dp_consumer.rent_by_tenure_type (a GROUP BY, maintained from deltas)'
SELECT * FROM dp_consumer.rent_by_tenure_type ORDER BY tenure_type;

\echo
\echo '== dp_consumer.conservation_area_current'
SELECT reference, name, designation_date, is_current, area_hectares
  FROM dp_consumer.conservation_area_current ORDER BY reference;

\echo
\echo '== what a BI tool finds: tables and column comments (information_schema, pg_description)'
SELECT c.table_name, c.column_name, c.data_type,
       col_description(('dp_consumer.' || quote_ident(c.table_name))::regclass, c.ordinal_position) AS comment
  FROM information_schema.columns c
 WHERE c.table_schema = 'dp_consumer' AND c.table_name IN ('tenure', 'rent_by_tenure_type')
 ORDER BY c.table_name, c.ordinal_position;

\echo
\echo '== a push, then refresh_all(): only the changed rows and groups are recomputed'
SELECT dataplatform.push('tenure', '[{"id": "0f1e2d3c-4b5a-4697-8877-665544332211", "paymentReference": "1000999999",
  "tenuredAssetId": "9b8a7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d", "tenureType": "SEC", "weeklyRent": "88.50",
  "isActive": "yes", "startOfTenureDate": "2024-07-01"}]') > 0 AS pushed;
SELECT view, result ->> 'status' AS status, result ->> 'mode' AS mode, result ->> 'inserted' AS inserted,
       result ->> 'updated' AS updated, result ->> 'deleted' AS deleted
  FROM dataplatform.refresh_all() ORDER BY view;
SELECT * FROM dp_consumer.rent_by_tenure_type ORDER BY tenure_type;

\echo
\echo '== an expectation gates the refresh: a weekly rent of £900 is a data error and is not published'
SELECT dataplatform.publish('tenure_checked', 'tenure',
  '{"expect": [{"not_null": "tenured_asset_id"}, {"unique": "payment_reference"},
               {"sql": "SELECT coalesce(max(weekly_rent), 0) < 500 FROM dp_consumer.tenure_checked"}]}') ->> 'status' AS published;
SELECT dataplatform.push('tenure', '[{"id": "0f1e2d3c-4b5a-4697-8877-665544332211", "paymentReference": "1000999999",
  "tenuredAssetId": "9b8a7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d", "tenureType": "SEC", "weeklyRent": "900",
  "isActive": "yes", "startOfTenureDate": "2024-07-01"}]') > 0 AS pushed;
SELECT dataplatform.refresh('tenure_checked') - 'ms' - 'expectations' AS refresh;
SELECT view, mode, status, (SELECT jsonb_agg(e) FROM jsonb_array_elements(expectations) e
                             WHERE NOT (e ->> 'passed')::boolean) AS failed
  FROM dataplatform.refresh_log WHERE view = 'tenure_checked' ORDER BY id;
SELECT id, weekly_rent FROM dp_consumer.tenure_checked WHERE id = '0f1e2d3c-4b5a-4697-8877-665544332211';

\echo
\echo '== export for downloads (CSV; also json: one object per line)'
SELECT dataplatform.export('rent_by_tenure_type', 'csv');

