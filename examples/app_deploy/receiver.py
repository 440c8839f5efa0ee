#!/usr/bin/env python3
"""A local stand-in for the Slack webhook of the app_deploy example: accepts POSTs and
appends each body (one line of JSON) to a file.

Usage: receiver.py [--port N] [--out FILE] [--port-file FILE]
  --port 0 picks a free port; --port-file receives the port once listening."""
import argparse
import http.server
import json


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=8765)
    ap.add_argument("--out", default="notifications.jsonl")
    ap.add_argument("--port-file")
    a = ap.parse_args()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            try:
                doc = json.loads(body)
            except ValueError:
                doc = {"raw": body.decode("utf-8", "replace")}
            with open(a.out, "a", encoding="utf-8") as f:
                f.write(json.dumps({"path": self.path, "body": doc}) + "\n")
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.write(b"ok\n")

        def log_message(self, fmt, *args):
            print("receiver:", fmt % args, flush=True)

    srv = http.server.HTTPServer(("127.0.0.1", a.port), Handler)
    port = srv.server_address[1]
    if a.port_file:
        with open(a.port_file + ".tmp", "w") as f:
            f.write(str(port))
        import os

        os.replace(a.port_file + ".tmp", a.port_file)
    print(f"receiver: listening on http://127.0.0.1:{port}/, writing {a.out}", flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
