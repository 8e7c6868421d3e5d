"""The rating pad page /pad/{site}/{window} in headless Chromium at 1280x800 against a real
qserver: it asks for its token once and keeps it, waits idle, shows the ticket a clerk just
finished at its window with the five 好差评 levels, sends the touched level (which `ratings`
and `stats` then show), thanks and goes back to idle; another window's finish leaves it idle,
and a rating after the pad's 120 s is refused on screen."""
from harness import Hall, Browser, Tap, KIOSK, MANAGER, wait_until

tap = Tap()


def showing(b, screen):
    """Whether the pad shows that screen (setup, idle, rate, thanks)."""
    return b.visible('#' + screen)


with Hall(args=['--test-clock']) as hall, Browser(hall, 1280, 800) as b:
    kiosk = hall.session(**KIOSK)
    manager = hall.session(**MANAGER)

    def serve(window, clerk):
        """A ticket of A taken, called and finished by the clerk at the window; its number."""
        number = hall.op(kiosk, 'take', service='A')['ticket']['number']
        hall.qcli('--clerk', clerk, '--window', str(window), 'call_next')
        done = hall.qcli('--clerk', clerk, '--window', str(window), 'finish')
        assert done['ticket']['state'] == 'done' and done['ticket']['number'] == number, done
        return number

    b.open('/pad/small/1')
    tap.check('a new pad asks for its token', lambda: wait_until(lambda: showing(b, 'setup')))
    b.screenshot('pad-setup-1280x800')
    b.type('#token', 'kiosk123')
    b.click('#setup-save')
    tap.check('a kiosk token is refused, and the pad asks again',
              lambda: wait_until(lambda: b.text('#setup-error') != '' and showing(b, 'setup')))
    b.type('#token', 'pad123')
    b.type('#kiosk', 'pad-1')
    b.click('#setup-save')
    tap.check('with its token it signs in and waits, naming its window',
              lambda: wait_until(lambda: showing(b, 'idle') and '1号窗口' in b.text('header')
                                 and '测试大厅' in b.text('header')))
    b.open('/pad/small/1')
    tap.check('the token is kept: a reload goes straight to idle',
              lambda: wait_until(lambda: showing(b, 'idle')) and not showing(b, 'setup'))
    b.screenshot('pad-idle-1280x800')

    first = serve(1, 'c01')
    tap.check('a finish at window 1 shows its ticket and the five levels',
              lambda: wait_until(lambda: showing(b, 'rate') and b.text('#rate-number') == first))
    labels = [e.text.replace('\n', ' ') for e in b.find_all('#levels button')]
    tap.check('the levels read 5 非常满意 … 1 非常不满意, bilingual',
              lambda: labels == ['5 非常满意 Very satisfied', '4 满意 Satisfied', '3 基本满意 Fair',
                                 '2 不满意 Dissatisfied', '1 非常不满意 Very dissatisfied'] or print('#', labels))
    size = b.js("const r = document.querySelector('#levels button').getBoundingClientRect(); return [r.width, r.height]")
    tap.check('each level is a large touch target (over 200x200 px)', lambda: size[0] > 200 and size[1] > 200)
    b.screenshot('pad-rate-1280x800')
    b.click('#levels button[data-score="4"]')
    tap.check('a touch thanks the citizen', lambda: wait_until(lambda: showing(b, 'thanks') and '谢谢' in b.text('#thanks')))
    b.screenshot('pad-thanks-1280x800')
    tap.check('then the pad is idle again', lambda: wait_until(lambda: showing(b, 'idle'), 8))

    ratings = hall.op(manager, 'ratings', **{'from': '2020-01-01', 'to': '2099-12-31'})['ratings']
    tap.check('ratings lists it: score 4 from the pad at window 1, by c01',
              lambda: [(r['number'], r['score'], r['source'], r['window'], r['clerk']) for r in ratings]
              == [(first, 4, 'pad', 1, 'c01')] or print('#', ratings))
    today = hall.op(manager, 'ping')['time']
    import time as _t
    day = _t.strftime('%Y-%m-%d', _t.gmtime(today + 8 * 3600))  # the small hall is in Asia/Shanghai
    row = hall.op(manager, 'stats', **{'from': day, 'to': day})['rows'][0]
    tap.check('stats count it in rating_counts', lambda: row['rating_counts'] == [0, 0, 0, 1, 0] or print('#', row))

    serve(2, 'c02')
    tap.check("another window's finish leaves the pad idle",
              lambda: not wait_until(lambda: showing(b, 'rate'), 2) and showing(b, 'idle'))

    late = serve(1, 'c01')
    tap.check('the next finish at window 1 is offered', lambda: wait_until(lambda: b.text('#rate-number') == late))
    hall.op(manager, 'clock', advance=121)
    b.click('#levels button[data-score="5"]')
    tap.check('past 120 s the server refuses, and the pad says the time is over',
              lambda: wait_until(lambda: '评价时间已过' in b.text('#thanks')))
    # the refused token (401) and the late rating (403) are logged by Chromium as failed loads
    errors = [e for e in b.console_errors() if 'Failed to load resource' not in e]
    tap.check('no other console errors (CSP, exceptions)', lambda: not errors or print('#', errors))

tap.finish()
