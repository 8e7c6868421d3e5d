"""The pages' shared live-update code (web/lib/qhall.js) in headless Chromium against a real
qserver: events arrive, a qserver restart shows the offline state and then resumes from the
last event id without losing what happened meanwhile, and the pages' security headers hold
(no console errors from the Content-Security-Policy)."""
from harness import Hall, Browser, Tap, KIOSK, MANAGER, wait_until

tap = Tap()

with Hall() as hall, Browser(hall, 1280, 800) as b:
    kiosk = hall.session(**KIOSK)
    manager = hall.session(**MANAGER)
    b.open('/')
    b.js("""
        window.seen = []; window.states = []; window.resets = 0;
        window.link = Q.live('/api/v1/sites/small/events?topics=queue,called', ['queue', 'called'], {
          event: (name, data) => seen.push(name + ':' + (data.ticket ? data.ticket.number : data.service)),
          reset: () => resets++,
          state: (up) => states.push(up) });
    """)

    def took(service):
        return hall.op(kiosk, 'take', service=service)['ticket']['number']

    errors = b.console_errors()
    tap.check('the shared library loads under the Content-Security-Policy',
              lambda: b.js('return typeof Q.live') == 'function' and not errors or print('#', errors))
    tap.check('the link reports itself online', lambda: wait_until(lambda: b.js('return states[0] === true')))
    for w in (1, 3):
        hall.op(manager, 'resume', window=w)
    first = took('A')
    tap.check('a take reaches the page as a queue event',
              lambda: wait_until(lambda: 'queue:A' in b.js('return seen')))
    hall.op(manager, 'call_next', window=1)
    tap.check('a call reaches the page as a called event naming the ticket',
              lambda: wait_until(lambda: 'called:' + first in b.js('return seen')))

    hall.stop_qserver()
    tap.check('a stopped qserver shows as offline within a few seconds',
              lambda: wait_until(lambda: b.js('return states[states.length - 1] === false'), 8))
    # Another qserver of the region would go on serving; here the same one comes back and the
    # ticket taken meanwhile must still reach the page, from the stream, in order.
    hall.start_qserver()
    kiosk = hall.session(**KIOSK)
    manager = hall.session(**MANAGER)
    second = took('B')
    hall.op(manager, 'call_next', window=3)
    tap.check('after the restart the page is online again',
              lambda: wait_until(lambda: b.js('return states[states.length - 1] === true'), 35))
    tap.check('and the call made after the restart reaches it',
              lambda: wait_until(lambda: 'called:' + second in b.js('return seen'), 10))
    tap.check('no event arrived twice',
              lambda: len(b.js('return seen.filter(s => s.startsWith("called:"))')) == 2)
    b.screenshot('live-index-1280x800')

tap.finish()
