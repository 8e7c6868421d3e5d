/* The citizen's ticket page, /t/{id}?k=SECRET[&site=S]: the ticket's number, service and state,
 * the people ahead and the estimated wait, live; an unmissable "please go to window N" with
 * vibration and a chime when called; cancelling while waiting; the 好差评 rating once done.
 * Without the right secret it shows why, never the ticket. Everything the server or the
 * citizen wrote is set as text, never as HTML (Q.el). */
(function () {
  'use strict';

  const STATES = {
    waiting: ['排队中', 'Waiting'],
    called: ['已叫号', 'Called'],
    serving: ['正在办理', 'Being served'],
    done: ['已办结', 'Done'],
    cancelled: ['已取消', 'Cancelled'],
    no_show: ['过号', 'Missed'],
    expired: ['已过期', 'Expired'],
  };
  const SCORES = [
    [5, '非常满意', 'Very satisfied'],
    [4, '满意', 'Satisfied'],
    [3, '基本满意', 'Fair'],
    [2, '不满意', 'Dissatisfied'],
    [1, '非常不满意', 'Very dissatisfied'],
  ];
  const REFRESH_MS = 30000;

  const $ = (name) => document.getElementById(name);
  const ticketId = Q.pathArgs()[0] || '';
  const secret = Q.param('k', '');
  let site = Q.param('site', '');
  let services = {};
  let last = null;           // the ticket last shown
  let link = null;           // the live event stream
  let refresher = null;
  let audio = null;          // an AudioContext, once the citizen allowed sound
  let justRated = null;      // the score this page sent
  let chosen = 0;            // the score picked in the form
  let alerts = 0;            // calls announced (vibration and chime), for tests and the title


  /* Shows why the ticket cannot be shown, and nothing of the ticket; stops following it. */
  function problem(zhTitle, enTitle, zhText, enText) {
    if (link) link.close();
    link = null;
    clearInterval(refresher);
    Q.problem(['ticket'], zhTitle, enTitle, zhText, enText);
  }

  /* Tells an API failure while loading: a wrong secret, an unknown ticket, or no server. */
  function loadProblem(e) {
    if (e.code === 'unauthenticated' || e.code === 'forbidden') {
      problem('无法查看这张票', 'This ticket cannot be shown',
        '链接中的密钥不正确。请扫描票上的二维码重新打开。',
        'The key in this link is wrong. Scan the QR code on your ticket again.');
    } else if (e.code === 'not_found' || e.code === 'bad_request') {
      problem('找不到这张票', 'No such ticket',
        '请确认链接来自您的票，或扫描票上的二维码。',
        'Check that the link comes from your ticket, or scan its QR code.');
    } else {
      problem('暂时无法连接', 'Cannot reach the hall right now',
        '请检查网络，稍后刷新本页。', 'Check your connection and reload this page in a moment.');
    }
  }

  /* Plays a two-tone chime (no file needed) when the citizen allowed sound. */
  function chime() {
    if (!audio) return;
    if (audio.state === 'suspended') audio.resume();
    const t0 = audio.currentTime + 0.02;
    [[880, 0], [660, 0.45], [880, 0.9], [660, 1.35]].forEach(function (tone) {
      const osc = audio.createOscillator(), gain = audio.createGain();
      osc.type = 'sine';
      osc.frequency.value = tone[0];
      gain.gain.setValueAtTime(0.0001, t0 + tone[1]);
      gain.gain.exponentialRampToValueAtTime(0.5, t0 + tone[1] + 0.03);
      gain.gain.exponentialRampToValueAtTime(0.0001, t0 + tone[1] + 0.42);
      osc.connect(gain).connect(audio.destination);
      osc.start(t0 + tone[1]);
      osc.stop(t0 + tone[1] + 0.45);
    });
  }

  /* Creates the sound output: browsers allow it only after a tap on the page. */
  function unlockSound() {
    if (!audio) {
      const Ctx = window.AudioContext || window.webkitAudioContext;
      if (Ctx) audio = new Ctx();
    }
    if (audio && audio.state === 'suspended') audio.resume();
  }

  /* Announces a call: vibration, the chime, and the window in the tab's title. */
  function announce(t) {
    alerts++;
    document.body.dataset.alerts = String(alerts);
    if (navigator.vibrate) navigator.vibrate([400, 200, 400, 200, 800]);
    chime();
    document.title = '请到 ' + t.window + ' 号窗口 · Go to window ' + t.window;
  }

  /* The service's name, bilingual. */
  function serviceName(id) {
    const s = services[id];
    return s ? Q.bi(s.name, s.name_en || '') : Q.bi(id, '');
  }

  /* The state's line below the number, and what it tells the citizen. */
  function stateMessage(t) {
    switch (t.state) {
      case 'waiting':
        return Q.bi('叫到您时，本页会提示并振动。', 'This page alerts you when you are called.');
      case 'called':
        return Q.bi('请尽快前往窗口，过号需重新取号。', 'Please go now; a missed call needs a new ticket.');
      case 'serving':
        return Q.bi('正在 ' + t.window + ' 号窗口为您办理。', 'Being served at window ' + t.window + '.');
      case 'cancelled':
        return Q.bi('这张票已取消。如需办理，请重新取号。', 'This ticket was cancelled. Take a new one to be served.');
      case 'expired':
        return Q.bi('这张票已过期。', 'This ticket has expired.');
      case 'no_show':
        return Q.bi('叫号时您未到窗口。如需办理，请重新取号。', 'You were called but did not come. Take a new ticket to be served.');
      default:
        return null;
    }
  }

  /* The rating given, as a line of the thanks panel. */
  function ratedLine(score) {
    const s = SCORES.find((x) => x[0] === score);
    return s ? Q.bi('您的评价：' + s[1], 'Your rating: ' + s[2].toLowerCase()) : null;
  }

  /* Shows a ticket (from the API or the live stream). */
  function render(t) {
    const before = last;
    last = t;
    $('loading').hidden = true;
    $('problem').hidden = true;
    $('ticket').hidden = false;
    document.body.dataset.state = t.state;
    Q.fill($('number'), t.number);
    Q.fill($('service'), serviceName(t.service));
    const st = STATES[t.state] || [t.state, t.state];
    $('state').className = 'state state-' + t.state;
    Q.fill($('state'), Q.bi(st[0], st[1], 'inline'));

    const called = t.state === 'called';
    $('called').hidden = !called;
    if (called) {
      Q.fill($('called-window-zh'), String(t.window));
      Q.fill($('called-window-en'), String(t.window));
      $('called-recall').hidden = !(t.recalls > 0);
      const fresh = !before || before.state !== 'called' || (t.recalls || 0) > (before.recalls || 0);
      if (fresh && before) announce(t);
    } else if (before && before.state === 'called') {
      document.title = '排队进度 · Your ticket';
    }

    const waiting = t.state === 'waiting';
    $('progress').hidden = !waiting;
    if (waiting) {
      Q.fill($('ahead'), t.ahead === null || t.ahead === undefined ? '—' : String(t.ahead));
      const range = Q.rangeText(t.ewt_low, t.ewt_high, t.ewt);
      Q.fill($('ewt'), Q.bi(range.zh, range.en));
    }
    Q.fill($('message'), stateMessage(t));
    $('sound').hidden = $('sound').dataset.used === '1' || !(waiting || called);
    $('cancel-box').hidden = !waiting;
    if (!waiting) $('confirm').hidden = true;

    const rateable = t.state === 'done' || t.state === 'no_show';
    const rating = t.rating === null || t.rating === undefined ? null : t.rating;
    $('rating').hidden = !(rateable && rating === null);
    $('thanks').hidden = rating === null;
    if (rating !== null) Q.fill($('rated'), ratedLine(justRated || rating));

    if (t.state === 'cancelled' || t.state === 'expired' || rating !== null) {
      if (link) link.close(); // nothing will change any more
      link = null;
      clearInterval(refresher);
    }
  }

  /* Reads the ticket again (after a reset, a reconnect, and every half minute). */
  async function refresh() {
    try {
      const answer = await Q.api('GET', ticketPath());
      render(answer.ticket);
    } catch (e) {
      if (e.code === 'unauthenticated' || e.code === 'not_found') loadProblem(e);
    }
  }

  /* The API path of this ticket, with its secret. */
  function ticketPath(tail) {
    return '/sites/' + encodeURIComponent(site) + '/tickets/' + encodeURIComponent(ticketId) + (tail || '') +
      '?k=' + encodeURIComponent(secret);
  }

  /* Builds the five 好差评 levels as large buttons. */
  function buildScores() {
    const box = $('scores');
    SCORES.forEach(function (s) {
      const b = Q.el('button', {
        type: 'button', class: 'score score-' + s[0], role: 'radio', 'aria-checked': 'false', 'data-score': String(s[0]),
        onclick: function () {
          chosen = s[0];
          box.querySelectorAll('.score').forEach((x) => x.setAttribute('aria-checked', String(x === b)));
          $('submit-rating').disabled = false;
        },
      }, Q.el('span', { class: 'score-n', 'aria-hidden': 'true' }, String(s[0])), Q.bi(s[1], s[2]));
      box.appendChild(b);
    });
  }

  /* Sends the rating, with the comment when there is one. */
  async function sendRating(ev) {
    ev.preventDefault();
    if (!chosen) return;
    const body = { score: chosen };
    const comment = $('comment').value.trim();
    if (comment) body.comment = comment;
    $('submit-rating').disabled = true;
    $('rating-error').hidden = true;
    try {
      const answer = await Q.api('POST', ticketPath('/rating'), body);
      justRated = chosen;
      render(answer.ticket);
    } catch (e) {
      const zh = e.code === 'conflict' ? '这张票不能再评价。' : e.code === 'unavailable' ? '暂时无法提交，请稍后再试。' : '提交未成功。';
      Q.fill($('rating-error'), Q.bi(zh, e.message));
      $('rating-error').hidden = false;
      $('submit-rating').disabled = false;
    }
  }

  /* Cancels the ticket once the citizen confirmed. */
  async function cancelTicket() {
    $('confirm-yes').disabled = true;
    try {
      const answer = await Q.api('DELETE', ticketPath());
      render(answer.ticket);
    } catch (e) {
      Q.fill($('message'), Q.el('span', { class: 'error' }, Q.bi('取消未成功。', e.message)));
    }
    $('confirm-yes').disabled = false;
    $('confirm').hidden = true;
  }

  /* Wires the page's buttons. */
  function wire() {
    buildScores();
    $('rating').addEventListener('submit', sendRating);
    $('comment').addEventListener('input', function () {
      Q.fill($('comment-count'), String(Array.from($('comment').value).length));
    });
    $('sound').addEventListener('click', function () { unlockSound(); chime(); $('sound').dataset.used = '1'; $('sound').hidden = true; });
    $('cancel').addEventListener('click', function () { $('confirm').hidden = false; $('confirm-no').focus(); });
    $('confirm-no').addEventListener('click', function () { $('confirm').hidden = true; });
    $('confirm-yes').addEventListener('click', cancelTicket);
    // Any tap allows sound from then on (browsers forbid it before one); the page does not
    // move under the finger: the sound button goes only when it is itself tapped.
    document.addEventListener('pointerdown', unlockSound, { once: true });
  }

  /* Finds the site (from the address, or the server's only one), its names, then the ticket,
   * then follows it live. */
  async function start() {
    wire();
    if (!/^[A-Za-z0-9-]{1,64}$/.test(ticketId) || !/^[A-Za-z0-9_-]{8,64}$/.test(secret)) {
      problem('链接不完整', 'This link is incomplete',
        '请扫描票上的二维码打开本页。', 'Open this page by scanning the QR code on your ticket.');
      return;
    }
    try {
      if (!site) {
        const list = await Q.api('GET', '/sites');
        if (list.sites.length !== 1) {
          problem('链接缺少大厅信息', 'This link does not name the hall',
            '请扫描票上的二维码打开本页。', 'Open this page by scanning the QR code on your ticket.');
          return;
        }
        site = list.sites[0].id;
      }
      const info = await Q.api('GET', '/sites/' + encodeURIComponent(site));
      info.services.forEach((s) => { services[s.id] = s; });
      Q.fill($('site-name'), Q.bi(info.site.name, info.site.name_en || '', 'inline'));
      render((await Q.api('GET', ticketPath())).ticket);
    } catch (e) {
      loadProblem(e);
      return;
    }
    if (!link && $('ticket').hidden === false && last && ['cancelled', 'expired'].indexOf(last.state) < 0 &&
        (last.rating === null || last.rating === undefined)) {
      link = Q.live('/api/v1' + ticketPath('/events'), ['ticket'], {
        event: function (name, data) { if (data && data.ticket) render(data.ticket); },
        reset: refresh,
        state: function (up) { Q.offlineBanner(up); if (up) refresh(); },
      });
      refresher = setInterval(refresh, REFRESH_MS);
    }
  }

  start();
})();
