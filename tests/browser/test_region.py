"""The district's live view (/region) in headless Chromium against a real qserver serving the
generated Bao'an region (examples/baoan-region/generate.py: 135 halls) on a test clock: it
lists every site with the region op's figures, grouped district → street → community, sorts
by any column (mouse and keyboard), links each site to its /manager view, refreshes by itself,
and a hall manager is refused other sites' data and the region view in words. Screenshots at
1920x1080."""
import os
import subprocess
import sys
import tempfile
import time

from harness import Hall, Browser, Tap, ROOT, wait_until

SHANGHAI = 8 * 3600
REGION = {'role': 'manager', 'user': 'r01', 'password': 'manager123'}


def next_weekday_morning():
    """Epoch seconds of the next Monday-to-Friday 10:00 in Shanghai (the halls are open)."""
    now = int(time.time())
    midnight = (now + SHANGHAI) // 86400 * 86400 - SHANGHAI
    day = midnight + 86400
    while time.gmtime(day + SHANGHAI).tm_wday >= 5:
        day += 86400
    return day + 10 * 3600


def shown(kind, v):
    """A figure as the region table shows it."""
    if v is None:
        return '—'
    if kind == 'min':
        return '%.1f' % (int(v / 6 + 0.5) / 10)
    if kind == 'pct':
        return '%.1f%%' % v
    return str(v)


KINDS = {'waiting': 'count', 'windows_open': 'count', 'called_today': 'count', 'served_today': 'count',
         'wait_mean_today': 'min', 'wait_p90_today': 'min', 'sla_pct_today': 'pct', 'ewt_max': 'min',
         'bad_ratings_open': 'count', 'bad_ratings_overdue': 'count'}

tap = Tap()
config = tempfile.mkdtemp(prefix='qhall-region-')
subprocess.run([sys.executable, os.path.join(ROOT, 'examples', 'baoan-region', 'generate.py'), config],
               check=True, capture_output=True)

