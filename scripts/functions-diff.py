#!/usr/bin/env python3
"""Differential check of two versions of the function library: loads both into one private
redis-server (each under its own name and site key), runs the same random workload against
each (takes, from kiosks and the web, with or without a secret, a phone ref and notify
marks, notify requests, calls, finishes with ratings, no-shows, transfers, cancels, late
ratings (of today's numbers and of earlier days' ids),
pauses, a service dropped from the config and added back, the comprehensive window made a
specialised one and back, day changes, snapshots and service lists) and compares every
reply, every audit entry of the event stream, every stats answer (each `by`, with and
without a window) and at the end every key of the two sites. Then, on two more sites, a
hall of 14 services of three service times with specialised windows (where a service list
shares estimates between services), a snapshot and a service list after every step of a
shorter workload (STEPS / 2, at least 200), from before any ticket finishes on. Exits 1 at
the first difference, printing it. That hall's second site runs NEW from step 0, and at the end
its two sites are compared as the main run's are (their audit entries, every key, the
tickets' TTLs, and with RAW=1 and STATS=1 what those add: every statistics hash after every
step). The last line of a run says which checks ran.

usage: [STATS=1] [RAW=1] [SITES=2] scripts/functions-diff.py OLD.lua NEW.lua [SEED] [STEPS] [UPGRADE_AT]
  SEED, STEPS: the workload (default 1, 2000).
  UPGRADE_AT: the main run's second site runs OLD until that step and NEW from then on, so
  that NEW reads and adds to what OLD stored (days stored before a change; default 0); the
  shared hall's second site runs NEW from step 0 whatever it is.

Replies and audit entries are compared as clients get them: each entry as the protocol events
qserver's eventbuild.c makes of it, and a reply that differs in its text as the answer object
qserver makes of it (both with `build/eventbuild-dump`, or the program in $EVENTBUILD), so two
versions that record the same thing in different forms (the wait model's inputs, say) compare
equal exactly when every client is told the same. The entries are built in order (the live
path, which reads every entry) and each one again alone, reading only the entries it names
(a qserver that starts, or an SSE resume, from that entry): both must give the same events.

With $EVENTBUILD_OLD, the program of the version before (its `build/eventbuild-dump`), the
first site's entries (OLD's) are built with it and the second's with $EVENTBUILD, so the two
compare equal when this version's qserver tells of NEW's entries exactly what the version
before tells of OLD's. The second site's entries are then also built with the version before,
as a qserver of that version sharing the Redis during an upgrade reads them: each one must give
the same events or be dropped whole (malformed to it), and only one holding a U, C or W line
(the kinds it does not know) may be dropped, never a wrong value; the run's last line says how
many it drops. Every string reply of the second site (a result) must also get the same answer
from the version before as from this version: qserver answers a request from any node.

With SITES=2 (a region: several halls in one Redis, whose function libraries share one Lua
state), each library runs two sites with the same service ids and different configs (the
second: other prefixes, service times, retention and SLA, specialised windows only), each step
at one of them picked at random, so that nothing a version keeps across calls is taken from one
hall for another; there a setup also renames a prefix, changes a service time or the retention,
or adds a service E, and now and then the clock goes back (30 s, an hour or a day). Every site
is compared with its counterpart as above. Without SITES the workload is the one hall's, the
same calls for a seed as before.

With RAW=1, two versions that should write exactly alike (a change of how the library works,
not of what it records) are held to that: every reply must be the same text, and every audit
entry of the two sites the same text, the stream ids an entry names (`@<id>`) taken as the
positions of the entries they name; so every result, entry and published payload (the entry
after its stream id) is the same byte for byte.

Left out of the comparison: the field `~table` of statistics hashes (only there to keep a hash
a hash table, docs/statistics.md), the fields `~L:<set>` and `~R:<set>` of P:ewma (the learnt
times of a competing set joined and the entry that recorded them, kept by the library for its
own reads), P:marks (real times), the sets P:open and P:idle (qh_setup builds them from the
windows' states, docs/keys.md), the ticket keys (a ticket's own hash P:t:<id>, and the shared
hashes P:tp:<...> that hold settled tickets packed, a layout that differs between versions),
and the statistics keys of the days not folded yet (the stored
day and later: P:st:d:<day> and its windows' hashes), whose layout differs between versions
(cells, docs/statistics.md): their figures are compared by what `stats` answers for them, by
every `by`, for the hall and each window, at the end of the run. Folded days and months are
compared key by key.

With STATS=1, for two versions that store today's statistics alike (one that changes only how
they are written, say), every statistics hash of both sites (P:st:*, today's included, field by
field with `~table`) is also compared after every step, and at the end of the run the days not
folded yet are compared key by key with the rest.

Tickets are compared instead, at the end of the run, for every ticket either site holds, by id:
by what a `ticket` lookup with the ticket's secret answers (its notify marks shown to the
secret's holder), and with a secret one character longer (refused by both when it has one), and
by the ticket as the library itself reads it (every field: secret, ref, notify fields, pin,
times...; `qh_ticket_read`, a function this script adds to each library it loads, returning
what its `ticket(id)` gives), but for the queue score of a ticket in a final state (in no queue:
a version may drop it) and the library's own marks. Every ticket hash and every bucket of packed
tickets must have an expiry, in both sites, and one that both sites hold the same TTL within
TTL_TOLERANCE seconds (the sites are written a moment apart): a retention taken from another
hall, or kept past a setup that changed it, shows there."""
import json
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

