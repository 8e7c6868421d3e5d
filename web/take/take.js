/* Remote tickets, /take/{site}: the hall's services with the people waiting and the estimated
 * wait (kept live), a ticket taken with channel web and an optional phone (the ticket's ref),
 * then its number and the link to its status page. Outside opening hours it says when the
 * hall opens; past the limits it says when to try again. Text is set as text only (Q.el). */
(function () {
  'use strict';

  const DAYS = [['mon', '周一', 'Mon'], ['tue', '周二', 'Tue'], ['wed', '周三', 'Wed'], ['thu', '周四', 'Thu'],
    ['fri', '周五', 'Fri'], ['sat', '周六', 'Sat'], ['sun', '周日', 'Sun']];
  const REFRESH_MS = 30000;

  const $ = (name) => document.getElementById(name);
  const site = Q.pathArgs()[0] || '';
  let tz = 'Asia/Shanghai';
  let chosen = '';
  let services = [];
  let pending = null;
  let open = true;           // the hall takes tickets now (an estimate means nothing otherwise)
  let notifyOn = false;     // the hall texts a phone when its turn is near (site.notify)


  /* Shows why the page cannot be used. */
  function problem(zhTitle, enTitle, zhText, enText) {
    Q.problem(['take-form'], zhTitle, enTitle, zhText, enText);
  }

  /* An epoch second as the site's local day and time, bilingual. */
  function when(epoch) {
    const d = new Date(epoch * 1000);
    const zh = new Intl.DateTimeFormat('zh-CN', { month: 'long', day: 'numeric', weekday: 'short', hour: '2-digit',
      minute: '2-digit', hour12: false, timeZone: tz }).format(d);
    const en = new Intl.DateTimeFormat('en-GB', { weekday: 'short', day: 'numeric', month: 'short', hour: '2-digit',
      minute: '2-digit', hour12: false, timeZone: tz }).format(d);
    return { zh: zh, en: en };
  }

  /* The "closed now" line, with the opening time when there is one. */
  function closedText(opensAt) {
    if (opensAt === null || opensAt === undefined) {
      return Q.bi('大厅现在不办理取号，暂无开放时间。', 'The hall is not taking tickets and has no opening time set.');
    }
    const w = when(opensAt);
    return Q.bi('现在不在办理时间，' + w.zh + ' 开始取号。', 'Closed now. Tickets from ' + w.en + '.');
  }

  /* Fills the opening hours table. */
  function showHours(hours) {
    Q.fill($('hours'), DAYS.map(function (d) {
      const h = hours && hours[d[0]];
      return Q.el('tr', {}, Q.el('th', {}, Q.bi(d[1], d[2], 'inline')),
        Q.el('td', {}, h ? h : Q.bi('休息', 'closed', 'inline')));
    }));
  }

  /* Draws the services as large choices with their waiting count and estimate. */
  function showServices() {
    Q.fill($('services'), services.map(function (s) {
      const range = Q.rangeText(s.ewt_low, s.ewt_high, s.ewt);
      const ahead = s.ahead !== undefined ? s.ahead : s.waiting;
      return Q.el('button', {
        type: 'button', class: 'service-choice', role: 'radio', 'data-service': s.id,
        'aria-checked': String(s.id === chosen),
        onclick: function () { chosen = s.id; showServices(); $('take').disabled = false; },
      },
      Q.el('span', { class: 'service-name' }, Q.bi(s.name, s.name_en || '')),
      Q.el('span', { class: 'service-figures' },
        Q.el('span', { class: 'waiting' }, Q.bi('等候 ' + s.waiting + ' 人', s.waiting + ' waiting')),
        open && Q.el('span', { class: 'estimate' },
          Q.bi(ahead > 0 ? '约等 ' + range.zh : '无需等待', ahead > 0 ? 'wait ' + range.en : 'no wait'))));
    }));
  }

  /* Shows the site's services and whether it takes tickets now. */
  function showSite(info) {
    services = info.services;
    open = info.site.open !== false;
    notifyOn = info.site.notify === true; /* the hall has a notify_url: a phone gets a text */
    $('notify-hint').hidden = !notifyOn;
    showServices();
    if (!open) Q.fill($('closed'), closedText(info.site.opens_at));
    $('closed').hidden = open || !$('result').hidden;
  }

  /* Reads the site's live figures again. */
  async function refreshServices() {
    try {
      showSite(await Q.api('GET', '/sites/' + encodeURIComponent(site)));
    } catch (e) { /* the next event or refresh tries again */ }
  }

  /* Refreshes at most once a second however many queue events arrive. */
  function refreshSoon() {
    if (pending) return;
    pending = setTimeout(function () { pending = null; refreshServices(); }, 1000);
  }

  /* Says why a take was refused, in words a citizen understands. */
  function takeRefused(e) {
    let text;
    if (e.code === 'closed') {
      /* the closed banner says it; not again beside the button */
      Q.fill($('closed'), closedText(e.answer.opens_at));
      $('closed').hidden = false;
      return;
    } else if (e.code === 'rate_limited') {
      const s = e.answer.retry_after || e.retryAfter || 60;
      const m = Math.max(1, Math.ceil(s / 60));
      text = Q.bi('取号次数过多，请 ' + m + ' 分钟后再试。', 'Too many tickets from here or for this phone. Try again in ' + m + ' min.');
    } else if (e.code === 'unauthenticated' || e.code === 'forbidden') {
      text = Q.bi('本大厅不提供网上取号，请到大厅取号机取号。', 'This hall does not issue tickets online; take one at the hall\'s kiosk.');
    } else if (e.code === 'bad_request' && e.error.field === 'ref') {
      text = Q.bi('手机号格式不正确。', 'The phone number is not valid.');
    } else if (e.code === 'unavailable') {
      text = Q.bi('暂时无法连接，请稍后再试。', 'Cannot reach the hall right now; try again in a moment.');
    } else {
      text = Q.bi('取号未成功。', e.message);
    }
    Q.fill($('take-error'), text);
    $('take-error').dataset.code = e.code;
    $('take-error').hidden = false;
  }

  /* The phone as typed, without spaces and dashes; null when it is not a phone number. */
  function phoneValue() {
    const raw = $('phone').value.replace(/[\s-]/g, '');
    if (raw === '') return '';
    return /^\+?[0-9]{5,20}$/.test(raw) ? raw : null;
  }

  /* Takes the ticket and shows it with its status link. */
  async function take(ev) {
    ev.preventDefault();
    if (!chosen) return;
    $('take-error').hidden = true;
    const phone = phoneValue();
    if (phone === null) {
      Q.fill($('take-error'), Q.bi('手机号格式不正确。', 'The phone number is not valid.'));
      $('take-error').hidden = false;
      return;
    }
    const body = { service: chosen, channel: 'web' };
    if (phone) {
      body.ref = phone;
      if (notifyOn) body.notify = { ahead: 3 };
    }
    $('take').disabled = true;
    try {
      const answer = await Q.api('POST', '/sites/' + encodeURIComponent(site) + '/tickets', body);
      showTicket(answer);
    } catch (e) {
      takeRefused(e);
      $('take').disabled = false;
    }
  }

  /* Shows the ticket taken and the address of its status page. */
  function showTicket(answer) {
    const t = answer.ticket;
    const url = answer.status_url || (location.origin + '/t/' + encodeURIComponent(t.id) + '?k=' +
      encodeURIComponent(answer.secret) + '&site=' + encodeURIComponent(site));
    const s = services.find((x) => x.id === t.service) || { name: t.service };
    Q.fill($('number'), t.number);
    Q.fill($('service'), Q.bi(s.name, s.name_en || ''));
    const range = Q.rangeText(t.ewt_low, t.ewt_high, t.ewt);
    Q.fill($('wait'), t.ahead > 0
      ? Q.bi('前面 ' + t.ahead + ' 人 · 约等 ' + range.zh, t.ahead + ' ahead · wait ' + range.en)
      : Q.bi('前面没有人等候', 'Nobody is ahead of you'));
    $('status-link').setAttribute('href', url);
    $('status-url').value = url;
    $('take-form').hidden = true;
    $('closed').hidden = true;
    $('result').hidden = false;
    window.scrollTo(0, 0);
  }

  /* Copies the status link (the field is selected too, for browsers without the clipboard). */
  async function copyLink() {
    const field = $('status-url');
    field.select();
    try {
      await navigator.clipboard.writeText(field.value);
      Q.fill($('copy'), Q.bi('已复制', 'Copied'));
    } catch (e) {
      Q.fill($('copy'), Q.bi('请长按链接复制', 'Press and hold the link to copy it'));
    }
  }

  /* Loads the site and its services, then keeps the figures live. */
  async function start() {
    $('take-form').addEventListener('submit', take);
    $('copy').addEventListener('click', copyLink);
    $('phone').addEventListener('input', function () { $('take-error').hidden = true; });
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(site)) {
      problem('链接不完整', 'This link does not name a hall', '请从大厅的网站或二维码打开本页。',
        'Open this page from the hall\'s website or QR code.');
      return;
    }
    let info;
    try {
      info = await Q.api('GET', '/sites/' + encodeURIComponent(site));
    } catch (e) {
      if (e.code === 'not_found') problem('找不到这个大厅', 'No such hall', '请检查链接。', 'Check the link.');
      else problem('暂时无法连接', 'Cannot reach the hall right now', '请稍后刷新本页。', 'Reload this page in a moment.');
      return;
    }
    tz = info.site.tz || tz;
    Q.fill($('site-name'), Q.bi(info.site.name, info.site.name_en || '', 'inline'));
    document.title = info.site.name + ' · 网上取号 Take a ticket';
    showHours(info.site.hours);
    showSite(info);
    $('loading').hidden = true;
    $('take-form').hidden = false;
    Q.live('/api/v1/sites/' + encodeURIComponent(site) + '/events?topics=queue', ['queue'], {
      event: refreshSoon,
      reset: refreshServices,
      state: function (up) { Q.offlineBanner(up); if (up) refreshSoon(); },
    });
    setInterval(refreshServices, REFRESH_MS);
  }

  start();
})();
