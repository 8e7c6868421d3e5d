#!/usr/bin/env python3
"""Writes a Bao'an-like region for `qserver --config DIR`: region.json and 135 hall files.

The district center (examples/baoan.json grown to 40 windows), 10 street centers (10 windows
each) and 124 community centers (2 or 3 windows), with the services each level really offers.
Passwords and tokens are the demo ones of examples/baoan.json (its hashes are copied, so no
secret is made here): clerks clerk123, managers m01 manager123, kiosk-1 kiosk123 at every site
(and kiosk-2 kiosk456 at the district center); region managers r01 (every site) and one per
street (r-<street>: the street and its communities), manager123.

usage: examples/baoan-region/generate.py [OUT_DIR]   (default: the folder of this script)
Only the Python 3 standard library is used; the output is the same on every run.
"""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
# Where citizens reach the pages: make run serves them here (a hall going live puts its own
# https address, the one its QR codes will carry).
PUBLIC_URL = "http://127.0.0.1:8080"
HOURS = {"mon": "09:00-18:00", "tue": "09:00-18:00", "wed": "09:00-18:00", "thu": "09:00-18:00",
         "fri": "09:00-18:00", "sat": "09:00-12:00", "sun": "closed"}

# The 10 streets of Bao'an with their number of communities (124 in all).
STREETS = [("xinan", "新安", "Xin'an", 19), ("xixiang", "西乡", "Xixiang", 25),
           ("hangcheng", "航城", "Hangcheng", 10), ("fuyong", "福永", "Fuyong", 9),
           ("fuhai", "福海", "Fuhai", 8), ("shajing", "沙井", "Shajing", 13),
           ("xinqiao", "新桥", "Xinqiao", 10), ("songgang", "松岗", "Songgang", 11),
           ("yanluo", "燕罗", "Yanluo", 7), ("shiyan", "石岩", "Shiyan", 12)]

# Services: id, prefix, name, English name, default service time (s).
STREET_SERVICES = [
    ("A", "A", "社会保障", "Social security", 300),
    ("H", "H", "医疗保险", "Medical insurance", 300),
    ("D", "D", "户籍", "Household registration", 360),
    ("R", "R", "居住证", "Residence permit", 240),
    ("N", "N", "民政救助", "Civil affairs and relief", 420),
    ("W", "W", "卫生健康", "Health and family services", 300),
    ("P", "P", "劳动就业", "Employment services", 360),
    ("M", "M", "综合咨询", "General enquiries", 180),
]
# Services of the street centers that also take appointments (预约), as docs/config.md has them;
# the district center's come from examples/baoan.json, community centers take none.
STREET_APPOINTMENTS = {
    "D": {"slot_minutes": 30, "per_slot": 2, "days_ahead": 7, "checkin_before": 900, "checkin_after": 600},
    "R": {"slot_minutes": 30, "per_slot": 3, "days_ahead": 7},
}
COMMUNITY_SERVICES = [
    ("A", "A", "社保医保", "Social and medical insurance", 300),
    ("R", "R", "居住证", "Residence permit", 240),
    ("N", "N", "民政与养老", "Civil affairs and elderly care", 360),
    ("M", "M", "综合咨询", "General enquiries", 180),
]


def hashes():
    """The demo hashes of examples/baoan.json: clerk, manager and kiosk token."""
    with open(os.path.join(HERE, "..", "baoan.json"), encoding="utf-8") as f:
        hall = json.load(f)
    clerk = next(u["password_hash"] for u in hall["users"] if u["role"] == "clerk")
    manager = next(u["password_hash"] for u in hall["users"] if u["role"] == "manager")
    kiosk = next(k["token_hash"] for k in hall["kiosks"] if k["id"] == "kiosk-1")
    return hall, clerk, manager, kiosk


def windows_for(services, count, comprehensive):
    """count windows: the first `comprehensive` serve everything, the others one service each in turn."""
    out = []
    for i in range(1, count + 1):
        if i <= comprehensive:
            serves, label = ["*"], "综合窗口"
        else:
            svc = services[(i - comprehensive - 1) % len(services)]
            serves, label = [svc[0]], svc[2]
        out.append({"id": i, "name": f"{i}号窗口（{label}）", "name_en": f"Window {i}",
                    "services": serves})
    return out


