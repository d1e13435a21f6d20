
------------------------------------------------------------------------------
-- API: data contracts in and out (src/catalog/contract_exchange.c,
-- docs/contracts.md)
------------------------------------------------------------------------------

CREATE FUNCTION @extschema@.import_contract(contract text, options jsonb DEFAULT '{}')
RETURNS jsonb
AS 'MODULE_PATHNAME', 'dp_import_contract'
LANGUAGE C VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION @extschema@.import_contract(text, jsonb) IS
'define the product and the datasets an ODCS v3 contract (YAML or JSON) or a Table Schema describes; returns each dataset''s version, notes on what was not kept, and the expectations its quality rules give';

CREATE FUNCTION @extschema@.export_contract(dataset text, format text DEFAULT 'odcs')
RETURNS text
AS 'MODULE_PATHNAME', 'dp_export_contract'
LANGUAGE C STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION @extschema@.export_contract(text, text) IS
'a dataset and its product as an ODCS v3 contract (YAML, format odcs) or a Frictionless Table Schema (JSON, format table-schema)';

REVOKE ALL ON FUNCTION @extschema@.import_contract(text, jsonb),
	@extschema@.export_contract(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.import_contract(text, jsonb) TO dataplatform_admin;
GRANT EXECUTE ON FUNCTION @extschema@.export_contract(text, text)
	TO dataplatform_admin, dataplatform_producer;
