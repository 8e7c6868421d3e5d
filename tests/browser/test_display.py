"""The hall's TV display (/display) in headless Chromium against a real qserver: a call shows
within 1 s of call_next, a burst of calls shows each one in order for its minimum time, a
recall shows again, the chime and the voice (Mandarin, then English) go with each call,
waiting counts equal the services op's, the clock and date are the site's time zone's,
today's mean wait stands against the target, zones (windows=, services=) filter what shows,
the offline banner comes and goes with qserver and the call made meanwhile is shown, no
console errors, and screenshots at 1920x1080 and 1080x1920 of a busy hall, every part inside
the screen (no scrollbars)."""
import datetime
import os
import subprocess
import time
from zoneinfo import ZoneInfo

from harness import Hall, Browser, Tap, KIOSK, MANAGER, ROOT, wait_until

MIN_SHOW = 4.0  # the page's default minimum time on the big line

# Records what the big line shows (number@window, '!' when marked as a recall) with the time it
# changed, from the page's DOM; and stands in for the speech engine (headless Chromium has no
# voices), recording each utterance and ending it at once, as the terminal display's tests use
# a stand-in for espeak-ng.
WATCH = """
window.shown = []; window.spoken = []; window.chimes = 0;
const now = document.getElementById('now');
function rec() {
  if (now.classList.contains('idle')) return;
  const key = document.getElementById('now-number').textContent + '@' +
    document.getElementById('now-window').textContent +
    (document.getElementById('now-recall').hidden ? '' : '!');
  if (!shown.length || shown[shown.length - 1].key !== key) shown.push({key: key, t: Date.now()});
}
new MutationObserver(rec).observe(now, {subtree: true, childList: true, characterData: true, attributes: true});
rec();
document.getElementById('chime').addEventListener('play', () => chimes++);
speechSynthesis.speak = function (u) {
  spoken.push([u.lang, u.text]);
  setTimeout(() => u.onend && u.onend(), 30);
};
"""


def shown(b):
    """The big line's calls so far: [(key, epoch seconds)]."""
    return [(s['key'], s['t'] / 1000.0) for s in b.js('return shown')]


def keys(b):
    return [k for k, _ in shown(b)]


def recent(b):
    """The recent list's calls as number@window, newest first."""
    return b.js("""return Array.from(document.querySelectorAll('#recent .recent-item:not(.empty)'))
                   .map(li => li.querySelector('.recent-number').textContent + '@' +
                              li.querySelector('.recent-window').textContent)""")


def take(hall, kiosk, services):
    """Takes a ticket for each service id in services ('AAB': two for A, one for B)."""
    for service in services:
        hall.op(kiosk, 'take', service=service)


def fits_screen(b):
    """Nothing scrolls and every part of the board lies inside the screen."""
    return b.js("""
      const w = innerWidth, h = innerHeight, d = document.documentElement;
      if (d.scrollWidth > w || d.scrollHeight > h) return false;
      const parts = document.querySelectorAll('.top, .now, .recent, .services, .service, .bottom, .now-call');
      return Array.from(parts).every(e => { const r = e.getBoundingClientRect();
        return r.left >= 0 && r.top >= 0 && r.right <= w + 0.5 && r.bottom <= h + 0.5; })
        && Array.from(document.querySelectorAll('.service')).every(e =>
          e.getBoundingClientRect().bottom <= document.querySelector('.services').getBoundingClientRect().bottom + 0.5);
    """)


tap = Tap()

