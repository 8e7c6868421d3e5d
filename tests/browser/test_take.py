"""Remote tickets, /take/{site}, in headless Chromium at 390x844 against a real qserver on a
hall that allows them (tests/data/web.json, with the test clock on a Friday): the services show
their waiting count, kept live; a ticket is taken with channel web and an optional phone (its
ref), and the page shows its number and a status link that opens its status page; a bad phone
is refused on the page; past the per-phone limit the page says when to try again; outside
opening hours the page says when the hall opens and the take is refused with that time."""
import os

from harness import Hall, Browser, Tap, KIOSK, ROOT, wait_until

tap = Tap()
CONFIG = os.path.join(ROOT, 'tests', 'data', 'web.json')
FRIDAY_10 = 1795744800        # Friday 2026-11-27 10:00 Asia/Shanghai: open (09:00-18:00)
FRIDAY_20 = FRIDAY_10 + 36000  # 20:00: closed until Saturday 09:00


def service_text(b, service):
    """The text of a service's choice on the page."""
    return b.text('.service-choice[data-service="%s"]' % service)


with Hall(config=CONFIG, args=['--test-clock', '--clock-start', str(FRIDAY_10)]) as hall, Browser(hall, 390, 844) as b:
    kiosk = hall.session(**KIOSK)
    hall.op(kiosk, 'take', service='A')
    b.open('/take/small')
    tap.check('the page names the hall', lambda: wait_until(lambda: '测试大厅' in b.text('.site-bar')))
    tap.check('it lists every service, bilingual',
              lambda: wait_until(lambda: len(b.find_all('.service-choice')) == 3)
              and '社会保障' in service_text(b, 'A') and 'Exit-entry administration' in service_text(b, 'B'))
    tap.check('with the people waiting and the estimated wait',
              lambda: '等候 1 人' in service_text(b, 'A') and '1 waiting' in service_text(b, 'A') and '分钟' in service_text(b, 'A'))
    tap.check('the hall is open: no closed note', lambda: not b.visible('#closed'))
    hall.op(kiosk, 'take', service='A')
    tap.check('the waiting count is live', lambda: wait_until(lambda: '等候 2 人' in service_text(b, 'A'), 5))
    tap.check('no console errors (the Content-Security-Policy holds)', lambda: not b.console_errors())

    tap.check('nothing can be taken before a service is chosen', lambda: not b.find('#take').is_enabled())
    b.click('.service-choice[data-service="A"]')
    b.type('#phone', '12ab')
    b.click('#take')
    tap.check('a phone that is no phone number is refused on the page',
              lambda: wait_until(lambda: b.visible('#take-error') and '手机号格式不正确' in b.text('#take-error')))
    b.type('#phone', '138 0000 0000')
    b.screenshot('take-390x844')
    b.click('#take')
    tap.check('a ticket is issued and its number shown',
              lambda: wait_until(lambda: b.visible('#result') and b.text('#number') == 'A003'))
    tap.check('with the people ahead', lambda: '前面 2 人' in b.text('#wait'))
    href = b.find('#status-link').get_attribute('href')
    tap.check('and the link to its status page, with its secret',
              lambda: href.startswith(hall.base + '/t/') and '?k=' in href and href == b.find('#status-url').get_attribute('value'))
    ticket_id = href.split('/t/')[1].split('?')[0]
    secret = href.split('k=')[1].split('&')[0]
    answer = hall.api('GET', '/sites/small/tickets/%s?k=%s' % (ticket_id, secret))[1]
    tap.check('the ticket was taken over the web', lambda: answer['ticket']['channel'] == 'web' and answer['ticket']['number'] == 'A003')
    b.screenshot('take-result-390x844')

    b.click('#status-link')
    tap.check('the status link opens the ticket\'s page',
              lambda: wait_until(lambda: b.text('#number') == 'A003' and '排队中' in b.text('#state')))

    # The phone went as the ticket's ref: two more takes for it pass, the page's next is refused.
    for _ in range(2):
        status, _answer = hall.api('POST', '/sites/small/tickets', {'service': 'B', 'channel': 'web', 'ref': '13800000000'})
        assert status == 200, status
    b.open('/take/small')
    wait_until(lambda: b.find('.service-choice[data-service="B"]'))
    b.click('.service-choice[data-service="B"]')
    b.type('#phone', '13800000000')
    b.click('#take')
    tap.check('past the limit for one phone the page says when to try again',
              lambda: wait_until(lambda: b.visible('#take-error') and '分钟后再试' in b.text('#take-error')
                                 and 'Try again in 60 min' in b.text('#take-error')))
    b.screenshot('take-rate-limited-390x844')

with Hall(config=CONFIG, args=['--test-clock', '--clock-start', str(FRIDAY_20)]) as hall, Browser(hall, 390, 844) as b:
    b.open('/take/small')
    tap.check('outside opening hours the page says when tickets can be taken',
              lambda: wait_until(lambda: b.visible('#closed') and '09:00' in b.text('#closed') and '周六' in b.text('#closed')
                                 and 'Sat' in b.text('#closed')))
    b.click('.service-choice[data-service="A"]')
    b.click('#take')
    tap.check('a take is refused with the opening time, said once (the closed note, not again by the button)',
              lambda: wait_until(lambda: b.visible('#closed') and '09:00' in b.text('#closed') and
                                 not b.visible('#take-error') and not b.visible('#result')))
    tap.check('and no ticket was issued',
              lambda: hall.api('GET', '/sites/small/services')[1]['services'][0]['waiting'] == 0 and not b.visible('#result'))
    b.screenshot('take-closed-390x844')

tap.finish()
