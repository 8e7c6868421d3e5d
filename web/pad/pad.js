/* The rating pad (评价器) at a window, /pad/{site}/{window}: it signs in with its token (asked
 * once, kept in this browser's localStorage), waits on the site's ticket events for a ticket
 * finished at its window, shows that ticket and the five 好差评 levels large for as long as the
 * server lets a pad rate it (120 s after the finish), sends the touched level, thanks the
 * citizen and goes back to idle. docs/ratings.md describes the pad's role. */
(function () {
  'use strict';

  const RATE_SECONDS = 120;  /* the server's window for a pad's rating */
  const THANKS_MS = 5000;    /* how long the thanks stay */
  const RETRY_MS = 5000;     /* sign-in again after a failure to reach the server */
  let again = null;          /* the sign-in planned while the link is down */
  const LEVELS = [
    [5, '非常满意', 'Very satisfied'], [4, '满意', 'Satisfied'], [3, '基本满意', 'Fair'],
    [2, '不满意', 'Dissatisfied'], [1, '非常不满意', 'Very dissatisfied'],
  ];

  const args = Q.pathArgs();
  const site = args[0] || '';
  const win = parseInt(args[1] || '', 10);
  const storeKey = 'qhall.pad.' + site + '.' + win;
  const $ = (id) => document.getElementById(id);

  let offset = 0;      /* the server's clock minus this browser's, in seconds */
  let tz;              /* the site's time zone */
  let current = null;  /* the ticket being rated */
  let countdown = null, back = null, link = null;

  /* The server's clock now, in epoch seconds (the test clock too). */
  function serverNow() {
    return Date.now() / 1000 + offset;
  }

  /* Shows one screen. */
  function show(id) {
    ['setup', 'idle', 'rate', 'thanks'].forEach((s) => { $(s).hidden = s !== id; });
  }

  /* The saved sign-in of this pad ({token, kiosk}), or null. */
  function saved() {
    try {
      return JSON.parse(localStorage.getItem(storeKey) || 'null');
    } catch (e) {
      return null;
    }
  }

  /* Asks for the token (with a message after a refusal). */
  function setup(message) {
    const s = saved();
    $('kiosk').value = (s && s.kiosk) || '';
    $('setup-error').textContent = message || '';
    show('setup');
    $('token').focus();
  }

  /* Back to the waiting screen. */
  function idle() {
    current = null;
    clearInterval(countdown);
    clearTimeout(back);
    show('idle');
  }

  /* Thanks (or another closing word) for a while, then idle. */
  function thanks(zh, en) {
    clearInterval(countdown);
    Q.fill($('thanks-text'), Q.el('span', { class: 'zh' }, zh), Q.el('span', { class: 'en' }, en));
    show('thanks');
    clearTimeout(back);
    back = setTimeout(idle, THANKS_MS);
  }

  /* Seconds left to rate the current ticket. */
  function secondsLeft() {
    return Math.floor(current.finished_at + RATE_SECONDS - serverNow());
  }

  /* Shows a ticket just finished here and the five levels; back to idle when time is up. */
  function offer(ticket) {
    current = ticket;
    clearTimeout(back);
    $('rate-number').textContent = ticket.number;
    $('rate-error').textContent = '';
    document.querySelectorAll('#levels button').forEach((b) => { b.disabled = false; });
    show('rate');
    const tick = function () {
      const left = current ? secondsLeft() : 0;
      if (left <= 0) {
        idle();
        return;
      }
      $('countdown').textContent = left + ' 秒后返回 · back in ' + left + ' s';
    };
    clearInterval(countdown);
    countdown = setInterval(tick, 1000);
    tick();
  }

  /* Sends the touched level for the current ticket. */
  async function rate(score) {
    if (!current) return;
    const ticket = current;
    document.querySelectorAll('#levels button').forEach((b) => { b.disabled = true; });
    try {
      await Q.api('POST', '/sites/' + encodeURIComponent(site) + '/tickets/' + encodeURIComponent(ticket.id) + '/rating',
        { score: score });
      thanks('谢谢您的评价！', 'Thank you for your rating!');
    } catch (e) {
      if (e.code === 'conflict') {
        thanks('本次服务已评价', 'This service was already rated');
      } else if (e.code === 'forbidden') {
        thanks('评价时间已过', 'The time to rate this service is over');
      } else if (e.code === 'unauthenticated') {
        signIn().then(() => rate(score), () => setup('请重新输入令牌 · Please enter the token again'));
      } else {
        $('rate-error').textContent = e.message;
        document.querySelectorAll('#levels button').forEach((b) => { b.disabled = false; });
      }
    }
  }

  /* Takes a ticket event: a ticket done at this window, not rated, still in time, is offered;
   * the offered ticket rated elsewhere (the clerk, the citizen's phone) ends the offer. */
  function onTicket(name, data) {
    const t = data && data.ticket;
    if (!t || t.window !== win) return;
    if (current && t.id === current.id && t.rating !== null && $('rate').hidden === false) {
      idle();
      return;
    }
    if (t.state === 'done' && t.rating === null && t.finished_at &&
        serverNow() - t.finished_at < RATE_SECONDS) {
      offer(t);
    }
  }

  /* The site's time of day in the header, on the server's clock. */
  function showClock() {
    if (tz) $('clock').textContent = Q.timeIn(tz, new Date(serverNow() * 1000));
  }

  /* Signs in with the saved token: a 30-day session cookie; fills the header. */
  async function signIn() {
    const s = saved();
    const hello = { role: 'pad', token: s.token, site: site };
    if (s.kiosk) hello.kiosk = s.kiosk;
    const answer = await Q.api('POST', '/session', hello);
    if (!answer.window || answer.window.id !== win) {
      const other = answer.window ? answer.window.id : '?';
      throw new Q.ApiError(403, { code: 'forbidden',
        message: '此令牌属于 ' + other + ' 号窗口 · This token is for window ' + other + '.' });
    }
    if (typeof answer.site.time === 'number') offset = answer.site.time - Date.now() / 1000;
    tz = answer.site.tz;
    Q.fill($('window-name'), answer.window.name || win + '号窗口', ' ',
      Q.el('span', { class: 'muted' }, answer.window.name_en || 'Window ' + win));
    Q.fill($('site-name'), answer.site.name || site);
    showClock();
  }

  /* Signs in and listens; a server out of reach is tried again, a refused token asked anew. */
  async function start() {
    if (!saved()) {
      setup();
      return;
    }
    try {
      await signIn();
    } catch (e) {
      if (e.code === 'unauthenticated' || e.code === 'forbidden' || e.code === 'not_found') {
        setup(e.message);
      } else {
        Q.offlineBanner(false);
        setTimeout(start, RETRY_MS);
      }
      return;
    }
    Q.offlineBanner(true);
    idle();
    if (link) link.close();
    link = Q.live('/api/v1/sites/' + encodeURIComponent(site) + '/events?topics=ticket', ['ticket'], {
      event: onTicket,
      /* down for long (the session expired, or its token changed with the config): sign in
       * again, which asks for the token when it is refused, and opens a new link */
      state: function (up) {
        Q.offlineBanner(up);
        clearTimeout(again);
        if (!up) again = setTimeout(start, RETRY_MS);
      },
    });
  }

  /* The five level buttons, best first, each large enough for any finger. */
  Q.fill($('levels'), LEVELS.map(function (l) {
    return Q.el('button', { type: 'button', class: 'level-' + l[0], 'data-score': l[0], onclick: () => rate(l[0]) },
      Q.el('span', { class: 'score' }, String(l[0])), Q.el('span', { class: 'zh' }, l[1]),
      Q.el('span', { class: 'en' }, l[2]));
  }));

  $('setup-form').addEventListener('submit', function (ev) {
    ev.preventDefault();
    const token = $('token').value.trim();
    if (!token) return;
    localStorage.setItem(storeKey, JSON.stringify({ token: token, kiosk: $('kiosk').value.trim() }));
    $('token').value = '';
    start();
  });

  setInterval(showClock, 1000);

  if (!site || !(win > 0)) {
    setup('地址应为 /pad/站点/窗口号 · The address must be /pad/{site}/{window}.');
  } else if (Q.param('setup')) {
    setup(); /* ?setup=1: enter another token */
  } else {
    start();
  }
})();