def hall(site_id, name, name_en, services, windows, clerk_hash, manager_hash, kiosk_hash, appointments=None):
    """One hall file in the format of docs/config.md: a clerk per window and a manager;
    appointments maps service ids to their `appointments` object."""
    users = [{"id": f"c{w['id']:02d}", "name": f"{name}窗口{w['id']}", "role": "clerk",
              "password_hash": clerk_hash, "windows": [w["id"]]} for w in windows]
    users.append({"id": "m01", "name": f"{name}值班主任", "role": "manager",
                  "password_hash": manager_hash, "windows": ["*"]})
    return {"site": {"id": site_id, "name": name, "name_en": name_en, "tz": "Asia/Shanghai",
                     "public_url": PUBLIC_URL, "remote_take": True,
                     "sla": 900, "retention_days": 90, "hours": HOURS},
            "services": [dict({"id": s[0], "prefix": s[1], "name": s[2], "name_en": s[3], "service_time": s[4]},
                              **({"appointments": appointments[s[0]]} if s[0] in (appointments or {}) else {}))
                         for s in services],
            "windows": windows, "users": users,
            "kiosks": [{"id": "kiosk-1", "token_hash": kiosk_hash}]}


def district_center(baoan, clerk_hash):
    """The district center: examples/baoan.json as it is (its windows 1-8, clerks c01-c08,
    manager, kiosks and hours, so the README's tour works unchanged), grown to 40 windows:
    9-40 each serve one service in turn, with clerk c09-c40 at each."""
    center = json.loads(json.dumps(baoan))
    services = [s["id"] for s in center["services"]]
    names = {s["id"]: s["name"] for s in center["services"]}
    for i in range(9, 41):
        svc = services[(i - 9) % len(services)]
        center["windows"].append({"id": i, "name": f"{i}号窗口（{names[svc]}）", "name_en": f"Window {i}",
                                  "services": [svc]})
        center["users"].append({"id": f"c{i:02d}", "name": f"区中心窗口{i}", "role": "clerk",
                                "password_hash": clerk_hash, "windows": [i]})
    return center


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else HERE
    os.makedirs(out_dir, exist_ok=True)
    district, clerk, manager, kiosk = hashes()
    halls = {}
    sites = [{"id": "baoan", "level": "district", "parent": None}]
    halls["baoan"] = district_center(district, clerk)
    users = [{"id": "r01", "name": "区政务服务数据管理局", "role": "manager",
              "password_hash": manager, "sites": ["*"]}]
    for sid, sname, sname_en, communities in STREETS:
        sites.append({"id": sid, "level": "street", "parent": "baoan"})
        halls[sid] = hall(sid, f"{sname}街道党群服务中心", f"{sname_en} Street Service Center",
                          STREET_SERVICES, windows_for(STREET_SERVICES, 10, 2), clerk, manager, kiosk,
                          STREET_APPOINTMENTS)
        scope = [sid]
        for n in range(1, communities + 1):
            cid = f"{sid}-{n:02d}"
            count = 3 if n % 3 == 1 else 2
            sites.append({"id": cid, "level": "community", "parent": sid})
            halls[cid] = hall(cid, f"{sname}街道第{n}社区党群服务中心",
                              f"{sname_en} Community {n} Service Center",
                              COMMUNITY_SERVICES, windows_for(COMMUNITY_SERVICES, count, 1), clerk, manager, kiosk)
            scope.append(cid)
        users.append({"id": f"r-{sid}", "name": f"{sname}街道管理员", "role": "manager",
                      "password_hash": manager, "sites": scope})
    region = {"region": {"id": "baoan", "name": "宝安区", "name_en": "Bao'an District"},
              "sites": sites, "users": users}
    for sid, h in halls.items():
        with open(os.path.join(out_dir, f"{sid}.json"), "w", encoding="utf-8") as f:
            json.dump(h, f, ensure_ascii=False, indent=1)
            f.write("\n")
    with open(os.path.join(out_dir, "region.json"), "w", encoding="utf-8") as f:
        json.dump(region, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print(f"{out_dir}: region.json and {len(halls)} halls "
          f"({sum(len(h['windows']) for h in halls.values())} windows)")


if __name__ == "__main__":
    main()