NOW = 1795830000  # 2026-11-28, morning in Beijing
SERVICES = ['A', 'B', 'C', 'D']
CLERKS = ['c1', 'c2', 'c3']
HALL = {"site": {"id": "x", "sla": 900, "retention_days": 90, "utc_offsets": [[0, 28800]]},
        "services": [{"id": s, "prefix": s, "service_time": 200 + 60 * i}
                     for i, s in enumerate(SERVICES)],
        "windows": [{"id": 1, "services": ["*"]}, {"id": 2, "services": ["A", "B"]},
                    {"id": 3, "services": ["C"]}, {"id": 4, "services": ["D", "A"]}]}
# the second hall of a region (SITES=2): the same service ids, other prefixes, service times,
# retention and SLA, specialised windows only (C shares window 1 with A and window 3 with D)
REGION_HALL = {"site": {"id": "x", "sla": 600, "retention_days": 30, "utc_offsets": [[0, 28800]]},
               "services": [{"id": s, "prefix": 'XYZW'[i], "service_time": 100 + 45 * i}
                            for i, s in enumerate(SERVICES)],
               "windows": [{"id": 1, "services": ["A", "C"]}, {"id": 2, "services": ["B"]},
                           {"id": 3, "services": ["C", "D"]}, {"id": 4, "services": ["D"]}]}
IGNORED_KEYS = (':open', ':idle', ':marks')
STATS = os.environ.get('STATS') == '1'  # today's statistics hashes compared too (the header)
RAW = os.environ.get('RAW') == '1'  # replies and entries compared as text too (the header)
SITES = int(os.environ.get('SITES', '1'))  # halls in the main run's region (the header)


