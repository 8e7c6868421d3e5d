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

# Stream entries and results of the function library, as qserver reads them (fuzz_eventbuild:
# two entries split at a NUL, the second may name the learnt times the first records).
recorder = b'w,1,idle,,c01,1795830065\nL,*,360 129600 50|480 230400 50;240 57600 50\nq,A,3,n1 0 2|0.1000 0.0500 40|#1|3;2|@,5'
entries = [
    b'T,20261128-A005,,A,,,waiting,1795830000,,,,,,,,,4,n1 0 2|0.1000 0.0500 40|#1|3;2|@100-0\nq,A,5,^,4',
    b'U,20261128-A003,,A,,,c,1795830000,70,,,1,c01\nC\nW,c\nq,A,2,n1 0 2|0.1000 0.0500 40|#1|2;2|@100-0,2',
    b'U,20261127-A002,,A,,,c,1795744800,300,,,2,c01,2\nC,-5,0,3',
    b'U,20261127-A002,,A,,,s,1795744800,300,360,,2,c01\nW,s',
    b'U,20261127-A001,,A,,,d,1795744000,60,,700,2,c01\nU,20261127-A002,,A,,,c,1795744800,300,,,2,c01\nC\nW,c,,1795744060',
    b'T,20261127-A002,,A,,,waiting,1795744800\nW,i,3,1795745000,c\\,0\\\\2\nq,A,1,600,2,500,700',
    b'T,20261127-A002,,A,,,called,1795744800,300,,,2,c01\nc,,2,0,1795745100\nw,2,calling,A002,c01,1795745100\nq,A,3,600,2,500,700',
    b'w,3,paused,,,1795745000,lunch\\, back at 2\\nsee \\\\desk',
    b'[["t","20261127-A002","A002","A","normal","kiosk","called","1795744800","1795745100","","","2","c01","0","0","","","","","",""],["c","20261127-A002","2","0","1795745100"]]',
    b'ticket\nT,20261127-B001,X9,B,priority,web,done,1795744800,60,120,-5,3,c02,1,2,4,7,8,1,9,10',
    b'window\nw,2,calling,A002,c01,1795745100',
    b'U,20261127-A002,,A,,,c,1795744800,300,,,2,c01\nC,9223372036854775000',
    b'U,20261127-A002,,A,,,c,1795744800,300,,,9223372036854775807,c01\nC\nW,c',
]
for e in entries:
    put('eventbuild', e)
    put('eventbuild', recorder + b'\0' + e)
print('eventbuild seeds:', 2 * len(entries))
