#!/usr/bin/env python3
"""test/openlineage/receiver.py - a loopback OpenLineage receiver for the tests.

Listens on 127.0.0.1 (--port, 0: an ephemeral one) and writes the port to
--port-file once ready.

  POST /api/v1/lineage   an OpenLineage event: validated against the run event
                         schema (--schema, JSON Schema 2020-12, with
                         python3-jsonschema); answered 201 and appended to
                         --log as one JSON line {"event": ..., "errors": [...]}
                         when the mode is "ok"; "fail" answers 500 and keeps
                         nothing; "slow:S" waits S seconds, then as "ok"
  POST /mode/MODE        sets the mode (ok, fail, slow:S)
  GET  /data.csv         a small CSV (a collection source)

Every POST of an event, whatever the answer, is counted in --log + ".tries".
Stops on SIGTERM or SIGINT.
"""
import argparse
import json
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jsonschema

ARGS = None
LOCK = threading.Lock()
MODE = {"mode": "ok"}
VALIDATOR = None
CSV = b"reference,name\nOL1,first\nOL2,second\n"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def answer(self, code, body=b"", ctype="text/plain"):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/data.csv":
            self.answer(200, CSV, "text/csv")
        else:
            self.answer(404, b"not found")

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.path.startswith("/mode/"):
            MODE["mode"] = self.path[len("/mode/"):]
            self.answer(200, b"ok")
            return
        if self.path != "/api/v1/lineage":
            self.answer(404, b"not found")
            return
        with LOCK, open(ARGS.log + ".tries", "a", encoding="utf-8") as f:
            f.write("1\n")
        mode = MODE["mode"]
        if mode == "fail":
            self.answer(500, b"receiver failing on purpose")
            return
        if mode.startswith("slow:"):
            time.sleep(float(mode[5:]))
        try:
            event = json.loads(body)
        except ValueError as e:
            self.answer(400, str(e).encode())
            return
        errors = [f"{'/'.join(str(p) for p in e.absolute_path)}: {e.message}"
                  for e in VALIDATOR.iter_errors(event)]
        if self.headers.get("Content-Type", "") != "application/json":
            errors.append("Content-Type is not application/json")
        with LOCK, open(ARGS.log, "a", encoding="utf-8") as f:
            f.write(json.dumps({"event": event, "errors": errors}) + "\n")
        self.answer(201, b"")


def main():
    global ARGS, VALIDATOR
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--port-file", required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--schema", required=True)
    ARGS = p.parse_args()
    with open(ARGS.schema, encoding="utf-8") as f:
        schema = json.load(f)
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    VALIDATOR = cls(schema, format_checker=cls.FORMAT_CHECKER)
    ThreadingHTTPServer.allow_reuse_address = True
    server = ThreadingHTTPServer(("127.0.0.1", ARGS.port), Handler)
    signal.signal(signal.SIGTERM, lambda *a: threading.Thread(target=server.shutdown).start())
    with open(ARGS.port_file + ".tmp", "w") as f:
        f.write(str(server.server_address[1]))
    import os
    os.replace(ARGS.port_file + ".tmp", ARGS.port_file)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    sys.exit(0)


if __name__ == "__main__":
    main()