class Redis:
    """A minimal RESP client on a Unix socket (error replies come back as ('ERR', text))."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.connect(path)
        self.file = self.sock.makefile('rb')

    def __call__(self, *args):
        out = [b'*%d\r\n' % len(args)]
        for a in args:
            a = str(a).encode()
            out.append(b'$%d\r\n%s\r\n' % (len(a), a))
        self.sock.sendall(b''.join(out))
        return self.read()

    def read(self):
        line = self.file.readline()
        kind, value = line[:1], line[1:-2]
        if kind == b'+':
            return value.decode()
        if kind == b'-':
            return ('ERR', value.decode())
        if kind == b':':
            return int(value)
        n = int(value)
        if n < 0:
            return None
        if kind == b'$':
            return self.file.read(n + 2)[:-2].decode()
        return [self.read() for _ in range(n)]


def site_day(t, with_hour=False):
    """The site's date (Beijing) of epoch t, with its hour ("YYYY-MM-DDTHH") as qserver passes
    it to a library that reads it (with_hour)."""
    return time.strftime('%Y-%m-%dT%H' if with_hour else '%Y-%m-%d', time.gmtime(t + 8 * 3600))


def reads_hour(r, name):
    """True when a loaded library takes the day with the hour (versions since the hour came with
    it): they are called as qserver calls them, and answer ticket and window results in the text
    form; earlier ones refuse such a day."""
    reply = r('FCALL', name + '_services', 1, 'q:{probe}', NOW, site_day(NOW, True), 0)
    return not (isinstance(reply, tuple) and 'BAD_REQUEST day' in reply[1])


class Builder:
    """What clients get from a record: build/eventbuild-dump, kept running."""

    def __init__(self, path=None):
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        path = path or os.environ.get('EVENTBUILD', os.path.join(root, 'build', 'eventbuild-dump'))
        if not os.access(path, os.X_OK):
            sys.exit('%s is missing: make it first (make test-build)' % path)
        self.proc = subprocess.Popen([path], stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    def __call__(self, kind, data, sid='-'):
        """The events of entry sid (kind E), or the answer of a result (R), '!' lines when
        malformed; F: keeps the learnt times an entry records; C: forgets them all."""
        raw = data.encode()
        self.proc.stdin.write(b'%s %s %d\n' % (kind.encode(), sid.encode(), len(raw)) + raw)
        self.proc.stdin.flush()
        lines = []
        while True:
            line = self.proc.stdout.readline().decode().rstrip('\n')
            if line in ('.', ''):
                return lines
            lines.append(line)


BUILD = None  # the Builder, started by main()
OLD_BUILD = None  # the version before's Builder ($EVENTBUILD_OLD), or None


def entry_events(sid, data, entries, build):
    """The events of one entry as qserver builds them, reading the entries it names (entries:
    every entry's data by id) as qserver reads them from the stream."""
    read = set()
    while True:
        lines = build('E', data, sid)
        if not lines or not lines[0].startswith('?'):
            return lines
        named = lines[0][1:]
        if named not in entries or named in read:
            return ['! names %s, which does not record what it names' % named]
        read.add(named)
        build('F', entries[named], named)


def stream_events(key, entries, build=None, dropped=False):
    """The events of every entry in order (the live path), checked against each entry built alone;
    an entry dropped whole (['!']) only when `dropped` allows it."""
    build = build or BUILD
    by_id = dict(entries)
    build('C', '')
    live = [entry_events(sid, data, by_id, build) for sid, data in entries]
    for (sid, data), events in zip(entries, live):
        build('C', '')
        alone = entry_events(sid, data, by_id, build)
        if alone != events or (any(line.startswith('!') for line in events) and not (dropped and events == ['!'])):
            sys.exit('%s %s: read in order %s, alone %s\n%s' % (key, sid, events, alone, data))
    return live


# Added to each library loaded: a ticket as the library reads it (every field, as JSON).
READ_PROBE = """
register('qh_ticket_read', function(a)
  local t = ticket(a[1])
  return t and cjson.encode(t) or ''
end, false)
"""


def load(r, path, name):
    """Loads a library under its own name, its functions renamed <name>_..., with READ_PROBE."""
    src = open(path).read().replace('#!lua name=qhall', '#!lua name=' + name, 1) + READ_PROBE
    reply = r('FUNCTION', 'LOAD', 'REPLACE', re.sub(r"register\('qh_", "register('%s_" % name, src))
    if isinstance(reply, tuple):
        sys.exit('%s: %s' % (path, reply[1]))


def stream_entries(r, key):
    """A stream's entries as (id, data)."""
    return [(entry[0], entry[1][1]) for entry in r('XRANGE', key, '-', '+')]


# The kinds of lines the version before does not know, for which it drops an entry whole.
NEW_KINDS = ('U', 'C', 'W')


def old_reader_check(r, key, events):
    """Builds the entries of stream key, whose events are `events`, with the version before
    (OLD_BUILD): each must give the same events or be dropped whole. Returns how many it drops."""
    entries = stream_entries(r, key)
    old = stream_events(key, entries, OLD_BUILD, dropped=True)
    for (sid, data), got, want in zip(entries, old, events):
        if got != ['!'] and got != want:
            sys.exit('%s %s: the version before reads\n %s\nwhere this one reads\n %s\n%s' % (key, sid, got, want, data))
        if got == ['!'] and not any(line.split(',', 1)[0] in NEW_KINDS for line in data.split('\n')):
            sys.exit('%s %s: the version before drops an entry with no line of a new kind (%s)\n%s'
                     % (key, sid, ', '.join(NEW_KINDS), data))
    return sum(1 for got in old if got == ['!']), len(entries)


def stats_hashes(r, prefix):
    """Every statistics key of a site (P:st:*) by its name after the prefix: a hash's fields
    and values (`~table` too), or the type of any other key."""
    out = {}
    for key in sorted(r('KEYS', prefix + ':st:*')):
        kind = r('TYPE', key)
        if kind == 'hash':
            flat = r('HGETALL', key)
            out[key[len(prefix):]] = dict(zip(flat[::2], flat[1::2]))
        else:
            out[key[len(prefix):]] = (kind,)
    return out


def compare_stats(r, step, halls):
    """Exits at the first statistics hash whose fields differ between a hall's two sites (STATS=1)."""
    for tags, _ in halls:
        old_site, new_site = ['q:{%s}' % tag for tag in tags]
        old, new = stats_hashes(r, old_site), stats_hashes(r, new_site)
        for key in sorted(set(old) | set(new)):
            if old.get(key) != new.get(key):
                x, y = old.get(key) or {}, new.get(key) or {}
                fields = {f: (x.get(f), y.get(f)) for f in sorted(set(x) | set(y)) if x.get(f) != y.get(f)}
                sys.exit('after step %d %s statistics key %s differs (field: (old, new)): %s' % (step, old_site, key, str(fields)[:3000]))


def raw_entries_check(r, prefixes):
    """Exits at the first audit entry whose text differs between the sites (RAW=1): a named
    entry (`@<stream id>`) is compared by its position in its own stream, as the ids are times."""
    texts = []
    for prefix in prefixes:
        entries = stream_entries(r, prefix + ':events')
        position = {entry_id: str(i) for i, (entry_id, _) in enumerate(entries)}
        texts.append([re.sub(r'@(\d+-\d+)', lambda m: '@#' + position.get(m.group(1), m.group(1)), data)
                      for _, data in entries])
    for i, (old, new) in enumerate(zip(*texts)):
        if old != new:
            sys.exit('entry %d as text\n old %r\n new %r' % (i, old, new))
    if len(texts[0]) != len(texts[1]):
        sys.exit('entries: %d old, %d new' % (len(texts[0]), len(texts[1])))


def dump(r, prefix, build=None):
    """Every key of a site with its type, content (hashes without ~table, but with STATS=1) and
    whether it has a TTL, but the tickets and (but with STATS=1) the statistics of days not
    folded yet; the stream's entries built with `build`."""
    out = {}
    stored = r('GET', prefix + ':day') or '9999'
    for key in sorted(r('KEYS', prefix + ':*')):
        day = re.match(re.escape(prefix) + r':st:d:(\d{4}-\d\d-\d\d)', key)
        if day and day.group(1) >= stored and not STATS or key.startswith((prefix + ':t:', prefix + ':tp:')):
            continue  # (tickets: compared by their lookups, run())
        kind = r('TYPE', key)
        if kind == 'hash':
            flat = r('HGETALL', key)
            value = dict(zip(flat[::2], flat[1::2]))
            if not STATS:
                value.pop('~table', None)
            if key.endswith(':ewma'):
                value = {f: v for f, v in value.items() if f[:3] not in ('~L:', '~R:')}
        elif kind == 'zset':
            value = r('ZRANGE', key, 0, -1, 'WITHSCORES')
        elif kind == 'list':
            value = r('LRANGE', key, 0, -1)
        elif kind == 'set':
            value = sorted(r('SMEMBERS', key))
        elif kind == 'string':
            value = r('GET', key)
        else:  # the stream: its entries as clients get them, without their ids (real time)
            value = stream_events(key, stream_entries(r, key), build)
        out[key[len(prefix):]] = (kind, value, r('TTL', key) > 0)
    for key in IGNORED_KEYS:
        out.pop(key, None)
    return out


def ticket_ids(r, prefix):
    """The ids of every ticket a site holds: its own hashes and the fields of the shared ones
    (P:tp:<id but its last two characters>, field those two)."""
    ids = {key[len(prefix) + 3:] for key in r('KEYS', prefix + ':t:*')}
    for key in r('KEYS', prefix + ':tp:*'):
        ids.update(key[len(prefix) + 4:] + field for field in r('HKEYS', key))
    return ids


def ticket_read(reply):
    """A ticket as qh_ticket_read gave it, as compared: fields without a value, the library's
    own marks and a settled ticket's queue score left out."""
    t = {f: v for f, v in json.loads(reply).items() if v not in ('', None) and f != 'packed'}
    if t.get('state') in ('done', 'no_show', 'cancelled', 'expired'):
        t.pop('score', None)
    return t


def check_expiries(r, prefix):
    """Exits unless every ticket hash and every bucket of packed tickets has an expiry."""
    for key in r('KEYS', prefix + ':t:*') + r('KEYS', prefix + ':tp:*'):
        if r('TTL', key) < 0:
            sys.exit('key %s has no expiry' % key)


# How far apart two sites' TTLs of a ticket may be, in seconds: a step writes its sites a
# moment apart, and the TTLs are read a moment apart.
TTL_TOLERANCE = 5


def compare_ttls(r, old_site, new_site):
    """Exits at the first ticket hash or bucket of packed tickets that both sites hold whose
    TTLs differ by more than TTL_TOLERANCE (a retention taken from another hall, say)."""
    for kind in ('t', 'tp'):
        old = {key[len(old_site):] for key in r('KEYS', '%s:%s:*' % (old_site, kind))}
        new = {key[len(new_site):] for key in r('KEYS', '%s:%s:*' % (new_site, kind))}
        for key in sorted(old & new):
            ttls = [r('TTL', site + key) for site in (old_site, new_site)]
            if abs(ttls[0] - ttls[1]) > TTL_TOLERANCE:
                sys.exit('%s key %s: TTL old %d, new %d' % (old_site, key, ttls[0], ttls[1]))


def compare_sites(r, old_site, new_site):
    """Compares a hall's two sites at the end of a run: the tickets' expiries and TTLs, the
    entries as text (RAW=1), and every key (the stream's entries as clients get them, in order
    and each alone: dump); returns the number of keys compared and, with $EVENTBUILD_OLD, how
    many of the second site's entries the version before drops of how many (old_reader_check)."""
    for prefix in (old_site, new_site):
        check_expiries(r, prefix)
    compare_ttls(r, old_site, new_site)
    if RAW:
        raw_entries_check(r, [old_site, new_site])
    old, new = dump(r, old_site, OLD_BUILD), dump(r, new_site)
    for key in sorted(set(old) | set(new)):
        if old.get(key) != new.get(key):
            sys.exit('%s key %s\n old %s\n new %s' % (old_site, key, str(old.get(key))[:2000], str(new.get(key))[:2000]))
    dropped = OLD_BUILD and old_reader_check(r, new_site + ':events', new[':events'][1]) or (0, 0)
    return len(old), dropped


def setup_hall(base, rnd, region):
    """The hall of a setup step: base with service D dropped (its waiting tickets stay queued) and
    the comprehensive window made a specialised one, each half the time; in a region also the
    first service's prefix renamed, the second's service time or the retention changed, or a
    service E added."""
    hall = json.loads(json.dumps(base))
    if rnd.random() < 0.5:  # service D dropped (its waiting tickets stay queued)
        hall['services'] = hall['services'][:3]
        for w in hall['windows']:
            w['services'] = [s for s in w['services'] if s != 'D'] or ['A']
    if rnd.random() < 0.5:  # specialised windows only: each service its own competing set
        hall['windows'][0]['services'] = ['A', 'C']
    if region:
        if rnd.random() < 0.5:
            hall['services'][0]['prefix'] = rnd.choice(['A', 'P', 'X', 'Q'])
        if rnd.random() < 0.5:
            hall['services'][1]['service_time'] = rnd.choice([100, 260, 333, 900])
        if rnd.random() < 0.3:
            hall['site']['retention_days'] = rnd.choice([1, 7, 30, 90, 365])
        if rnd.random() < 0.3:
            hall['services'].append({"id": "E", "prefix": rnd.choice(['E', 'A']), "service_time": 300})
    return hall


def site_caller(r, current):
    """fcall(step, fn, now, *args): calls the function on each site current() gives ((site key,
    library name of the step) pairs: a hall's site with OLD and its site with NEW) and exits
    unless they answer the same; returns the first site's reply (JSON text)."""
    with_hour = {name: reads_hour(r, name) for name in ('vo', 'vn')}

    def fcall(step, fn, now, *args):
        replies = []
        sites = current()
        for prefix, library in sites:
            name = library(step)
            reply = r('FCALL', name + '_' + fn, 1, prefix, now, site_day(now, with_hour[name]), 0, *args)
            text = json.dumps(reply)
            for other, _ in sites:  # the sites' tags read alike
                text = text.replace(other[other.index('{'):], '{X}')
            replies.append(text)
        if fn == 'ticket_read':
            replies = [json.dumps(ticket_read(json.loads(reply) or '{}'), sort_keys=True) for reply in replies]
        elif OLD_BUILD and built(replies[1], OLD_BUILD) != built(replies[1]):
            sys.exit('step %d %s %s: the version before answers\n %s\nwhere this one answers\n %s\n%s'
                     % (step, fn, args, built(replies[1], OLD_BUILD), built(replies[1]), replies[1][:3000]))
        if replies[0] != replies[1] and not RAW and built(replies[0]) == built(replies[1]) != ['!']:
            replies = [json.dumps(built(reply)) for reply in replies]
        if replies[0] != replies[1]:
            sys.exit('step %d %s %s\n old %s\n new %s' % (step, fn, args, replies[0][:3000], replies[1][:3000]))
        return replies[0]

    def built(reply, build=None):
        """A reply as qserver answers it (the JSON of a string reply, as compared), by this
        version or by `build`; ['!'] when it is not a result or is malformed."""
        text = json.loads(reply)
        answer = (build or BUILD)('R', text) if isinstance(text, str) else ['!']
        return ['!'] if any(line.startswith('!') for line in answer) else answer

    return fcall


def run(r, seed, steps, upgrade_at):
    """Runs the workload on both sites (each hall's, SITES=2); returns the number of keys compared
    (tickets left out), of tickets compared and of those with a secret."""
    region = SITES > 1
    # per hall, its site with OLD and its site with NEW (their keys' tags) and its config
    halls = [(['A', 'B'], HALL)] if not region else [(['A1', 'B1'], HALL), (['A2', 'B2'], REGION_HALL)]
    libraries = [lambda step: 'vo', lambda step: 'vn' if step >= upgrade_at else 'vo']
    tags = halls[0][0]  # the hall of the step
    fcall = site_caller(r, lambda: [('q:{%s}' % tag, library) for tag, library in zip(tags, libraries)])
    rnd = random.Random(seed)
    secrets_of = {tag[0]: {} for tag, _ in halls}  # per hall, ticket id -> its secret, from the takes
    secrets = secrets_of[tags[0]]

    def take(step, now):
        """A take from a kiosk or the web, with or without a secret (qserver's 16 characters, or
        another length), a ref and notify marks; its secret kept by id."""
        alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
        secret = ''.join(rnd.choice(alphabet) for _ in range(rnd.choice([0, 16, 16, 16, 12, 20])))
        marked = rnd.random() < 0.3
        # a phone, digits with a leading zero or too many for a double, or any text
        ref = rnd.choice(['138%08d', '0%010d', '9%016d', 'R-%d']) % rnd.randint(0, 99999999) if rnd.random() < 0.4 else ''
        reply = fcall(step, 'take', now, rnd.choice(SERVICES + ['A', 'B'] + (['E'] if region else [])),
                      rnd.choice(['normal'] * 6 + ['priority', 'appointment']), rnd.choice(['kiosk', 'web']),
                      ref, secret,
                      rnd.choice(['', '2', '5']) if marked else '', rnd.choice(['', '600']) if marked else '')
        found = re.search(r'\b(20\d{6}-[A-Z]\d{3,})\b', reply)
        if found and secret:
            secrets[found.group(1)] = secret
    for tags, hall in halls:
        fcall(0, 'setup', NOW, json.dumps(hall))
        for w in (1, 2, 3, 4):
            fcall(0, 'open', NOW, str(w), CLERKS[w % 3], 'h/%d' % w, NOW + 10 * 86400)
    now = NOW
    base = HALL
    for step in range(1, steps + 1):
        if region:  # the hall of this step
            tags, base = rnd.choice(halls)
            secrets = secrets_of[tags[0]]
        if rnd.random() < 0.97:
            now += rnd.choice([1, 5, 20, 60, 200, 900])
        else:
            now += rnd.choice([3600, 20000, 86400])
        if STATS:
            compare_stats(r, step - 1, halls)
        if region and rnd.random() < 0.01:  # the clock goes back
            now -= rnd.choice([30, 3600, 86400])
        w = str(rnd.randint(1, 4))
        some_ticket = rnd.choice(SERVICES) + '%03d' % rnd.randint(1, 30)
        x = rnd.random()
        if x < 0.33:
            take(step, now)
        elif x < 0.35:  # the holder of a ticket's secret asks to be told (a waiting one only)
            held = sorted(secrets)[-rnd.randint(1, 10):] if secrets else ['']
            tid = rnd.choice(held)
            fcall(step, 'notify', now, tid, secrets.get(tid, ''), rnd.choice(['1', '3']), rnd.choice(['', '300']),
                  rnd.choice(['', '139%08d' % rnd.randint(0, 99999999)]))
        elif x < 0.55:
            fcall(step, 'call_next', now, w, rnd.choice(CLERKS))
        elif x < 0.68:
            fcall(step, 'finish', now, w, rnd.choice(['', '', '', '1', '3', '5']), '', '')
        elif x < 0.72:
            fcall(step, 'start', now, w)
        elif x < 0.75:
            fcall(step, 'recall', now, w)
        elif x < 0.79:
            fcall(step, 'no_show', now, w, rnd.choice(['0', '1']))
        elif x < 0.82:
            fcall(step, 'transfer', now, w, rnd.choice(SERVICES), '')
        elif x < 0.84:
            fcall(step, 'cancel', now, some_ticket)
        elif x < 0.86:  # today's number, or the id of an earlier day's ticket (a late rating)
            rated = some_ticket
            if rnd.random() < 0.5:
                rated = (site_day(now - rnd.choice([86400, 3 * 86400])).replace('-', '') + '-' +
                         rnd.choice(SERVICES) + '%03d' % rnd.randint(1, 8))
            fcall(step, 'rate', now, rated, str(rnd.randint(1, 5)), '', '', '', '', 'citizen')
        elif x < 0.88:
            fcall(step, rnd.choice(['pause', 'close']), now, w, 'x')
        elif x < 0.91:
            fcall(step, 'resume', now, w)
            fcall(step, 'open', now, w, rnd.choice(CLERKS), 'h/' + w, now + 10 * 86400)
        elif x < 0.925:
            fcall(step, 'day', now)
        elif x < 0.93:
            fcall(step, 'setup', now, json.dumps(setup_hall(base, rnd, region)))
        elif x < 0.95:
            fcall(step, 'call', now, w, rnd.choice(CLERKS), some_ticket)
        else:
            fcall(step, 'snapshot', now)
            fcall(step, 'services', now)
            since = site_day(now - rnd.choice([0, 86400, 40 * 86400]))
            for by in ['total', 'service', 'window', 'clerk', 'hour', 'day']:
                fcall(step, 'stats', now, since, site_day(now), by, rnd.choice(['', '1', '2']), '')
    if STATS:
        compare_stats(r, steps, halls)
    counted = [0, 0, 0, (0, 0)]
    for tags, _ in halls:
        old_site, new_site = ['q:{%s}' % tag for tag in tags]
        secrets = secrets_of[tags[0]]
        # the days not folded yet, compared by what stats answers (their keys are left out below
        # but with STATS=1)
        today = site_day(now)
        since = min(r('GET', old_site + ':day') or today, site_day(now - 86400))
        for win in ['', '1', '2', '3', '4']:
            for by in ['total', 'service', 'window', 'clerk', 'hour', 'day']:
                fcall(steps, 'stats', now, since, today, by, win, '')
        # every ticket either site holds: looked up with its secret and with a wrong one, and as
        # the library reads it
        tickets = sorted(ticket_ids(r, old_site) | ticket_ids(r, new_site))
        for tid in tickets:
            fcall(steps, 'ticket', now, tid, '', secrets.get(tid, ''))
            fcall(steps, 'ticket', now, tid, '', secrets.get(tid, '') + 'x')
            fcall(steps, 'ticket_read', now, tid)
        keys, dropped = compare_sites(r, old_site, new_site)
        counted = [counted[0] + keys, counted[1] + len(tickets),
                   counted[2] + sum(1 for tid in tickets if tid in secrets),
                   (counted[3][0] + dropped[0], counted[3][1] + dropped[1])]
    return counted[0], counted[1], counted[2], OLD_BUILD and counted[3]


# A hall of many services that share estimates in a service list: 14 services of three
# service times, a comprehensive window and specialised ones serving one or two services.
SHARED_SERVICES = ['S%02d' % i for i in range(1, 15)]
SHARED_HALL = {"site": {"id": "y", "sla": 900, "retention_days": 90, "utc_offsets": [[0, 28800]]},
               "services": [{"id": s, "prefix": s, "service_time": (300, 60, 120)[i % 3]}
                            for i, s in enumerate(SHARED_SERVICES)],
               "windows": [{"id": 1, "services": ["*"]}, {"id": 2, "services": ["S02"]},
                           {"id": 3, "services": ["S03", "S09"]}, {"id": 4, "services": ["S05"]},
                           {"id": 5, "services": ["S08", "S12"]}]}


def run_shared(r, seed, steps):
    """Runs a workload on SHARED_HALL on two more sites, OLD's and NEW's (NEW from step 0),
    comparing a snapshot and a service list after every step (and with STATS=1 every
    statistics hash): takes, calls, starts, finishes and no-shows, windows opened, paused and
    closed, from before the hall has learnt its mix (no ticket finished) on; at the end the two
    sites as the main run's (compare_sites: the audit entries, as clients get them and with
    RAW=1 as text, every key and the tickets' TTLs). Returns the number of snapshots and
    service lists compared, of keys compared, and what compare_sites says the version before
    drops."""
    fcall = site_caller(r, lambda: [('q:{C}', lambda step: 'vo'), ('q:{D}', lambda step: 'vn')])
    rnd = random.Random(seed)
    fcall(0, 'setup', NOW, json.dumps(SHARED_HALL))
    now, lists = NOW, 0
    for step in range(1, steps + 1):
        now += rnd.choice([1, 5, 20, 60, 200])
        if STATS:
            compare_stats(r, step - 1, [(['C', 'D'], SHARED_HALL)])
        w = str(rnd.randint(1, 5))
        x = rnd.random()
        # fewer takes than calls: the hall's queues run empty now and then, when an idle
        # window tells its services apart from those of a busy one
        if x < 0.08:
            fcall(step, 'take', now, rnd.choice(SHARED_SERVICES), 'normal', 'kiosk', '', '', '', '')
        elif x < 0.45:
            fcall(step, 'call_next', now, w, rnd.choice(CLERKS))
        elif x < 0.55:
            fcall(step, 'start', now, w)
        elif x < 0.72 and step > steps // 4:  # the first quarter: nothing finished, no mix
            if rnd.random() < 0.8:
                fcall(step, 'finish', now, w, '', '', '')
            else:
                fcall(step, 'no_show', now, w, '0')
        elif x < 0.9:
            fcall(step, 'open', now, w, rnd.choice(CLERKS), 'h/' + w, now + 10 * 86400)
        elif x < 0.95:
            fcall(step, 'resume', now, w)
        else:  # the comprehensive window half the time: while it is away, the specialised
            # windows alone tell the services apart
            fcall(step, rnd.choice(['pause', 'close']), now, rnd.choice(['1', w]), 'x')
        fcall(step, 'snapshot', now)
        fcall(step, 'services', now)
        lists += 2
    if STATS:
        compare_stats(r, steps, [(['C', 'D'], SHARED_HALL)])
    keys, dropped = compare_sites(r, 'q:{C}', 'q:{D}')
    return lists, keys, dropped


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    old, new = sys.argv[1], sys.argv[2]
    seed = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    steps = int(sys.argv[4]) if len(sys.argv) > 4 else 2000
    upgrade_at = int(sys.argv[5]) if len(sys.argv) > 5 else 0
    work = tempfile.mkdtemp(prefix='qhall-fdiff-')
    sock = os.path.join(work, 'redis.sock')
    server = subprocess.Popen(['redis-server', '--unixsocket', sock, '--port', '0', '--dir', work,
                               '--save', '', '--appendonly', 'no', '--logfile', os.path.join(work, 'log')])
    try:
        for _ in range(200):
            if os.path.exists(sock):
                break
            time.sleep(0.05)
        r = Redis(sock)
        while r('PING') != 'PONG':
            time.sleep(0.05)
        global BUILD, OLD_BUILD
        BUILD = Builder()
        if os.environ.get('EVENTBUILD_OLD'):
            OLD_BUILD = Builder(os.environ['EVENTBUILD_OLD'])
        load(r, old, 'vo')
        load(r, new, 'vn')
        keys, tickets, held, dropped = run(r, seed, steps, upgrade_at)
        print('seed %d, %d steps (new from step %d, %s): %d keys and %d tickets (%d with a secret), no difference'
              % (seed, steps, upgrade_at, 'a region of two halls' if SITES > 1 else 'one hall',
                 keys, tickets, held))
        lists, shared_keys, shared_dropped = run_shared(r, seed, max(steps // 2, 200))
        print('seed %d, a hall of %d services sharing estimates (new from step 0): %d snapshots and service lists, '
              '%d keys, no difference' % (seed, len(SHARED_SERVICES), lists, shared_keys))
        if dropped:
            print('the version before: %d of the second sites\' %d entries dropped whole, the rest the same'
                  % (dropped[0] + shared_dropped[0], dropped[1] + shared_dropped[1]))
        print('checked: replies and audit entries as clients get them, every key, tickets by lookup, '
              'their expiries and TTLs%s%s%s' % (
                  ', every statistics hash after every step (STATS=1)' if STATS else '',
                  ', replies and entries as text (RAW=1)' if RAW else '',
                  ', the version before\'s reading ($EVENTBUILD_OLD)' if OLD_BUILD else ''))
    finally:
        server.terminate()
        server.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == '__main__':
    main()
