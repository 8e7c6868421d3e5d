/* qhall's shared page code: the JSON API, live events that survive network blips, bilingual
 * text, safe DOM building and the formatting every page needs. Plain ES2017, no build step.
 * Pages load it with <script src="/lib/qhall.js"></script> and use the global `Q`. */
(function (global) {
  'use strict';

  const Q = {};
  const API = '/api/v1';

  /* An answer of the API with ok:false, or no answer at all (code "unavailable"); answer is
   * the whole answer, for what comes beside error (opens_at, retry_after). */
  class ApiError extends Error {
    constructor(status, error, retryAfter, answer) {
      super((error && error.message) || 'The server did not answer.');
      this.status = status;
      this.code = (error && error.code) || 'unavailable';
      this.error = error || {};
      this.retryAfter = retryAfter;
      this.answer = answer || {};
    }
  }
  Q.ApiError = ApiError;

  /* Calls the API: api('GET', '/sites/x/snapshot') or api('POST', path, body); resolves with
   * the answer's object (ok:true) and rejects with an ApiError otherwise. The session cookie
   * goes along by itself (same origin). */
  Q.api = async function (method, path, body, opts) {
    const init = { method: method, credentials: 'same-origin', headers: {} };
    if (body !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    if (opts && opts.token) init.headers.Authorization = 'Bearer ' + opts.token;
    let res;
    try {
      res = await fetch(API + path, init);
    } catch (e) {
      throw new ApiError(0, { code: 'unavailable', message: 'No connection to the server.' });
    }
    let answer = null;
    try {
      answer = await res.json();
    } catch (e) {
      answer = null;
    }
    if (res.ok && answer && answer.ok) return answer;
    const retry = parseInt(res.headers.get('Retry-After') || '', 10);
    throw new ApiError(res.status, answer && answer.error, isNaN(retry) ? undefined : retry, answer);
  };

  /* Path segments after the page's own: on /t/A012x, pathArgs() is ['A012x']. */
  Q.pathArgs = function () {
    return location.pathname.split('/').filter(Boolean).slice(1).map(decodeURIComponent);
  };

  /* A query argument of the page's address, or def. */
  Q.param = function (name, def) {
    const v = new URLSearchParams(location.search).get(name);
    return v === null || v === '' ? def : v;
  };

  /* Builds an element: el('div', {class: 'x', onclick: f}, 'text', child...). Text is always
   * set as text, never parsed as HTML, so nothing a citizen typed can become markup. */
  Q.el = function (tag, attrs) {
    const e = document.createElement(tag);
    for (const k in attrs || {}) {
      const v = attrs[k];
      if (v === undefined || v === null || v === false) continue;
      if (k.startsWith('on') && typeof v === 'function') e.addEventListener(k.slice(2), v);
      else if (k === 'class') e.className = v;
      else if (k === 'text') e.textContent = v;
      else e.setAttribute(k, v === true ? '' : v);
    }
    for (let i = 2; i < arguments.length; i++) Q.append(e, arguments[i]);
    return e;
  };

  /* Appends text, nodes or arrays of them. */
  Q.append = function (parent, child) {
    if (child === undefined || child === null || child === false) return;
    if (Array.isArray(child)) child.forEach((c) => Q.append(parent, c));
    else parent.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
  };

  /* Replaces an element's content. */
  Q.fill = function (parent) {
    parent.textContent = '';
    for (let i = 1; i < arguments.length; i++) Q.append(parent, arguments[i]);
    return parent;
  };

  /* Bilingual text: Chinese first, English beside it in a quieter style. */
  Q.bi = function (zh, en, cls) {
    return Q.el('span', { class: 'bi' + (cls ? ' ' + cls : '') },
      Q.el('span', { class: 'zh', lang: 'zh-CN' }, zh), Q.el('span', { class: 'en', lang: 'en' }, en));
  };

  /* A wait in seconds as whole minutes, bilingual: {zh: '约 10 分钟', en: 'about 10 min'}. */
  Q.waitText = function (seconds) {
    if (seconds === undefined || seconds === null || seconds < 0) return { zh: '—', en: '—' };
    const m = Math.max(1, Math.round(seconds / 60));
    if (seconds < 60) return { zh: '即将', en: 'now' };
    return { zh: '约 ' + m + ' 分钟', en: 'about ' + m + ' min' };
  };

  /* An estimate with its range (ewt_low..ewt_high), bilingual: '8–14 分钟' / '8–14 min'. */
  Q.rangeText = function (low, high, mid) {
    if (low === undefined || high === undefined || high <= 0) return Q.waitText(mid);
    const lo = Math.max(0, Math.round(low / 60)), hi = Math.max(1, Math.round(high / 60));
    if (hi <= lo) return Q.waitText(mid === undefined ? high : mid);
    return { zh: lo + '–' + hi + ' 分钟', en: lo + '–' + hi + ' min' };
  };

  /* Time of day in a site's time zone (HH:MM, or HH:MM:SS with seconds). */
  Q.timeIn = function (tz, date, seconds) {
    const opts = { hour: '2-digit', minute: '2-digit', hour12: false, timeZone: tz || undefined };
    if (seconds) opts.second = '2-digit';
    return new Intl.DateTimeFormat('en-GB', opts).format(date || new Date());
  };

  /* The date in a site's time zone as YYYY-MM-DD. */
  Q.dateIn = function (tz, date) {
    const parts = new Intl.DateTimeFormat('en-CA', {
      year: 'numeric', month: '2-digit', day: '2-digit', timeZone: tz || undefined,
    }).format(date || new Date());
    return parts;
  };

  /* Seconds as M:SS or H:MM:SS (time in state). */
  Q.duration = function (seconds) {
    seconds = Math.max(0, Math.floor(seconds));
    const h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60), s = seconds % 60;
    const two = (n) => (n < 10 ? '0' : '') + n;
    return h ? h + ':' + two(m) + ':' + two(s) : m + ':' + two(s);
  };

  /* Live events of an SSE address, surviving network blips and server restarts.
   * names: the event names to listen to. handlers: event(name, data, id) for each message;
   * reset() when the server could not resume, or when a link that broke before any event
   * arrived (nothing to resume from) opens again (reload the snapshot); state(online) when the
   * link goes up or down (down only after a few seconds, so a quick reconnect is not shown).
   * An EventSource reconnects by itself with Last-Event-ID; when it gives up (the server was
   * down or answered an error) a new one is opened with last_event_id after a growing pause.
   * A dead link that still looks open (a blip that lost no packet's worth of RST) is for the
   * page to notice with its periodic refresh, which then calls reconnect(). Returns
   * {close, reconnect, lastId}. */
  Q.live = function (url, names, handlers) {
    let source = null, lastId = '', online = null, timer = null, closed = false;
    let backoff = 1000, downSince = null, broken = false;
    const OFFLINE_GRACE = 3000;

    function setOnline(up) {
      if (up === online) return;
      online = up;
      if (handlers.state) handlers.state(up);
    }
    function heard() {
      downSince = null;
      backoff = 1000;
      setOnline(true);
    }
    function open() {
      if (closed) return;
      const sep = url.indexOf('?') < 0 ? '?' : '&';
      source = new EventSource(lastId ? url + sep + 'last_event_id=' + encodeURIComponent(lastId) : url);
      source.onopen = function () {
        // Without an event id the server cannot replay what happened while the link was
        // broken (a quick blip, shorter than the offline grace): the page must reload.
        const missed = broken && !lastId;
        broken = false;
        heard();
        if (missed && handlers.reset) handlers.reset();
      };
      source.onerror = function () {
        broken = true;
        if (downSince === null) downSince = Date.now();
        if (source && source.readyState === EventSource.CLOSED) reopenLater();
      };
      names.concat(['reset']).forEach(function (name) {
        source.addEventListener(name, function (m) {
          heard();
          if (m.lastEventId) lastId = m.lastEventId;
          if (name === 'reset') {
            if (handlers.reset) handlers.reset();
            return;
          }
          let data = null;
          try { data = JSON.parse(m.data); } catch (e) { return; }
          handlers.event(name, data, m.lastEventId);
        });
      });
    }
    function reopenLater() {
      if (source) source.close();
      source = null;
      clearTimeout(timer);
      timer = setTimeout(open, backoff);
      backoff = Math.min(backoff * 2, 30000);
    }
    const watch = setInterval(function () {
      if (downSince !== null && Date.now() - downSince > OFFLINE_GRACE) setOnline(false);
    }, 500);
    open();
    return {
      close: function () { closed = true; clearInterval(watch); clearTimeout(timer); if (source) source.close(); },
      reconnect: function () { backoff = 1000; if (downSince === null) downSince = Date.now(); reopenLater(); },
      lastId: function () { return lastId; },
    };
  };

  /* Shows or hides the page's offline banner (an element with class offline-banner). */
  Q.offlineBanner = function (online) {
    let b = document.querySelector('.offline-banner');
    if (!b) {
      b = Q.el('div', { class: 'offline-banner', role: 'alert' },
        Q.bi('连接中断，正在重新连接…', 'Connection lost, reconnecting…'));
      document.body.appendChild(b);
    }
    b.hidden = !!online;
    document.body.classList.toggle('offline', !online);
  };

  global.Q = Q;
})(window);
