#!/usr/bin/env python3
"""test/http_server.py - the loopback HTTP server the collection tests fetch from.

Listens on 127.0.0.1 only, on two ephemeral ports (the second one is another
origin, for cross-origin redirects), and writes "PORT PORT2" to --port-file
once it is ready.  Every request is appended to --log as one JSON line
(method, path, headers), so tests can see what the worker sent.

  /files/NAME              a file of --dir (Content-Type from its extension)
  /typed/TYPE/NAME         a file of --dir served as Content-Type TYPE (/ as ~)
  /gzip/NAME               a file of --dir, gzip-encoded when the client accepts it
  /auth/NAME               a file of --dir, only with "Authorization: Bearer <--token>"
  /slow/SECONDS/NAME       waits SECONDS, then serves the file
  /trickle/SECONDS         sends a CSV line every 0.2 s for SECONDS
  /status/CODE             answers CODE with a short text body
  /redirect/N/NAME         N redirects (302), then the file
  /redirect-to?url=URL     one redirect (302) to URL (any scheme, any host)
  /big/BYTES               a CSV of BYTES bytes (Content-Length sent)
  /big-chunked/BYTES       the same, chunked (no Content-Length)
  /html                    an HTML page
  /html-as-csv             an HTML page labelled text/csv

Stops on SIGTERM or SIGINT.
"""
import argparse
import gzip
import json
import os
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlparse

ARGS = None
LOG_LOCK = threading.Lock()
TYPES = {".csv": "text/csv; charset=utf-8", ".json": "application/json",
         ".ndjson": "application/x-ndjson", ".html": "text/html; charset=utf-8"}
HTML = b"<!DOCTYPE html>\n<html><head><title>Sign in</title></head><body><p>Please sign in.</p></body></html>\n"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "dp-test-http/1"

    def log_message(self, fmt, *args):  # quiet; requests go to --log
        pass

    def record(self):
        if not ARGS.log:
            return
        line = json.dumps({"method": self.command, "port": self.server.server_address[1],
                           "path": self.path, "headers": dict(self.headers.items())})
        with LOG_LOCK, open(ARGS.log, "a", encoding="utf-8") as f:
            f.write(line + "\n")

    def send(self, code, body, ctype="text/plain; charset=utf-8", extra=None):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def file(self, name):
        name = unquote(name)
        if "/" in name or name.startswith("."):
            return None
        path = os.path.join(ARGS.dir, name)
        if not os.path.isfile(path):
            return None
        with open(path, "rb") as f:
            return f.read()

    def serve_file(self, name, ctype=None):
        body = self.file(name)
        if body is None:
            return self.send(404, b"not found\n")
        ext = os.path.splitext(name)[1].lower()
        self.send(200, body, ctype or TYPES.get(ext, "application/octet-stream"))

    def do_GET(self):
        self.record()
        url = urlparse(self.path)
        parts = url.path.strip("/").split("/")
        head, rest = parts[0], parts[1:]
        try:
            if head == "files" and len(rest) == 1:
                return self.serve_file(rest[0])
            if head == "typed" and len(rest) == 2:
                return self.serve_file(rest[1], unquote(rest[0]).replace("~", "/"))
            if head == "gzip" and len(rest) == 1:
                body = self.file(rest[0])
                if body is None:
                    return self.send(404, b"not found\n")
                ext = os.path.splitext(rest[0])[1].lower()
                if "gzip" in self.headers.get("Accept-Encoding", ""):
                    return self.send(200, gzip.compress(body), TYPES.get(ext, "text/plain"),
                                     {"Content-Encoding": "gzip"})
                return self.send(200, body, TYPES.get(ext, "text/plain"))
            if head == "auth" and len(rest) == 1:
                if self.headers.get("Authorization") != "Bearer " + (ARGS.token or ""):
                    return self.send(401, b"unauthorized\n", extra={"WWW-Authenticate": "Bearer"})
                return self.serve_file(rest[0])
            if head == "slow" and len(rest) == 2:
                time.sleep(float(rest[0]))
                return self.serve_file(rest[1])
            if head == "trickle" and len(rest) == 1:
                self.send_response(200)
                self.send_header("Content-Type", "text/csv")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                end = time.time() + float(rest[0])
                chunk = b"reference,name\n"
                while time.time() < end:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    self.wfile.flush()
                    chunk = b"T1,trickle\n"
                    time.sleep(0.2)
                self.wfile.write(b"0\r\n\r\n")
                return
            if head == "status" and len(rest) == 1:
                code = int(rest[0])
                return self.send(code, b"status %d\n" % code)
            if head == "redirect" and len(rest) == 2:
                n = int(rest[0])
                if n <= 0:
                    return self.serve_file(rest[1])
                return self.send(302, b"", extra={"Location": "/redirect/%d/%s" % (n - 1, rest[1])})
            if head == "redirect-to":
                target = parse_qs(url.query).get("url", [""])[0]
                return self.send(302, b"", extra={"Location": target})
            if head in ("big", "big-chunked") and len(rest) == 1:
                return self.big(int(rest[0]), head == "big-chunked")
            if head == "html":
                return self.send(200, HTML, "text/html; charset=utf-8")
            if head == "html-as-csv":
                return self.send(200, HTML, "text/csv")
            return self.send(404, b"not found\n")
        except (BrokenPipeError, ConnectionResetError):
            return None

    def big(self, size, chunked):
        line = b"reference,name\n"
        row = b"R0000001,a row of a big file padded to a fixed width..........\n"
        self.send_response(200)
        self.send_header("Content-Type", "text/csv")
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(size))
        self.end_headers()
        sent = 0
        block = line + row * (65536 // len(row))
        while sent < size:
            part = block[:size - sent]
            if chunked:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            else:
                self.wfile.write(part)
            sent += len(part)
            block = row * (65536 // len(row))
        if chunked:
            self.wfile.write(b"0\r\n\r\n")


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def verify_request(self, request, client_address):
        # every connection accepted is logged, before a byte is read, so a
        # test can tell "refused before connecting" from "connected"
        if ARGS.log:
            with LOG_LOCK, open(ARGS.log, "a", encoding="utf-8") as f:
                f.write(json.dumps({"connection": self.server_address[1]}) + "\n")
        return True

    def handle_error(self, request, client_address):
        # a client that stops reading (a size cap, a timeout) is expected
        if isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            return
        super().handle_error(request, client_address)


def main():
    global ARGS
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dir", required=True)
    p.add_argument("--port-file", required=True)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--log")
    p.add_argument("--token")
    ARGS = p.parse_args()
    servers = [Server(("127.0.0.1", ARGS.port), Handler), Server(("127.0.0.1", 0), Handler)]
    for s in servers:
        threading.Thread(target=s.serve_forever, daemon=True).start()
    tmp = ARGS.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d %d\n" % (servers[0].server_address[1], servers[1].server_address[1]))
    os.rename(tmp, ARGS.port_file)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    while not stop.wait(0.5):
        pass
    for s in servers:
        s.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
