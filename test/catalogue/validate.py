#!/usr/bin/env python3
"""Validate a dataplatform.catalogue() document against the DCAT-US 1.1
(data.json) JSON Schema shipped in test/catalogue/schema/ (GSA's
project-open-data schema, public domain: schema/LICENSE.md).

    validate.py FILE [PART]
        prints one line per dataset and "valid" or the errors; exits 1 when
        the document does not validate.  With PART, only the datasets whose
        identifier contains PART are kept (a test's own, in a database
        other tests share).
    validate.py --dcat-ap FILE [PART]
        the same for catalogue('dcat-ap') against test/catalogue/dcat-ap.json,
        a schema written for these tests: DCAT-AP 2.1's mandatory classes
        and properties and the recommended ones the platform fills.
"""
import json
import os
import sys

import jsonschema

HERE = os.path.dirname(os.path.abspath(__file__))
SCHEMA_DIR = os.path.join(HERE, "schema")


def load(name):
    with open(os.path.join(SCHEMA_DIR, name), encoding="utf-8") as f:
        return json.load(f)


def dcat_ap(path, part):
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    if part:
        doc["dcat:dataset"] = [d for d in doc.get("dcat:dataset", []) if part in str(d.get("@id"))]
    with open(os.path.join(HERE, "dcat-ap.json"), encoding="utf-8") as f:
        schema = json.load(f)
    validator = jsonschema.Draft4Validator(schema, format_checker=jsonschema.FormatChecker())
    return doc, doc.get("dcat:dataset", []), "@id", "dcat:distribution", validator


def data_json(path, part):
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    if part:
        doc["dataset"] = [d for d in doc.get("dataset", []) if part in str(d.get("identifier"))]
    catalog = load("catalog.json")
    # the schemas refer to each other by file name under their published URL
    schemas = {"https://project-open-data.cio.gov/v1.1/schema/" + name: load(name)
               for name in ("catalog.json", "dataset.json", "distribution.json",
                            "organization.json", "vcard.json")}
    try:
        from referencing import Registry, Resource
        from referencing.jsonschema import DRAFT4
        registry = Registry().with_resources(
            (uri, Resource.from_contents(s, default_specification=DRAFT4)) for uri, s in schemas.items())
        validator = jsonschema.Draft4Validator(catalog, registry=registry,
                                               format_checker=jsonschema.FormatChecker())
    except ImportError:         # jsonschema before 4.18
        resolver = jsonschema.RefResolver(base_uri=catalog["id"], referrer=catalog, store=schemas)
        validator = jsonschema.Draft4Validator(catalog, resolver=resolver,
                                               format_checker=jsonschema.FormatChecker())
    return doc, doc.get("dataset", []), "identifier", "distribution", validator


def main():
    args = sys.argv[1:]
    reader = data_json
    if args and args[0] == "--dcat-ap":
        reader = dcat_ap
        args = args[1:]
    doc, datasets, ident, dist, validator = reader(args[0], args[1] if len(args) > 1 else None)
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
    for d in datasets:
        print("dataset %s: %d distributions" % (d.get(ident), len(d.get(dist, []))))
    if not datasets:
        print("no datasets")
        errors = errors or ["the catalogue lists no dataset"]
    for e in errors:
        where = "/".join(str(p) for p in getattr(e, "absolute_path", []))
        print("invalid at %s: %s" % (where or "(root)", getattr(e, "message", e)))
    print("valid" if not errors else "invalid")
    return 0 if not errors else 1


if __name__ == "__main__":
    sys.exit(main())
