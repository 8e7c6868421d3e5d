"""The booking page /book/{site} in headless Chromium at a phone's size (390x844) against a real
qserver: the services that take appointments, the days from the server's today, a slot booked
with a phone number and its code shown, the booking counted (the slot and the manager's
stats), then the appointment looked up by its code and cancelled, and counted so. The clock is
the test hall's Friday 2026-11-27 10:00; service C takes appointments (30-minute slots of 2)."""
import re

from harness import Hall, Browser, Tap, MANAGER, wait_until

tap = Tap()
HALL_T0 = 1795744800


def slot_booked(hall, date, start):
    """How many are booked in service C's slot, as the API says."""
    status, answer = hall.api('GET', '/sites/small/services/C/slots?date=' + date)
    return next(s['booked'] for s in answer['slots'] if s['start'] == start) if status == 200 else None


def stat(hall, token, counter):
    """One appointment counter of Saturday's stats, as the manager's API says."""
    answer = hall.op(token, 'stats', **{'from': '2026-11-28', 'to': '2026-11-28'})
    return answer['rows'][0][counter]


with Hall(args=['--test-clock', '--clock-start', str(HALL_T0)]) as hall, Browser(hall, 390, 844) as b:
    manager = hall.session(**MANAGER)
    # A phone's viewport: headless Chromium keeps its window wider than a phone, so the page
    # is laid out at 390x844 by device emulation, as a phone would show it.
    b.driver.execute_cdp_cmd('Emulation.setDeviceMetricsOverride',
                             {'width': 390, 'height': 844, 'deviceScaleFactor': 1, 'mobile': True})
    b.open('/book/small')
    tap.check('the page is laid out at a phone\'s 390x844',
              lambda: b.js('return [window.innerWidth, window.innerHeight]') == [390, 844] or
              print('#', b.js('return [window.innerWidth, window.innerHeight]')))
    tap.check('the page names the hall and lists only the services that take appointments',
              lambda: wait_until(lambda: '测试大厅' in b.text('#hall'), 10) and
              [o.get_attribute('value') for o in b.find_all('#service option')] == ['C'] and
              '税务' in b.text('#service'))
    tap.check('the days run from the server\'s today to 7 days ahead',
              lambda: wait_until(lambda: [d.get_attribute('data-date') for d in b.find_all('#days button')] ==
                                 ['2026-11-%02d' % d for d in range(27, 31)] + ['2026-12-0%d' % d for d in range(1, 5)]))
    tap.check('today\'s slots that have begun cannot be chosen',
              lambda: wait_until(lambda: b.find('#slots button[data-start="09:30"]')) and
              not b.find('#slots button[data-start="09:30"]').is_enabled() and
              b.find('#slots button[data-start="10:30"]').is_enabled())

    b.screenshot('book-start-390x844')
    b.click('#days button[data-date="2026-11-28"]')
    tap.check('another day\'s slots load',
              lambda: wait_until(lambda: b.find('#slots button[data-start="00:00"]').is_enabled()))
    b.click('#slots button[data-start="10:00"]')
    b.type('#phone', '138 0013-8000')  # typed as people do: booked as 13800138000
    tap.check('a slot and a phone number enable Book',
              lambda: wait_until(lambda: b.find('#book').is_enabled()))
    b.click('#book')
    code = wait_until(lambda: b.find('#code-out').get_attribute('data-code'))
    tap.check('booking shows the 8-character code and the check-in window',
              lambda: code and len(code) == 8 and b.visible('#result') and
              '09:45' in b.text('#result-checkin') and '10:10' in b.text('#result-checkin'))
    tap.check('the booking is counted: the slot shows 1 of 2, as the API and the stats say',
              lambda: wait_until(lambda: b.find('#slots button[data-start="10:00"] .left').get_attribute('data-booked') == '1') and
              slot_booked(hall, '2026-11-28', '10:00') == 1 and stat(hall, manager, 'appt_booked') == 1)
    tap.check('the phone number is shown nowhere on the page',
              lambda: not re.search(r'138\D?0013\D?8000', b.js('return document.body.innerText')))
    tap.check('the booking holds the number without its spaces and dashes',
              lambda: hall.op(manager, 'appointment', code=code)['appointment'].get('ref') == '13800138000')
    b.screenshot('book-booked-390x844')

    b.js('window.scrollTo(0, document.body.scrollHeight)')
    b.type('#lookup-code', code.lower()[:4] + '-' + code.lower()[4:])
    b.click('#lookup')
    tap.check('the appointment is found by its code as a person types it',
              lambda: wait_until(lambda: b.find('#appt-state [data-state]').get_attribute('data-state') == 'booked') and
              b.visible('#cancel'))
    b.click('#cancel')
    b.driver.switch_to.alert.dismiss()
    tap.check('cancel asks first: saying no keeps the appointment',
              lambda: b.visible('#cancel') and slot_booked(hall, '2026-11-28', '10:00') == 1)
    b.click('#cancel')
    b.driver.switch_to.alert.accept()
    tap.check('cancel shows it cancelled and gives the place back',
              lambda: wait_until(lambda: b.find('#appt-state [data-state]').get_attribute('data-state') == 'cancelled') and
              not b.visible('#cancel') and slot_booked(hall, '2026-11-28', '10:00') == 0 and
              wait_until(lambda: b.find('#slots button[data-start="10:00"] .left').get_attribute('data-booked') == '0'))
    tap.check('the cancel is counted in the stats', lambda: stat(hall, manager, 'appt_cancelled') == 1)
    errors = b.console_errors()
    tap.check('no console errors (the Content-Security-Policy holds)', lambda: not errors or print('#', errors))
    b.type('#lookup-code', 'ZZZZZZZZ')
    b.click('#lookup')
    tap.check('an unknown code is explained',
              lambda: wait_until(lambda: 'No appointment has this code' in b.text('#lookup-error')))
    b.screenshot('book-cancelled-390x844')

tap.finish()
