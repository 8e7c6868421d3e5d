#!/usr/bin/env python3
# Run from the top folder: python3 tests/fuzz/make-seeds.py (only to build the seeds anew).
# Builds the seed corpora of tests/fuzz from the project's own test inputs.
import re, os, hashlib
root = '.'
out = 'tests/fuzz/corpus'
hello = {
    'MGR': b'{"op":"hello","role":"manager","user":"m01","password":"manager123"}\n',
    'KIOSK': b'{"op":"hello","role":"kiosk","token":"kiosk123"}\n',
    'CLERK': b'{"op":"hello","role":"clerk","user":"c01","password":"clerk123","window":1}\n',
    'PUB': b'',
}
def put(kind, data):
    d = os.path.join(out, kind)
    os.makedirs(d, exist_ok=True)
    name = hashlib.sha1(data).hexdigest()[:16]
    open(os.path.join(d, name), 'wb').write(data)

src = open('tests/integration/test_malformed.c', encoding='latin-1').read()
n = 0
for m in re.finditer(r'\{(MGR|PUB|KIOSK|CLERK), L\("((?:[^"\\]|\\.)*)"\)', src):
    who, lit = m.group(1), m.group(2)
    line = lit.encode('latin-1').decode('unicode_escape').encode('latin-1')
    put('dispatch', hello[who] + line + b'\n')
    n += 1
ops = [
    '{"id":1,"op":"ping"}', '{"op":"hello","role":"public"}', '{"op":"site"}', '{"op":"services"}',
    '{"op":"snapshot"}', '{"op":"subscribe","topics":["called","queue"]}', '{"op":"ticket","number":"A001"}',
    '{"op":"take","service":"A","class":"priority","channel":"kiosk","ref":"13800000000"}',
    '{"op":"cancel","id":"20261127-A001"}', '{"op":"rate","id":"20261127-A001","score":5}',
    '{"op":"call_next","window":1}', '{"op":"call","window":1,"ticket":"A001"}', '{"op":"recall","window":1}',
    '{"op":"start","window":1}', '{"op":"finish","window":1,"rating":4}', '{"op":"no_show","window":1,"requeue":true}',
    '{"op":"transfer","window":1,"service":"B"}', '{"op":"pause","window":1,"reason":"lunch"}',
    '{"op":"resume","window":1}', '{"op":"close","window":1}', '{"op":"queue","service":"A"}',
    '{"op":"stats","from":"2026-11-01","to":"2026-11-27","by":"service"}', '{"op":"clock","advance":86400}',
    '{"op":"slots","service":"C","date":"2026-11-28"}',
    '{"op":"book","service":"C","date":"2026-11-28","start":"10:00","ref":"13800000000"}',
    '{"op":"appointment","code":"7kx2-m9qd"}', '{"op":"cancel_appointment","code":"7KX2M9QD"}',
    '{"op":"checkin","code":"7KX2M9QD"}',
]
for op in ops:
    put('dispatch', hello['MGR'] + op.encode() + b'\n')
    put('dispatch', op.encode() + b'\n')
put('dispatch', b''.join(o.encode() + b'\n' for o in ops))
put('dispatch', b'{"op":"ping"}\r\n{"op":"pi')
print('dispatch seeds from test_malformed.c:', n)

for f in ['tests/data/small.json', 'tests/data/hours.json', 'tests/data/race.json', 'examples/baoan.json']:
    put('config', open(f, 'rb').read())
put('config', b'{"site":{"id":"x","name":"x","name_en":"x","tz":"UTC"},"services":[{"id":"A","prefix":"A","name":"a","name_en":"a"}],"windows":[{"id":1,"services":["*"]}]}')

site = b'{"id":"small","name":"\xe5\xb0\x8f","name_en":"Small","tz":"Asia/Shanghai","date":"2026-11-27","open":true,"sla":900}'
# The client's ids: 1 the ping it asks for at connect (held until the session is set up),
# 2 hello, 3 subscribe, 4 snapshot, 5 the services it asks for once ready.
ready = (b'{"id":2,"ok":true,"protocol":2,"server":"qserver/0.1.0","role":"public","site":' + site + b'}\n'
         b'{"id":3,"ok":true,"topics":["called","queue","window","ticket"]}\n'
         b'{"id":4,"ok":true,"site":' + site + b',"services":[{"id":"A","waiting":1,"ewt":60}],"windows":[{"id":1,"state":"idle"}],"recent":[]}\n')
events = (b'{"event":"called","ticket":{"id":"20261127-A001","number":"A001","state":"called"},"window":{"id":1,"name":"1","name_en":"Window 1"},"recall":0,"at":1795744800}\n'
          b'{"event":"queue","service":"A","waiting":0,"ewt":0}\n'
          b'{"event":"window","window":{"id":1,"state":"calling"}}\n')
put('client', ready + events + b'{"id":1,"ok":true,"time":1795744800}\n{"id":5,"ok":true,"services":[]}\n')
put('client', ready)
put('client', events + ready)
put('client', b'{"id":2,"ok":false,"error":{"code":"unauthenticated","message":"Wrong user or password."}}\n')
put('client', b'{"id":2,"ok":false,"error":{"code":"unavailable","message":"Storage is unreachable; retry later."}}\n')
put('client', b'{"ok":false,"error":{"code":"unavailable","message":"The server has too many connections; retry later."}}\n')
put('client', b'\n  \r\n{"id":1,"ok":true}\n{"id":1,"ok":true}\n{"id":"1","ok":true}\n{"id":2,"event":"x"}\n[1]\n')
put('client', b'{"id":2,"ok":true,"role":"public"}\n{"id":3,"ok":true}\n{"id":4,"ok":true}\n{"id":1,"ok":true}\n{"id":5,"ok":true}\nnot json\n')
put('client', ready + b'{"event":"session","reason":"replaced","message":"Signed in elsewhere."}\n')
