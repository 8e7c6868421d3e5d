#!/usr/bin/env python3
"""Reads the Prometheus text exposition format (0.0.4) for tests/web/test_metrics.sh.

  promtext.py check FILE           exit 0 when FILE is well-formed, else print why and exit 1
  promtext.py get FILE 'SERIES'    print the value of one series (0 when it is absent), e.g.
                                   get FILE 'qhall_requests_total{op="take"}'
  promtext.py diff A B PREFIX      print "SERIES DELTA" for each series starting with PREFIX
                                   whose value differs from A to B (absent counts as 0)

check: every line is a HELP, a TYPE or a sample; a family has one HELP and one TYPE, before
its samples; a sample's labels are name="value" pairs with escaped values; no series twice;
counters are not negative; a histogram's buckets rise with le, end in +Inf, and +Inf equals
its _count.
"""
import math
import re
import sys

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
SAMPLE = re.compile(rf"^({NAME})(\{{(?:{LABEL}(?:,{LABEL})*)?\}})? (\S+)(?: -?\d+)?$")
HELP = re.compile(rf"^# HELP ({NAME}) .*$")
TYPE = re.compile(rf"^# TYPE ({NAME}) (counter|gauge|histogram|summary|untyped)$")
LABEL_PAIR = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_value(text):
    if text in ("+Inf", "-Inf", "NaN"):
        return float(text.replace("Inf", "inf").replace("NaN", "nan"))
    return float(text)  # raises ValueError on anything else


def family_of(name, types):
    for suffix in ("_bucket", "_sum", "_count"):
        base = name[: -len(suffix)] if name.endswith(suffix) else None
        if base and types.get(base) == "histogram":
            return base
    return name


def check(path):
    types, helps, seen = {}, set(), set()
    buckets = {}  # (family, labels without le) -> [(le, value)]
    counts = {}
    errors = []
    with open(path, encoding="utf-8") as f:
        text = f.read()
    if not text.endswith("\n"):
        errors.append("the text does not end with a newline")
    for n, line in enumerate(text.split("\n")[:-1], 1):
        if m := HELP.match(line):
            if m[1] in helps:
                errors.append(f"line {n}: a second HELP for {m[1]}")
            helps.add(m[1])
            continue
        if m := TYPE.match(line):
            if m[1] in types:
                errors.append(f"line {n}: a second TYPE for {m[1]}")
            types[m[1]] = m[2]
            continue
        m = SAMPLE.match(line)
        if not m:
            errors.append(f"line {n}: not a HELP, TYPE or sample: {line!r}")
            continue
        name, labels, value = m[1], m[2] or "", m[3]
        fam = family_of(name, types)
        if fam not in types or fam not in helps:
            errors.append(f"line {n}: {name} has no TYPE and HELP before it")
            continue
        try:
            v = parse_value(value)
        except ValueError:
            errors.append(f"line {n}: {value!r} is not a number")
            continue
        series = (name, labels)
        if series in seen:
            errors.append(f"line {n}: {name}{labels} appears twice")
        seen.add(series)
        if types[fam] in ("counter", "histogram") and v < 0:
            errors.append(f"line {n}: {name} is negative")
        pairs = LABEL_PAIR.findall(labels)
        if types[fam] == "histogram":
            rest = tuple(p for p in pairs if p[0] != "le")
            if name.endswith("_bucket"):
                le = dict(pairs).get("le")
                if le is None:
                    errors.append(f"line {n}: a bucket without le")
                    continue
                buckets.setdefault((fam, rest), []).append((parse_value(le), v))
            elif name.endswith("_count"):
                counts[(fam, rest)] = v
    for key, bs in buckets.items():
        les = [le for le, _ in bs]
        values = [v for _, v in bs]
        if les != sorted(les) or not math.isinf(les[-1]):
            errors.append(f"{key}: buckets not in rising le order ending in +Inf")
        if values != sorted(values):
            errors.append(f"{key}: buckets not cumulative")
        if counts.get(key) != values[-1]:
            errors.append(f"{key}: +Inf bucket {values[-1]} differs from _count {counts.get(key)}")
    for e in errors:
        print(e)
    return 0 if not errors else 1


def samples(path):
    """The series of a file and their values."""
    out = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            series, value = line.rstrip("\n").rsplit(" ", 1)
            out[series] = float(value)
    return out


def diff(path_a, path_b, prefix):
    a, b = samples(path_a), samples(path_b)
    for series in sorted(set(a) | set(b)):
        delta = b.get(series, 0) - a.get(series, 0)
        if series.startswith(prefix) and delta:
            print(series, f"{delta:g}")
    return 0


def get(path, series):
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.startswith(series + " "):
                print(line.split()[-1])
                return 0
    print(0)
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "check":
        sys.exit(check(sys.argv[2]))
    if len(sys.argv) == 4 and sys.argv[1] == "get":
        sys.exit(get(sys.argv[2], sys.argv[3]))
    if len(sys.argv) == 5 and sys.argv[1] == "diff":
        sys.exit(diff(sys.argv[2], sys.argv[3], sys.argv[4]))
    print(__doc__, file=sys.stderr)
    sys.exit(2)
