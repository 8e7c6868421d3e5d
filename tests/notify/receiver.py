#!/usr/bin/env python3
"""A notify_url receiver for the notification tests (python3 standard library only).

usage: receiver.py PORT_FILE LOG_FILE [--fail-first N] [--hang]

Listens on a free loopback port (written to PORT_FILE once it listens) and appends one JSON
line per POST to LOG_FILE: {"path", "signature", "body", "status"}, with the body exactly as
received (the test checks the signature over it). The first N POSTs are answered 500, the
rest 204. With --hang it reads each request and never answers, as a stuck gateway would.
"""
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

port_file, log_file = sys.argv[1], sys.argv[2]
fail_first = int(sys.argv[sys.argv.index("--fail-first") + 1]) if "--fail-first" in sys.argv else 0
hang = "--hang" in sys.argv
lock = threading.Lock()
seen = 0


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        global seen
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with lock:
            seen += 1
            status = 500 if seen <= fail_first else 204
            if hang:
                status = 0
            with open(log_file, "a") as f:
                f.write(json.dumps({"path": self.path, "signature": self.headers.get("X-Qhall-Signature", ""),
                                    "body": body.decode("utf-8"), "status": status}) + "\n")
        if hang:
            time.sleep(3600)
            return
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
server.daemon_threads = True
with open(port_file + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
os.rename(port_file + ".tmp", port_file)
server.serve_forever()