with Hall(config=config, site='baoan', args=['--test-clock', '--clock-start', str(next_weekday_morning())]) as hall, \
        Browser(hall, 1920, 1080) as b:
    region = hall.session(**REGION)
    sites = hall.api('GET', '/sites')[1]['sites']

    def op(site, name, **args):
        status, answer = hall.api('POST', '/sites/%s/op/%s' % (site, name), args, token=region)
        assert status == 200, (site, name, status, answer)
        return answer

    # Some activity at a few sites: windows open, tickets taken, some called after a wait.
    busy = {'baoan': (6, 30, 4), 'xixiang': (3, 14, 3), 'xixiang-01': (2, 5, 2), 'shiyan-03': (1, 3, 1),
            'fuhai': (2, 9, 5)}
    for site, (windows, tickets, _) in busy.items():
        for w in range(1, windows + 1):
            op(site, 'resume', window=w)
        services = [s['id'] for s in hall.api('GET', '/sites/%s/services' % site)[1]['services']]
        for i in range(tickets):
            op(site, 'take', service=services[i % len(services)])
    op('baoan', 'clock', advance=420)
    for site, (windows, _, calls) in busy.items():
        for i in range(calls):
            op(site, 'call_next', window=i % windows + 1)
    op('baoan', 'clock', advance=700)
    op('fuhai', 'call_next', window=1)
    op('fuhai', 'finish', window=1, rating=1)

    def region_rows():
        return {r['site']: r for r in hall.api('GET', '/region', token=region)[1]['rows']}

    b.open('/region')
    tap.check('a signed-out visitor gets the sign-in form',
              lambda: wait_until(lambda: b.visible('#signin')))
    b.type('#signin-user', 'r01')
    b.type('#signin-password', 'manager123')
    b.click('#signin-submit')
    tap.check('the region manager sees every site of the region (135)',
              lambda: wait_until(lambda: len(b.find_all('#region-table tbody tr')) == len(sites) == 135, 10))

    def page_rows():
        """The table as {site: {column: text}}, read at once (the page redraws every few seconds)."""
        return b.js("""const out = {};
            document.querySelectorAll('#region-table tbody tr').forEach(tr => {
              const cells = {};
              tr.querySelectorAll('td').forEach(td => { cells[td.dataset.col] = td.innerText; });
              out[tr.dataset.site] = cells; });
            return out;""")

    def figures_match():
        want = {s: {k: shown(kind, r.get(k)) for k, kind in KINDS.items()} for s, r in region_rows().items()}
        got = {s: {k: v for k, v in cells.items() if k in KINDS} for s, cells in page_rows().items()}
        bad = [s for s in want if want[s] != got.get(s)]
        if bad:
            print('# differ at %s: page %s, op %s' % (bad[0], got.get(bad[0]), want[bad[0]]))
        return not bad and len(got) == len(want)
    tap.check("each site's figures equal the region op's row", lambda: wait_until(figures_match, 8))
    tap.check('the figures are not all empty (the busy sites show their calls)',
              lambda: page_rows()['baoan']['called_today'] == '4' and page_rows()['fuhai']['wait_p90_today'] != '—' and
              page_rows()['fuhai']['bad_ratings_open'] == '1')
    tap.check("the totals are the sums of the op's rows",
              lambda: b.text('[data-kpi=waiting] .value') == str(sum(r['waiting'] for r in region_rows().values())))

    def order():
        return b.js("return Array.from(document.querySelectorAll('#region-table tbody tr')).map(tr => tr.dataset.site)")

    def grouped_ok(seq):
        """The district first; each street followed by its own communities."""
        parent = {s['id']: s.get('parent') for s in sites}
        level = {s['id']: s['level'] for s in sites}
        street = None
        for i, s in enumerate(seq):
            if level[s] == 'district':
                if i:
                    return False
            elif level[s] == 'street':
                street = s
            elif parent[s] != street:
                return False
        return True
    tap.check('the rows are grouped district → street → community', lambda: grouped_ok(order()))
    b.screenshot('region-1920x1080')

    # Sorting: by mouse on "waiting", then by keyboard on p90 wait, in groups and flat.
    b.click('th[data-col=waiting] button')

    def streets_by(key, desc=True):
        rows = region_rows()
        seq = [s for s in order() if rows[s]['level'] == 'street']
        values = [rows[s][key] if rows[s][key] is not None else (-1 if desc else 1e9) for s in seq]
        return values == sorted(values, reverse=desc)
    tap.check('a click on Waiting sorts the streets by waiting, most first, keeping the groups',
              lambda: wait_until(lambda: streets_by('waiting') and grouped_ok(order()) and
                                 b.find('th[data-col=waiting]').get_attribute('aria-sort') == 'descending'))
    b.click('#grouped')
    tap.check('ungrouped, every site is sorted by waiting',
              lambda: wait_until(lambda: [region_rows()[s]['waiting'] for s in order()] ==
                                 sorted((r['waiting'] for r in region_rows().values()), reverse=True)))
    from selenium.webdriver.common.keys import Keys
    button = b.find('th[data-col=served_today] button')
    button.send_keys(Keys.ENTER)
    tap.check('Enter on a heading sorts by it (served today, most first)',
              lambda: wait_until(lambda: [region_rows()[s]['served_today'] for s in order()] ==
                                 sorted((r['served_today'] for r in region_rows().values()), reverse=True)))
    b.find('th[data-col=served_today] button').send_keys(Keys.ENTER)
    tap.check('Enter again reverses it, and the heading says so',
              lambda: wait_until(lambda: b.find('th[data-col=served_today]').get_attribute('aria-sort') == 'ascending' and
                                 [region_rows()[s]['served_today'] for s in order()] ==
                                 sorted(r['served_today'] for r in region_rows().values())))
    b.find('th[data-col=name] button').send_keys(Keys.ENTER)
    b.screenshot('region-flat-by-name-1920x1080')
    b.click('#grouped')
    b.click('#sort-reset')

    # Live: a take at a community shows within the refresh.
    op('xixiang-02', 'resume', window=1)
    op('xixiang-02', 'take', service='A')
    tap.check('a new ticket at a site shows within the refresh (5 s)',
              lambda: wait_until(lambda: page_rows()['xixiang-02']['waiting'] == '1', 8))
    tap.check('each site links to its /manager view',
              lambda: b.js("return Array.from(document.querySelectorAll('.site-link')).every(a => "
                           "a.getAttribute('href') === '/manager?site=' + a.dataset.site)"))
    b.click('.site-link[data-site="xixiang-01"]')
    tap.check("the link opens that site's dashboard for the region manager, with the site switch",
              lambda: wait_until(lambda: b.visible('#dashboard') and '西乡街道第1社区' in b.text('#site-title') and
                                 b.visible('#site-switch')))

    # A hall manager: its own hall only; another site's data and the region are refused.
    b.click('#signout')
    wait_until(lambda: b.visible('#signin'))
    b.js("const s = document.getElementById('signin-site'); s.value = 'xixiang-01';")
    b.type('#signin-user', 'm01')
    b.type('#signin-password', 'manager123')
    b.click('#signin-submit')
    tap.check("a hall manager sees its own hall",
              lambda: wait_until(lambda: b.visible('#dashboard') and '西乡街道第1社区' in b.text('#site-title')))
    b.open('/manager?site=xixiang')
    tap.check("another site's dashboard is refused, saying 403 and why",
              lambda: wait_until(lambda: b.visible('#access-error') and not b.visible('#dashboard') and
                                 '403' in b.text('#access-error-text') and 'does not cover this' in b.text('#access-error')))
    status, _ = hall.api('GET', '/sites/xixiang/stats?from=2026-01-01&to=2026-01-01',
                         token=hall.session(role='manager', user='m01', password='manager123', site='xixiang-01'))
    tap.check('(the API refuses it too: 403, as NDJSON says forbidden)', lambda: status == 403)
    b.screenshot('manager-refused-1920x1080')
    b.open('/region')
    # GET /region by a hall manager is forbidden (403), as the region op is over NDJSON.
    tap.check('the region view is refused to a hall manager, saying 403 and why',
              lambda: wait_until(lambda: b.visible('#access-error') and
                                 '403' in b.text('#access-error-text') and
                                 'region managers' in b.text('#access-error')))
    b.screenshot('region-refused-1920x1080')
    tap.check('no console error but the refusals',
              lambda: not [e for e in b.console_errors() if not (' 401 ' in e or ' 403 ' in e or '(Unauthorized)' in e or '(Forbidden)' in e)])

    # The district center's dashboard for the region manager at a desk: 40 windows, and the
    # switch to another site of the scope.
    with Browser(hall, 1440, 900) as desk:
        desk.open('/manager?site=baoan')
        wait_until(lambda: desk.visible('#signin'))
        desk.type('#signin-user', 'r01')
        desk.type('#signin-password', 'manager123')
        desk.click('#signin-submit')
        tap.check("the district center's dashboard shows its 40 windows",
                  lambda: wait_until(lambda: len(desk.find_all('.win')) == 40 and desk.text('[data-kpi=waiting] .value') ==
                                     str(region_rows()['baoan']['waiting'])))
        desk.screenshot('manager-district-1440x900')
        desk.js("const s = document.getElementById('site-switch'); s.value = 'fuhai'; s.dispatchEvent(new Event('change'))")
        tap.check('the site switch opens another site of the scope, its figures and address',
                  lambda: wait_until(lambda: '福海街道' in desk.text('#site-title') and len(desk.find_all('.win')) == 10 and
                                     desk.text('[data-kpi=issued] .value') == '9' and
                                     desk.js('return location.search') == '?site=fuhai'))

tap.finish()
