#!/usr/bin/env python3
"""Measures a region of 135 halls (examples/baoan-region): qserver's start time and idle RSS,
and the cost of 135 simultaneous day changes (the slowest single Redis call, from SLOWLOG).

usage: bench/region.py [BUILD] [TICKETS_PER_SITE]   (defaults: build, 40)

It generates the region into a temp folder, starts a private redis-server and qserver (with
--test-clock), fills every site with waiting tickets, moves the clock past midnight so every
site changes day at once, and reads Redis's SLOWLOG (threshold 0: every call is logged).
Targets (docs/operations.md): start < 5 s, RSS < 50 MB idle, no Redis call over 50 ms.
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
T0 = 1795744800  # Friday 2026-11-27 10:00 in Asia/Shanghai
NEXT_DAY = T0 + 14 * 3600 + 300  # 00:05 on Saturday


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Line:
    """One NDJSON connection with pipelined requests."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.file = self.sock.makefile("rw", encoding="utf-8")

    def send(self, obj):
        self.file.write(json.dumps(obj) + "\n")

    def ask(self, obj):
        self.send(obj)
        self.file.flush()
        return self.read()

    def read(self):
        while True:
            reply = json.loads(self.file.readline())
            if "event" not in reply:
                return reply

    def close(self):
        self.sock.close()


def redis(sock, *args):
    return subprocess.run(["redis-cli", "-s", sock, *args], capture_output=True, text=True, check=True).stdout


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith("VmRSS:"))


def main():
    build = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build"))
    per_site = int(sys.argv[2]) if len(sys.argv) > 2 else 40
    tmp = tempfile.mkdtemp(prefix="qhall-region-bench-")
    region = os.path.join(tmp, "region")
    subprocess.run([sys.executable, os.path.join(ROOT, "examples/baoan-region/generate.py"), region],
                   check=True, stdout=subprocess.DEVNULL)
    with open(os.path.join(region, "region.json"), encoding="utf-8") as f:
        sites = [s["id"] for s in json.load(f)["sites"]]
    rsock = os.path.join(tmp, "redis.sock")
    rproc = subprocess.Popen(["redis-server", "--port", "0", "--unixsocket", rsock, "--save", "",
                              "--appendonly", "no", "--dir", tmp], stdout=subprocess.DEVNULL)
    qproc = None
    try:
        for _ in range(100):
            if os.path.exists(rsock):
                break
            time.sleep(0.05)
        time.sleep(0.1)
        port = free_port()
        started = time.monotonic()
        qproc = subprocess.Popen([os.path.join(build, "qserver"), "--config", region, "--redis", "unix:" + rsock,
                                  "--listen", f"127.0.0.1:{port}", "--test-clock", "--clock-start", str(T0),
                                  "--log-level", "warn"], stderr=open(os.path.join(tmp, "qserver.log"), "w"))
        ready = None
        while time.monotonic() - started < 30:
            try:
                probe = Line(port)
                # Every site is set up before the link is ready: the last one answering will do.
                if probe.ask({"op": "services", "site": sites[-1]}).get("ok"):
                    ready = time.monotonic() - started
                    probe.close()
                    break
                probe.close()
            except OSError:
                pass
            time.sleep(0.01)
        if ready is None:
            sys.exit("qserver did not become ready in 30 s")
        time.sleep(1)
        print(f"sites: {len(sites)}")
        print(f"start (until the last site answers services): {ready * 1000:.0f} ms")
        print(f"qserver RSS idle after start: {rss_kb(qproc.pid) / 1024:.1f} MB")

        # Waiting tickets everywhere: one kiosk per site, its takes pipelined.
        kiosks = []
        for first in range(0, len(sites), 32):  # the sign-in queue holds 64 checks
            batch = [Line(port) for _ in sites[first:first + 32]]
            for k, site in zip(batch, sites[first:first + 32]):
                k.send({"op": "hello", "role": "kiosk", "kiosk": "kiosk-1", "token": "kiosk123", "site": site})
                k.file.flush()
            for k in batch:
                reply = k.read()
                assert reply.get("ok"), f"kiosk hello refused: {reply}"
            kiosks += batch
        for k in kiosks:
            services = k.ask({"op": "services"})["services"]
            for i in range(per_site):
                k.send({"op": "take", "service": services[i % len(services)]["id"]})
            k.file.flush()
        taken = 0
        for k in kiosks:
            for _ in range(per_site):
                taken += bool(k.read().get("ok"))
            k.close()
        print(f"waiting tickets: {taken} ({per_site} a site)")
        print(f"qserver RSS with them: {rss_kb(qproc.pid) / 1024:.1f} MB")

        redis(rsock, "CONFIG", "SET", "slowlog-log-slower-than", "0")
        redis(rsock, "CONFIG", "SET", "slowlog-max-len", "1000000")
        redis(rsock, "SLOWLOG", "RESET")
        redis(rsock, "CONFIG", "RESETSTAT")
        clock = Line(port)
        clock.ask({"op": "clock", "set": NEXT_DAY})
        # Done when every site's day changed: its first ticket of yesterday is expired.
        first = "20261127-" + "A001"
        deadline = time.monotonic() + 60
        pending = list(sites)
        while pending and time.monotonic() < deadline:
            pending = [s for s in pending
                       if clock.ask({"op": "ticket", "site": s, "id": first}).get("ticket", {}).get("state") != "expired"]
            if pending:
                time.sleep(0.2)
        clock.close()
        if pending:
            sys.exit(f"{len(pending)} sites did not change day in 60 s")
        entries = redis(rsock, "SLOWLOG", "GET", "1000000")
        durations = []
        lines = entries.split("\n")
        # redis-cli prints each entry as: id, timestamp, microseconds, then the arguments.
        for i in range(0, len(lines) - 3):
            if lines[i + 3] in ("FCALL", "FCALL_RO") or lines[i + 3].startswith(("FCALL", "XRANGE", "XREVRANGE")):
                try:
                    durations.append((int(lines[i + 2]), lines[i + 4]))
                except ValueError:
                    pass
        qh_day = [d for d, name in durations if name == "qh_day"]
        slowest = max(durations) if durations else (0, "-")
        print(f"day change: {len(qh_day)} qh_day calls for {len(sites)} sites, "
              f"slowest qh_day {max(qh_day) / 1000 if qh_day else 0:.2f} ms, "
              f"slowest call of all {slowest[0] / 1000:.2f} ms ({slowest[1]})")
        for line in redis(rsock, "INFO", "commandstats").splitlines():
            if line.startswith("cmdstat_fcall:"):
                print("INFO commandstats " + line)
        print(f"qserver RSS idle at the end: {rss_kb(qproc.pid) / 1024:.1f} MB")
    finally:
        if qproc:
            qproc.terminate()
            qproc.wait()
        rproc.terminate()
        rproc.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
