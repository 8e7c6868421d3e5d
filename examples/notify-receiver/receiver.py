#!/usr/bin/env python3
"""An example receiver of qhall's "your turn is near" notifications (docs/notifications.md).

usage: receiver.py [--listen 127.0.0.1:8088] [--secret-file FILE]

The secret (the hall config's site.notify_secret) comes from FILE or from the environment
variable QHALL_NOTIFY_SECRET. Each POST is checked: its X-Qhall-Signature must be
"sha256=" + the lowercase hex HMAC-SHA256 of the body under the secret, compared in constant
time; a wrong or missing one is answered 401 and nothing is sent. A good one is logged with
the message it would send (an SMS text, or the data of a WeChat template message) and
answered 204. A (site, ticket, event) seen before is answered 204 again without sending: qhall
may deliver twice after a crash (docs/notifications.md, Guarantees).

Replace send() with the call of your SMS gateway or of the WeChat template-message API.
Python 3 standard library only.
"""
import argparse
import hashlib
import hmac
import json
import logging
import os
import sys
from collections import OrderedDict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MAX_BODY = 4096     # a notification is some 200 bytes
SEEN_MAX = 100000   # (site, ticket, event) remembered for de-duplication

seen = OrderedDict()
secret = b""


def signature_ok(body, header):
    """True when header is the body's signature under the secret."""
    want = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(want, header or "")


def message(n):
    """The text a citizen gets, in Chinese and English."""
    if n["event"] == "called":
        return "请{0}号到{1}号窗口办理。 Ticket {0}: please go to window {1}.".format(n["number"], n["window"])
    wait = "约{}分钟，".format(max(1, round(n["ewt"] / 60))) if n.get("ewt") is not None else ""
    return "{0}号：前面还有{1}人，{2}请回到大厅。 Ticket {0}: {1} ahead; please come back to the hall.".format(
        n["number"], n["ahead"], wait)


def send(n):
    """Sends one notification: here it is only logged. An SMS gateway gets n["ref"] (the phone
    the citizen gave) and message(n); a WeChat service account sends a template message to the
    openid your system stored for that ref, with data such as number, window and message(n)."""
    if not n.get("ref"):
        logging.info("%s %s %s: no phone given, nothing to send", n["site"], n["ticket"], n["event"])
        return
    logging.info("would send to %s: %s", n["ref"], message(n))


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length <= 0 or length > MAX_BODY:
            return self.answer(413 if length > MAX_BODY else 400)
        body = self.rfile.read(length)
        if not signature_ok(body, self.headers.get("X-Qhall-Signature")):
            logging.warning("refused a notification with a wrong signature from %s", self.client_address[0])
            return self.answer(401)
        try:
            n = json.loads(body)
            key = (n["site"], n["ticket"], n["event"])
        except (ValueError, KeyError, TypeError):
            return self.answer(400)
        if key in seen:
            logging.info("%s %s %s again: already sent", *key)
            return self.answer(204)
        send(n)  # raise here (gateway down) to answer 500: qhall retries for five minutes
        seen[key] = True
        if len(seen) > SEEN_MAX:
            seen.popitem(last=False)
        self.answer(204)

    def answer(self, status):
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def main():
    global secret
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--listen", default="127.0.0.1:8088")
    p.add_argument("--secret-file")
    a = p.parse_args()
    if a.secret_file:
        with open(a.secret_file, "rb") as f:
            secret = f.read().strip()
    else:
        secret = os.environ.get("QHALL_NOTIFY_SECRET", "").encode()
    if len(secret) < 16:
        sys.exit("receiver: give the hall's notify_secret (16 or more characters) in --secret-file or QHALL_NOTIFY_SECRET")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    host, port = a.listen.rsplit(":", 1)
    server = ThreadingHTTPServer((host, int(port)), Handler)
    logging.info("listening on %s", a.listen)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
