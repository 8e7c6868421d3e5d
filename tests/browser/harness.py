"""The browser tests' harness: a private Redis and a real qserver with --http serving web/,
headless Debian Chromium driven by selenium, screenshots kept with the test output, and
TAP-like results that scripts/run-tests.sh counts.

A test file looks like:

    from harness import Hall, Browser, Tap, wait_until

    tap = Tap()
    with Hall() as hall, Browser(hall, 1920, 1080) as b:
        manager = hall.session(role='manager', user='m01', password='manager123')
        b.open('/display?site=small')
        tap.check('shows the site name', lambda: wait_until(lambda: '测试大厅' in b.text('body')))
        hall.api('POST', '/sites/small/op/call_next', {'window': 1}, token=manager)
        b.screenshot('display-1920x1080')
    tap.finish()

Run with Debian's /usr/bin/python3 (its selenium). QHALL_BUILD and QHALL_ROOT come from
scripts/run-tests.sh; run by hand: QHALL_BUILD=build /usr/bin/python3 tests/browser/test_x.py.
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.error
import urllib.request

ROOT = os.path.abspath(os.environ.get('QHALL_ROOT', os.path.join(os.path.dirname(__file__), '..', '..')))
BUILD = os.path.abspath(os.environ.get('QHALL_BUILD', os.path.join(ROOT, 'build')))
SCREENSHOTS = os.path.join(BUILD, 'test-logs', 'screenshots')

# The small test hall's credentials (tests/data/small.json).
KIOSK = {'role': 'kiosk', 'token': 'kiosk123'}
MANAGER = {'role': 'manager', 'user': 'm01', 'password': 'manager123'}


def free_port():
    """A loopback port nothing listens on, below the ephemeral range clients use."""
    import random
    for _ in range(100):
        port = random.randint(20000, 32000)
        with socket.socket() as s:
            try:
                s.bind(('127.0.0.1', port))
                return port
            except OSError:
                continue
    raise RuntimeError('no free port')


def wait_until(cond, timeout=5.0, step=0.05):
    """Polls cond() until it is true (returns its value) or the time is up (returns False)."""
    end = time.monotonic() + timeout
    while True:
        try:
            value = cond()
        except Exception:  # a page element not there yet, a stale reference
            value = None
        if value:
            return value
        if time.monotonic() > end:
            return False
        time.sleep(step)


class Hall:
    """A private redis-server and a qserver on CONFIG (the small hall by default) with HTTP on
    a free port, serving web/. Extra qserver arguments in args (e.g. --test-clock)."""

    def __init__(self, config=None, site='small', args=None, web=None):
        self.config = config or os.path.join(ROOT, 'tests', 'data', 'small.json')
        self.site = site
        self.args = args or []
        self.web = web or os.path.join(ROOT, 'web')
        self.dir = tempfile.mkdtemp(prefix='qhall-browser-')
        self.redis_sock = os.path.join(self.dir, 'redis.sock')
        self.port = free_port()
        self.http_port = free_port()
        self.base = 'http://127.0.0.1:%d' % self.http_port
        self.redis = self.qserver = None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def start(self):
        """Starts Redis, then qserver, and waits until the API answers."""
        self.redis = subprocess.Popen(
            ['redis-server', '--port', '0', '--unixsocket', self.redis_sock, '--save', '',
             '--appendonly', 'no', '--dir', self.dir, '--logfile', os.path.join(self.dir, 'redis.log')],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if not wait_until(lambda: os.path.exists(self.redis_sock), 5):
            raise RuntimeError('redis-server did not start')
        self.start_qserver()

    def start_qserver(self):
        """Starts qserver (again) and waits for its API."""
        self.log = open(os.path.join(self.dir, 'qserver.log'), 'a')
        self.qserver = subprocess.Popen(
            [os.path.join(BUILD, 'qserver'), '--config', self.config, '--redis', 'unix:' + self.redis_sock,
             '--listen', '127.0.0.1:%d' % self.port, '--http', '127.0.0.1:%d' % self.http_port,
             '--web', self.web, '--log-level', 'warn'] + self.args,
            stdout=self.log, stderr=self.log)
        if not wait_until(lambda: self.api('GET', '/sites/%s/services' % self.site)[0] == 200, 10):
            raise RuntimeError('qserver did not serve HTTP:\n' + self.log_tail())

    def stop_qserver(self):
        """Stops qserver (SIGTERM) and waits for it."""
        if self.qserver and self.qserver.poll() is None:
            self.qserver.send_signal(signal.SIGTERM)
            try:
                self.qserver.wait(10)
            except subprocess.TimeoutExpired:
                self.qserver.kill()
        self.qserver = None

    def stop(self):
        """Stops qserver and Redis and removes the private folder."""
        self.stop_qserver()
        if self.redis and self.redis.poll() is None:
            self.redis.terminate()
            self.redis.wait(10)
        shutil.rmtree(self.dir, ignore_errors=True)

    def log_tail(self, lines=20):
        """The end of qserver's log."""
        try:
            with open(os.path.join(self.dir, 'qserver.log')) as f:
                return ''.join(f.readlines()[-lines:])
        except OSError:
            return ''

    def api(self, method, path, body=None, token=None):
        """Calls /api/v1 + path; returns (HTTP status, the answer's JSON or None)."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + '/api/v1' + path, data=data, method=method)
        if data is not None:
            req.add_header('Content-Type', 'application/json')
        if token:
            req.add_header('Authorization', 'Bearer ' + token)
        try:
            with urllib.request.urlopen(req, timeout=5) as res:
                return res.status, json.loads(res.read() or b'null')
        except urllib.error.HTTPError as e:
            raw = e.read()
            try:
                return e.code, json.loads(raw)
            except ValueError:
                return e.code, None
        except (urllib.error.URLError, ConnectionError, socket.timeout):
            return 0, None

    def session(self, **hello):
        """Signs in (POST /session with hello's fields and this site); returns the token."""
        hello.setdefault('site', self.site)
        status, answer = self.api('POST', '/session', hello)
        if status != 200:
            raise RuntimeError('sign-in failed: %s %s' % (status, answer))
        return answer['session']

    def op(self, token, op, **args):
        """Runs any op with a session (POST /sites/{site}/op/{op}); returns the answer."""
        status, answer = self.api('POST', '/sites/%s/op/%s' % (self.site, op), args, token)
        if status != 200:
            raise RuntimeError('%s failed: %s %s' % (op, status, answer))
        return answer

    def qcli(self, *args, password='clerk123'):
        """Runs qcli against this qserver (e.g. '--clerk', 'c01', '--window', '1', 'call_next');
        returns its answer as JSON."""
        env = dict(os.environ, QHALL_TOKEN='kiosk123', QHALL_PASSWORD=password)
        out = subprocess.run([os.path.join(BUILD, 'qcli'), '--server', '127.0.0.1:%d' % self.port,
                              '--site', self.site] + list(args), env=env, capture_output=True, text=True, timeout=10)
        return json.loads(out.stdout.strip().splitlines()[-1]) if out.stdout.strip() else None


class Browser:
    """Headless Debian Chromium at WIDTHxHEIGHT (the page's viewport), pointed at a hall."""

    def __init__(self, hall, width=1280, height=800):
        self.hall, self.width, self.height = hall, width, height
        self.profile = tempfile.mkdtemp(prefix='qhall-chromium-')
        self.driver = None

    def __enter__(self):
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
        opts = webdriver.ChromeOptions()
        opts.binary_location = '/usr/bin/chromium'
        for flag in ('--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
                     '--disable-background-networking', '--disable-component-update', '--disable-sync',
                     '--disable-dev-shm-usage', '--hide-scrollbars', '--autoplay-policy=no-user-gesture-required',
                     '--lang=zh-CN', '--user-data-dir=' + self.profile,
                     '--window-size=%d,%d' % (self.width, self.height)):
            opts.add_argument(flag)
        opts.set_capability('goog:loggingPrefs', {'browser': 'ALL'})
        self.driver = webdriver.Chrome(service=Service('/usr/bin/chromedriver'), options=opts)
        self.driver.set_page_load_timeout(15)
        # --window-size sets the window; make the viewport itself the stated size.
        inner = self.driver.execute_script('return [window.innerWidth, window.innerHeight]')
        if inner != [self.width, self.height]:
            self.driver.set_window_size(self.width * 2 - inner[0], self.height * 2 - inner[1])
        # Chromium's windows are at least 500 px wide: a phone's viewport is emulated instead.
        inner = self.driver.execute_script('return [window.innerWidth, window.innerHeight]')
        if inner != [self.width, self.height]:
            self.driver.execute_cdp_cmd('Emulation.setDeviceMetricsOverride', {
                'width': self.width, 'height': self.height, 'deviceScaleFactor': 1, 'mobile': self.width < 600})
        return self

    def __exit__(self, *exc):
        if self.driver:
            self.driver.quit()
        shutil.rmtree(self.profile, ignore_errors=True)

    def open(self, path):
        """Loads a page of the hall's qserver."""
        self.driver.get(self.hall.base + path)

    def find(self, css):
        """The first element matching css, or None."""
        from selenium.webdriver.common.by import By
        found = self.driver.find_elements(By.CSS_SELECTOR, css)
        return found[0] if found else None

    def find_all(self, css):
        """Every element matching css."""
        from selenium.webdriver.common.by import By
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def text(self, css):
        """The visible text of the first element matching css ('' when there is none)."""
        e = self.find(css)
        return e.text if e else ''

    def visible(self, css):
        """Whether an element matching css is shown."""
        e = self.find(css)
        return bool(e and e.is_displayed())

    def click(self, css):
        """Clicks the first element matching css."""
        self.find(css).click()

    def type(self, css, text):
        """Types text into the first element matching css, after clearing it."""
        e = self.find(css)
        e.clear()
        e.send_keys(text)

    def js(self, script, *args):
        """Runs script in the page; returns its value."""
        return self.driver.execute_script(script, *args)

    def console_errors(self):
        """The page's console errors so far (CSP violations, exceptions)."""
        return [e['message'] for e in self.driver.get_log('browser') if e.get('level') == 'SEVERE']

    def screenshot(self, name):
        """Saves the viewport as SCREENSHOTS/name.png and returns the path."""
        os.makedirs(SCREENSHOTS, exist_ok=True)
        path = os.path.join(SCREENSHOTS, name + '.png')
        self.driver.save_screenshot(path)
        return path


class Tap:
    """TAP-like output: 'ok N - name' or 'not ok N - name', counted by scripts/run-tests.sh."""

    def __init__(self):
        self.n = 0
        self.failed = 0

    def check(self, name, fn):
        """Runs fn(); passes when it returns a true value without raising."""
        self.n += 1
        try:
            ok = bool(fn())
            detail = ''
        except Exception:
            ok = False
            detail = traceback.format_exc()
        print('%s %d - %s' % ('ok' if ok else 'not ok', self.n, name), flush=True)
        if not ok:
            self.failed += 1
            if detail:
                print('# ' + detail.replace('\n', '\n# '), flush=True)
        return ok

    def finish(self):
        """Exits with the result (non-zero when anything failed or nothing ran)."""
        sys.exit(1 if self.failed or self.n == 0 else 0)