with Hall() as hall, Browser(hall, 1920, 1080) as b:
    kiosk = hall.session(**KIOSK)
    manager = hall.session(**MANAGER)
    for w in (1, 2, 3):
        hall.op(manager, 'resume', window=w)
    take(hall, kiosk, 'AAABBBC')

    b.open('/display?site=small')
    tap.check('the display shows the site name in both languages',
              lambda: wait_until(lambda: '测试大厅' in b.text('#site-name') and b.text('#site-name-en') == 'Test hall'))
    tap.check('it is live (the status line says so)', lambda: wait_until(lambda: '实时 Live' in b.text('#status')))
    b.js(WATCH)

    # A call within 1 s of call_next's answer, measured to the DOM change.
    first = hall.op(manager, 'call_next', window=1)['ticket']['number']
    answered = time.time()
    tap.check('a call shows on the big line', lambda: wait_until(lambda: first + '@1' in keys(b), 3))
    delay = [t for k, t in shown(b) if k == first + '@1'][0] - answered
    print('# call_next answer to the display: %.0f ms' % (delay * 1000))
    tap.check('within 1 s of call_next (%.0f ms)' % (delay * 1000), lambda: delay < 1.0)
    tap.check('the call as a sentence in Chinese and English',
              lambda: b.text('#now-caption-zh') == '请 %s 号到 1号窗口办理' % first
              and b.text('#now-caption-en') == 'Ticket %s, please go to Window 1' % first)
    tap.check('a chime, then the call said in Chinese, then in English',
              lambda: wait_until(lambda: b.js('return chimes') >= 1 and len(b.js('return spoken')) >= 2)
              and b.js('return spoken')[:2] == [['zh-CN', '请 %s 号，到 1号窗口办理' % first],
                                                ['en', 'Number %s, please go to window 1' % ' '.join(first)]]
              or print('#', b.js('return [chimes, spoken]')))

    # A burst of three calls: each shown, in order, each for the minimum time, none lost.
    burst = [hall.op(manager, 'call_next', window=w)['ticket']['number'] + '@%d' % w for w in (2, 3, 1)]
    tap.check('a burst of 3 calls shows each one, in order',
              lambda: wait_until(lambda: keys(b)[-3:] == burst, 3 * MIN_SHOW + 5) or print('#', keys(b), burst))
    times = [t for _, t in shown(b)[-4:]]
    gaps = [round(b2 - a, 2) for a, b2 in zip(times, times[1:])]
    print('# times on the big line: %s s' % gaps)
    tap.check('each for at least the minimum time (%s s)' % MIN_SHOW,
              lambda: all(g >= MIN_SHOW - 0.05 for g in gaps[1:]) and gaps[0] >= -0.05)
    tap.check('and every call is in the recent list, newest first',
              lambda: wait_until(lambda: recent(b)[:3] == [burst[1], burst[0], first + '@1']) or print('#', recent(b)))
    # The voice keeps up as the terminal display's does: calls waiting to be said are dropped
    # for the newest, which comes after its chime.
    last = burst[2].split('@')[0]
    tap.check('the voice keeps up with the burst: the newest call is chimed and said',
              lambda: wait_until(lambda: ['zh-CN', '请 %s 号，到 1号窗口办理' % last] in b.js('return spoken'), 10)
              and b.js('return chimes') >= 2 and b.js('return spoken')[-1][0] == 'en'
              or print('#', b.js('return [chimes, spoken]')))

    # A recall shows again, marked.
    time.sleep(MIN_SHOW)
    hall.op(manager, 'recall', window=1)
    number1 = burst[2].split('@')[0]
    tap.check('a recall shows the call again, marked 再次呼叫 Recall',
              lambda: wait_until(lambda: keys(b)[-1] == number1 + '@1!', 3) and b.visible('#now-recall')
              and '再次呼叫' in b.text('#now-caption-zh'))

    # Waiting counts and estimates equal the services op's.
    def counts_match():
        services = hall.api('GET', '/sites/small/services')[1]['services']
        on_page = b.js("""return Object.fromEntries(Array.from(document.querySelectorAll('.service'))
                           .map(e => [e.dataset.service, +e.querySelector('.service-count').textContent]))""")
        return on_page == {s['id']: s['waiting'] for s in services} and on_page
    tap.check('waiting counts equal the services op\'s', lambda: wait_until(counts_match) or print('#', counts_match()))
    busy = [s for s in hall.api('GET', '/sites/small/services')[1]['services'] if s['waiting'] > 0][0]

    def range_shown():
        # The estimate moves with time, so the page's (from its last event or snapshot) may be a
        # minute or two off the services op's of this moment.
        lo, hi = round(busy['ewt_low'] / 60), round(busy['ewt_high'] / 60)
        zh, en = b.text('.service[data-service="%s"] .service-wait' % busy['id']).split('\n')
        a, z = [int(x) for x in zh.replace(' 分钟', '').split('–')]
        return en == '%d–%d min' % (a, z) and abs(a - lo) <= 2 and abs(z - hi) <= 2 and a < z
    tap.check('a service with people waiting shows its estimated wait as a range in minutes',
              lambda: wait_until(range_shown) or print('#', b.text('.service[data-service="%s"] .service-wait'
                                                                   % busy['id']), busy))

    # The clock and date in the site's time zone (Asia/Shanghai; this machine runs in UTC).
    def clock_right():
        hall_now = datetime.datetime.now(ZoneInfo('Asia/Shanghai'))
        shown_clock = datetime.datetime.strptime(b.text('#clock'), '%H:%M:%S')
        shown_s = shown_clock.hour * 3600 + shown_clock.minute * 60 + shown_clock.second
        hall_s = hall_now.hour * 3600 + hall_now.minute * 60 + hall_now.second
        return abs((shown_s - hall_s + 43200) % 86400 - 43200) <= 2 and b.text('#date') == hall_now.strftime('%Y-%m-%d')
    tap.check('the clock and date show the site\'s time zone', lambda: wait_until(clock_right, 3))

    # Today's mean wait against the target, from the snapshot's today.
    today = hall.api('GET', '/sites/small/snapshot')[1]['today']
    tap.check('today\'s mean wait against the 15-minute target',
              lambda: wait_until(lambda: b.text('.today-value').startswith(str(round(today['wait_mean'] / 60)))
                                 and '目标 15 分钟' in b.text('#today') and 'within' in b.find('#today').get_attribute('class'), 35))
    tap.check('everything fits the screen, no scrollbars', lambda: fits_screen(b))
    errors = b.console_errors()
    tap.check('no console errors', lambda: not errors or print('#', errors))

    # Zones: windows=3 shows window 3's calls only; services=B shows B's only.
    for w in (1, 2, 3):
        hall.op(manager, 'finish', window=w)
    take(hall, kiosk, 'AABB')
    b.open('/display?site=small&windows=3&min_show=0.5')
    tap.check('a zoned display (windows=3) starts with its window\'s last call',
              lambda: wait_until(lambda: b.text('#now-window') == '3'))
    b.js(WATCH)
    a_call = hall.op(manager, 'call_next', window=1)['ticket']['number']
    b_call = hall.op(manager, 'call_next', window=3)['ticket']['number']
    tap.check('windows=3 shows the call at window 3',
              lambda: wait_until(lambda: b_call + '@3' in keys(b), 3))
    tap.check('and not the call at window 1',
              lambda: time.sleep(1) or (not any(k.startswith(a_call) for k in keys(b))
                                        and not any(r.endswith('@1') for r in recent(b))))
    tap.check('the status line names the zone', lambda: '窗口 Windows 3' in b.text('#status'))
    b.open('/display?site=small&services=B&min_show=0.5')
    tap.check('services=B lists service B only',
              lambda: wait_until(lambda: [e.get_attribute('data-service') for e in b.find_all('.service')] == ['B']))
    b.js(WATCH)
    hall.op(manager, 'finish', window=1)
    hall.op(manager, 'finish', window=3)
    a2 = hall.op(manager, 'call_next', window=1)['ticket']['number']
    b2 = hall.op(manager, 'call_next', window=3)['ticket']['number']
    tap.check('services=B shows B\'s call', lambda: wait_until(lambda: b2 + '@3' in keys(b), 3))
    tap.check('and not the call of service A',
              lambda: time.sleep(1) or not any(k.startswith(a2) for k in keys(b)) or print('#', keys(b), a2))

    # Offline: the banner comes when qserver stops and goes when it is back; the call made by
    # the restarted qserver before the page reconnected is shown, once.
    errors = b.console_errors()
    tap.check('no console errors on the zoned displays', lambda: not errors or print('#', errors))
    b.open('/display?site=small&windows=3-1')
    tap.check('a zone that cannot be read fills the screen with a message naming it',
              lambda: wait_until(lambda: b.visible('#message') and 'windows=3-1' in b.text('#message')))
    b.open('/display?site=nowhere')
    tap.check('so does a site the server does not serve',
              lambda: wait_until(lambda: b.visible('#message') and 'No such site: nowhere' in b.text('#message'))
              and time.sleep(5) is None and not b.visible('.offline-banner'))
    b.driver.get_log('browser')  # the 404 of the unknown site is what this check asked for
    b.open('/display?site=small&min_show=0.5')
    wait_until(lambda: '实时 Live' in b.text('#status'))
    b.js(WATCH)
    tap.check('no offline banner while qserver runs', lambda: not b.visible('.offline-banner'))
    hall.stop_qserver()
    tap.check('the offline banner shows when qserver stops',
              lambda: wait_until(lambda: b.visible('.offline-banner'), 10)
              and '连接中断' in b.text('.offline-banner') and '离线 Offline' in b.text('#status'))
    b.screenshot('display-offline-1920x1080')
    hall.start_qserver()
    kiosk = hall.session(**KIOSK)
    manager = hall.session(**MANAGER)
    take(hall, kiosk, 'C')
    missed = hall.op(manager, 'call_next', window=2)['ticket']['number']
    tap.check('the banner goes away when qserver is back',
              lambda: wait_until(lambda: not b.visible('.offline-banner'), 35))
    tap.check('the call made meanwhile is shown',
              lambda: wait_until(lambda: missed + '@2' in keys(b), 10) or print('#', keys(b), missed))
    tap.check('once', lambda: time.sleep(2) or keys(b).count(missed + '@2') == 1)

    # Quick restarts: the page reconnects before it would call itself offline, so only the
    # stream can tell it what it missed. First with an event seen, after which the stream no
    # longer holds that event (trimmed meanwhile): the server says `reset` and the page reloads
    # the snapshot. Then on a page that has seen no event yet (nothing to resume from).
    def quick_restart(trim, window):
        hall.stop_qserver()
        if trim:
            subprocess.run(['redis-cli', '-s', hall.redis_sock, 'XTRIM', 'q:{small}:events', 'MAXLEN', '0'],
                           check=True, capture_output=True)
        hall.start_qserver()
        kiosk, manager = hall.session(**KIOSK), hall.session(**MANAGER)
        take(hall, kiosk, 'A')
        return hall.op(manager, 'call_next', window=window)['ticket']['number'] + '@%d' % window

    wait_until(lambda: not b.visible('.offline-banner'), 10)
    take(hall, kiosk, 'C')  # an event for the page to resume from
    wait_until(lambda: b.text('.service[data-service="C"] .service-count') == '1')
    b.js("""window.wentOffline = false;
            new MutationObserver(() => { if (document.body.classList.contains('offline')) wentOffline = true; })
              .observe(document.body, {attributes: true});""")
    after_reset = quick_restart(True, 1)
    tap.check('after a reset the snapshot brings the call made meanwhile, once',
              lambda: wait_until(lambda: after_reset in keys(b), 10)
              and time.sleep(2) is None and keys(b).count(after_reset) == 1 or print('#', keys(b), after_reset))
    print('# the page went offline during the quick restart: %s' % b.js('return wentOffline'))
    b.open('/display?site=small&min_show=0.5')
    wait_until(lambda: '实时 Live' in b.text('#status'))
    b.js(WATCH)
    blip = quick_restart(False, 2)
    tap.check('a quick restart before any event arrived: the call made meanwhile is shown, once',
              lambda: wait_until(lambda: blip in keys(b), 10)
              and time.sleep(2) is None and keys(b).count(blip) == 1 or print('#', keys(b), blip))
    later = [e['message'] for e in b.driver.get_log('browser') if e.get('level') == 'SEVERE'
             and 'net::ERR_' not in e['message']]
    tap.check('no console errors but the failed connections while qserver was down',
              lambda: not later or print('#', later))

