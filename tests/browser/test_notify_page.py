"""The ticket page's "tell me when 3 are ahead" choice (web/t/notify.js) in headless Chromium
at 390x844 against a real qserver whose hall sends notifications to a local receiver
(tests/notify/receiver.py): the choice shows while the ticket waits, a number that is not one
is refused on the page, a good one is sent with the ticket's secret (the server then has the
mark, and the page says what will happen, the number half hidden), and when a call leaves 3
ahead the receiver gets the signed `near` for that number. A hall without notify_url offers
nothing."""
import json
import os
import subprocess
import sys
import tempfile

from harness import Hall, Browser, Tap, KIOSK, MANAGER, ROOT, wait_until

SECRET = 'browser-notify-secret-0123'
tap = Tap()
work = tempfile.mkdtemp(prefix='qhall-notify-page-')
port_file, log_file = os.path.join(work, 'port'), os.path.join(work, 'posts.log')
receiver = subprocess.Popen([sys.executable, os.path.join(ROOT, 'tests', 'notify', 'receiver.py'), port_file, log_file])


def posts():
    """The POSTs the receiver got, as (status, body) pairs."""
    try:
        with open(log_file) as f:
            return [(d['status'], json.loads(d['body'])) for d in map(json.loads, f)]
    except OSError:
        return []


def status_path(answer):
    """The page's address for a take answer (the small hall has no public_url)."""
    return '/t/%s?k=%s' % (answer['ticket']['id'], answer['secret'])


try:
    wait_until(lambda: os.path.exists(port_file), 5)
    with open(os.path.join(ROOT, 'tests', 'data', 'small.json'), encoding='utf-8') as f:
        hall_json = json.load(f)
    hall_json['site']['notify_url'] = 'http://127.0.0.1:%s/qhall' % open(port_file).read().strip()
    hall_json['site']['notify_secret'] = SECRET
    hall_json['site']['remote_take'] = True
    config = os.path.join(work, 'hall.json')
    with open(config, 'w', encoding='utf-8') as f:
        json.dump(hall_json, f, ensure_ascii=False)

    with Hall(config=config) as hall, Browser(hall, 390, 844) as b:
        kiosk = hall.session(**KIOSK)
        manager = hall.session(**MANAGER)
        for _ in range(4):
            hall.op(kiosk, 'take', service='A')
        mine = hall.op(kiosk, 'take', service='A')
        ticket_api = status_path(mine).replace('/t/', '/sites/small/tickets/')

        b.open(status_path(mine))
        tap.check('the waiting ticket\'s page offers the choice',
                  lambda: wait_until(lambda: b.visible('#notify')) and '当前面还有3人时通知我' in b.text('#notify')
                  and 'Tell me when 3 are ahead' in b.text('#notify'))
        b.screenshot('status-notify-offer-390x844')
        b.type('#notify-phone', '12ab')
        b.click('#notify-send')
        tap.check('a number that is not one is refused on the page',
                  lambda: wait_until(lambda: b.visible('#notify-error')) and '请输入手机号码' in b.text('#notify-error'))
        tap.check('and nothing was asked of the server', lambda: 'notify' not in hall.api('GET', ticket_api)[1])
        b.type('#notify-phone', '138 0013 8000')
        b.click('#notify-send')
        tap.check('a good number: the page says what will happen, the number half hidden',
                  lambda: wait_until(lambda: b.visible('#notify-done')) and '138****8000' in b.text('#notify-done')
                  and not b.visible('#notify'))
        tap.check('the server has the mark', lambda: hall.api('GET', ticket_api)[1].get('notify') == {'ahead': 3})
        tap.check('no console errors (the Content-Security-Policy holds)', lambda: not b.console_errors())
        b.screenshot('status-notify-asked-390x844')
        tap.check('four ahead: nothing sent yet', lambda: posts() == [])

        hall.op(manager, 'resume', window=1)
        hall.op(manager, 'call_next', window=1)
        tap.check('a call leaves 3 ahead: the receiver gets near for that number',
                  lambda: wait_until(lambda: [p for s, p in posts() if p['event'] == 'near'], 5) and
                  [(p['ticket'], p['ref'], p['ahead']) for s, p in posts()] == [(mine['ticket']['id'], '13800138000', 3)])
        b.open(status_path(mine))
        tap.check('opened again, the page remembers the choice',
                  lambda: wait_until(lambda: b.visible('#notify-done')) and not b.visible('#notify'))

        # The remote take page of this hall promises a text, and a phone given there asks for one.
        b.open('/take/small')
        tap.check('the take page says a phone gets a text when 3 are ahead',
                  lambda: wait_until(lambda: b.visible('#notify-hint')) and 'when 3 people are ahead' in b.text('#notify-hint'))
        b.click('.service-choice[data-service="B"]')
        b.type('#phone', '139 0000 0000')
        b.click('#take')
        wait_until(lambda: b.visible('#status-link'))
        taken = b.find('#status-link').get_attribute('href').split('/t/')[1]
        tid, key = taken.split('?k=')[0], taken.split('?k=')[1].split('&')[0]
        tap.check('the ticket taken there with a phone asks to be told at 3 ahead',
                  lambda: hall.api('GET', '/sites/small/tickets/%s?k=%s' % (tid, key))[1].get('notify') == {'ahead': 3})

    with Hall() as hall, Browser(hall, 390, 844) as b:
        kiosk = hall.session(**KIOSK)
        mine = hall.op(kiosk, 'take', service='A')
        b.open(status_path(mine))
        wait_until(lambda: b.text('#number') == mine['ticket']['number'])
        tap.check('a hall without notify_url offers nothing',
                  lambda: not wait_until(lambda: b.visible('#notify') or b.visible('#notify-done'), 1.5))
        b.open('/take/small')
        wait_until(lambda: b.find('.service-choice'))
        tap.check('nor does its take page promise a text', lambda: not b.visible('#notify-hint'))
finally:
    receiver.terminate()
    receiver.wait(5)
tap.finish()
