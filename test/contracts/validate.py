#!/usr/bin/env python3
"""Validate a document against a published JSON Schema of the test tree.

    validate.py odcs FILE           ODCS v3.2.0 (YAML or JSON)
    validate.py table-schema FILE   Frictionless Table Schema 1.0 (JSON)

Prints "FILE: valid" or each error with its path, and exits 1 when invalid.
Uses Debian's python3-jsonschema and python3-yaml.
"""
import json
import os
import sys

import jsonschema
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
SCHEMAS = {
    "odcs": ("odcs-json-schema-v3.2.0.json", jsonschema.Draft201909Validator),
    "table-schema": ("table-schema-1.0.profile.json", jsonschema.Draft7Validator),
}


def main():
    kind, path = sys.argv[1], sys.argv[2]
    name, validator = SCHEMAS[kind]
    with open(os.path.join(HERE, "schemas", name)) as f:
        schema = json.load(f)
    with open(path) as f:
        doc = yaml.safe_load(f)
    errors = sorted(validator(schema).iter_errors(doc), key=lambda e: list(e.path))
    label = os.path.basename(path)
    if not errors:
        print(f"{label}: valid against the {kind} schema")
        return 0
    for e in errors:
        print(f"{label}: /{'/'.join(str(p) for p in e.path)}: {e.message}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
