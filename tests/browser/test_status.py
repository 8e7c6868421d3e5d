"""The citizen's ticket page /t/{id}?k=SECRET in headless Chromium at 390x844 against a real
qserver: it shows the number, the service and the people ahead, the count falls as the
windows call the tickets before it, "please go to window N" appears within a second of the
call (with the vibration and chime announced once), a waiting ticket is cancelled after a
confirmation, a finished ticket is rated on the page (the ticket and the day's stats then
carry the rating), and a wrong or missing secret shows a message and never the ticket. In a
region, where ticket ids repeat across sites, the page reads the site from its address."""
import os
import time

from harness import Hall, Browser, Tap, KIOSK, MANAGER, ROOT, wait_until

tap = Tap()


def status_path(answer):
    """The page's address for a take answer (the small hall has no public_url)."""
    return '/t/%s?k=%s' % (answer['ticket']['id'], answer['secret'])


with Hall() as hall, Browser(hall, 390, 844) as b:
    kiosk = hall.session(**KIOSK)
    manager = hall.session(**MANAGER)
    for w in (1, 2):
        hall.op(manager, 'resume', window=w)
    first = hall.op(kiosk, 'take', service='A')
    second = hall.op(kiosk, 'take', service='A')
    mine = hall.op(kiosk, 'take', service='A')
    other = hall.op(kiosk, 'take', service='A')
    number = mine['ticket']['number']

    b.open(status_path(mine))
    tap.check('the page shows the ticket number', lambda: wait_until(lambda: b.text('#number') == number))
    tap.check('and its service, bilingual', lambda: '社会保障' in b.text('#service') and 'Social security' in b.text('#service'))
    tap.check('and its state', lambda: '排队中' in b.text('#state') and 'Waiting' in b.text('#state'))
    tap.check('two people are ahead', lambda: wait_until(lambda: b.text('#ahead') == '2'))
    tap.check('the estimated wait is shown as a range in minutes',
              lambda: '分钟' in b.text('#ewt') and 'min' in b.text('#ewt'))
    tap.check('no console errors (the Content-Security-Policy holds)', lambda: not b.console_errors())
    b.screenshot('status-waiting-390x844')

    hall.op(manager, 'call_next', window=1)
    tap.check('a call of the ticket before it: one person ahead',
              lambda: wait_until(lambda: b.text('#ahead') == '1', 5))
    hall.op(manager, 'call_next', window=2)
    tap.check('another call: nobody ahead', lambda: wait_until(lambda: b.text('#ahead') == '0', 5))

    time.sleep(1.2)  # a quiet second, as between two calls in a hall
    called = hall.op(manager, 'call_next', window=1)
    asked = time.monotonic()
    tap.check('the call is of this ticket', lambda: called['ticket']['number'] == number)
    tap.check('"please go to window 1" appears within 1 s of the call',
              lambda: wait_until(lambda: b.visible('#called') and '请到 1 号窗口' in b.text('#called'), 1.0)
              or print('# after %.2f s: %r' % (time.monotonic() - asked, b.text('#called'))))
    print('# the call reached the page %.2f s after call_next answered' % (time.monotonic() - asked))
    tap.check('in English too', lambda: 'Please go to window 1' in b.text('#called'))
    tap.check('the call is announced (vibration and chime) once',
              lambda: wait_until(lambda: b.js('return document.body.dataset.alerts') == '1'))
    tap.check('the people-ahead panel and the cancel button are gone once called',
              lambda: not b.visible('#progress') and not b.visible('#cancel'))
    b.screenshot('status-called-390x844')

    # Cancelling another ticket, on its own page, after a confirmation.
    b.open(status_path(other))
    tap.check('another ticket\'s page shows it waiting',
              lambda: wait_until(lambda: b.text('#number') == other['ticket']['number'] and b.visible('#cancel')))
    b.click('#cancel')
    tap.check('cancelling asks first', lambda: wait_until(lambda: b.visible('#confirm')))
    b.click('#confirm-no')
    tap.check('"keep my place" keeps it waiting',
              lambda: not b.visible('#confirm') and hall.api('GET', status_path(other).replace('/t/', '/sites/small/tickets/'))[1]['ticket']['state'] == 'waiting')
    b.click('#cancel')
    wait_until(lambda: b.visible('#confirm'))
    b.click('#confirm-yes')
    tap.check('confirmed, the page shows it cancelled',
              lambda: wait_until(lambda: '已取消' in b.text('#state') and not b.visible('#cancel')))
    tap.check('and the server has it cancelled',
              lambda: hall.api('GET', status_path(other).replace('/t/', '/sites/small/tickets/'))[1]['ticket']['state'] == 'cancelled')

    # Back to the called ticket: finished, it is rated on the page.
    b.open(status_path(mine))
    tap.check('the called ticket\'s page still says where to go',
              lambda: wait_until(lambda: '请到 1 号窗口' in b.text('#called')))
    hall.op(manager, 'finish', window=1)
    tap.check('once done, the rating form appears', lambda: wait_until(lambda: b.visible('#rating'), 5))
    labels = b.text('#scores')
    tap.check('with the five levels and their labels, best first',
              lambda: all(s in labels for s in ('非常满意', 'Very satisfied', '满意', 'Satisfied', '基本满意', 'Fair',
                                               '不满意', 'Dissatisfied', '非常不满意', 'Very dissatisfied'))
              and [e.get_attribute('data-score') for e in b.find_all('.score')] == ['5', '4', '3', '2', '1'])
    tap.check('nothing is sent before a level is picked', lambda: not b.find('#submit-rating').is_enabled())
    b.click('.score[data-score="4"]')
    b.type('#comment', '<b>窗口</b> 服务很好')
    tap.check('the comment counts its characters up to 200',
              lambda: b.text('#comment-count') == '14' and b.find('#comment').get_attribute('maxlength') == '200')
    b.screenshot('status-rating-390x844')
    b.click('#submit-rating')
    tap.check('after sending, thanks and the rating given',
              lambda: wait_until(lambda: b.visible('#thanks') and '满意' in b.text('#rated') and not b.visible('#rating')))
    tap.check('the comment is never echoed into the page as markup',
              lambda: not b.find_all('#ticket b b, #thanks b, .message b'))
    tap.check('the ticket carries the rating',
              lambda: hall.api('GET', status_path(mine).replace('/t/', '/sites/small/tickets/'))[1]['ticket']['rating'] == 4)
    day = hall.api('GET', '/sites/small')[1]['site']['date']
    stats = hall.api('GET', '/sites/small/stats?from=%s&to=%s' % (day, day), token=manager)[1]
    tap.check('and the day\'s stats count it', lambda: stats['rows'][0]['ratings'] == 1 and stats['rows'][0]['rating_mean'] == 4)
    b.screenshot('status-thanks-390x844')

    # A wrong or missing secret shows a message, never the ticket.
    b.open('/t/%s?k=WRONGwrongWRONG1' % mine['ticket']['id'])
    tap.check('a wrong secret says the link\'s key is wrong',
              lambda: wait_until(lambda: b.visible('#problem') and '无法查看这张票' in b.text('#problem')))
    tap.check('and shows nothing of the ticket', lambda: not b.visible('#ticket') and number not in b.text('body'))
    b.screenshot('status-wrong-secret-390x844')
    b.open('/t/%s' % mine['ticket']['id'])
    tap.check('a missing secret says the link is incomplete',
              lambda: wait_until(lambda: '链接不完整' in b.text('#problem')) and number not in b.text('body'))

# A region (tests/data/region): the site comes from the address's site argument.
with Hall(config=os.path.join(ROOT, 'tests', 'data', 'region'), site='street') as hall, Browser(hall, 390, 844) as b:
    kiosk = hall.session(**KIOSK)
    taken = hall.op(kiosk, 'take', service='B')
    b.open(status_path(taken) + '&site=street')
    tap.check('in a region the page shows the ticket of the site its address names',
              lambda: wait_until(lambda: b.text('#number') == taken['ticket']['number'] and '排队中' in b.text('#state')))
    b.open(status_path(taken))
    tap.check('and without the site it says the link does not name the hall',
              lambda: wait_until(lambda: '链接缺少大厅信息' in b.text('#problem')) and not b.visible('#ticket'))

tap.finish()