# Screenshots of a busy hall: the sample district center, several services waiting, a few calls.
with Hall(config=os.path.join(ROOT, 'examples', 'baoan.json'), site='baoan', args=['--always-open']) as hall:
    kiosk = hall.session(role='kiosk', token='kiosk123', site='baoan')
    manager = hall.session(role='manager', user='m01', password='manager123')
    take(hall, kiosk, 'A' * 9 + 'B' * 5 + 'CCC' + 'D' * 6 + 'EE' + 'GGGG' + 'H' * 7 + 'JJJ' + 'KK' + 'MMMM')
    for w in range(1, 9):
        hall.op(manager, 'resume', window=w)
    for w in (1, 7, 2, 3, 5, 4, 6):
        hall.op(manager, 'call_next', window=w)
    for width, height, layout in ((1920, 1080, ''), (1080, 1920, '&layout=portrait')):
        with Browser(hall, width, height) as b:
            b.open('/display?site=baoan' + layout)
            tap.check('%dx%d: the newest call is up and the recent list is full' % (width, height),
                      lambda: wait_until(lambda: b.text('#now-number') and len(recent(b)) == 6))
            tap.check('%dx%d: every service is listed' % (width, height),
                      lambda: len(b.find_all('.service')) == 12)
            tap.check('%dx%d: everything fits, no scrollbars' % (width, height), lambda: fits_screen(b))
            time.sleep(4.5)  # the flash is over
            b.screenshot('display-%dx%d' % (width, height))
            errors = b.console_errors()
            tap.check('%dx%d: no console errors' % (width, height), lambda: not errors or print('#', errors))

tap.finish()
