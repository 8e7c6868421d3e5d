/* The live hall of the manager page: each window's state, ticket, clerk and time in state
 * (Window `since`), the queues with waiting and estimate, and the recent calls; kept current
 * by the site's events. */
(function () {
  'use strict';

  const Hall = window.Hall = {};
  const STATES = {
    closed: ['关闭', 'Closed'], idle: ['空闲', 'Idle'], calling: ['呼叫中', 'Calling'],
    serving: ['办理中', 'Serving'], paused: ['暂停', 'Paused'],
  };
  const RECENT_MAX = 6;
  let windows = new Map(), services = new Map(), recent = [];
  const $ = (id) => document.getElementById(id);

  /* One window's card. */
  function windowCard(w) {
    const st = STATES[w.state] || [w.state, w.state];
    return Q.el('article', { class: 'win state-' + w.state, 'data-window': w.id, 'aria-label': w.name_en + ': ' + st[1] },
      Q.el('div', { class: 'win-head' },
        Q.el('span', { class: 'win-no' }, String(w.id)),
        Q.el('span', { class: 'win-state' }, Q.bi(st[0], st[1]))),
      Q.el('div', { class: 'win-ticket' }, w.ticket || '—'),
      Q.el('div', { class: 'win-meta' },
        Q.el('span', { class: 'win-clerk' }, w.clerk || ''),
        Q.el('span', { class: 'win-since', 'data-since': w.since || '' }, since(w.since))));
  }

  /* Time in state as M:SS, or '' without `since`. */
  function since(t) {
    return t ? Q.duration(Manager.now() - t) : '';
  }

  /* Draws every window, in id order. */
  function drawWindows() {
    const list = Array.from(windows.values()).sort((a, b) => a.id - b.id);
    $('windows').classList.toggle('many', list.length > 12); /* a district center's 40 fit one screen */
    Q.fill($('windows'), list.map(windowCard));
  }

  /* Draws the queues table with a total row. */
  function drawQueues() {
    const rows = Array.from(services.values());
    let total = 0;
    const body = rows.map(function (s) {
      total += s.waiting || 0;
      const est = s.waiting ? Q.rangeText(s.ewt_low, s.ewt_high, s.ewt) : { zh: '—', en: '' };
      return Q.el('tr', { 'data-service': s.id },
        Q.el('th', { scope: 'row' }, Q.bi(s.name, s.name_en)),
        Q.el('td', { class: 'num waiting' }, String(s.waiting || 0)),
        Q.el('td', { class: 'num' }, Q.bi(est.zh, est.en)));
    });
    body.push(Q.el('tr', { class: 'total' }, Q.el('th', { scope: 'row' }, Q.bi('合计', 'Total', 'inline')),
      Q.el('td', { class: 'num waiting', id: 'waiting-total' }, String(total)), Q.el('td', {})));
    Q.fill(document.querySelector('#queues tbody'), body);
    const kpi = document.querySelector('[data-kpi=waiting] .value');
    if (kpi) kpi.textContent = String(total);
  }

  /* Draws the last calls, newest first. */
  function drawRecent() {
    const tz = Manager.info && Manager.info.tz;
    Q.fill($('recent'), recent.map(function (c) {
      const w = windows.get(c.window);
      return Q.el('li', {}, Q.el('strong', {}, c.number), ' → ', w ? w.name : String(c.window),
        Q.el('span', { class: 'muted' }, ' ' + Q.timeIn(tz, new Date(c.at * 1000))));
    }));
  }

  /* Draws the whole hall from a snapshot. */
  Hall.render = function (snap) {
    windows = new Map(snap.windows.map((w) => [w.id, w]));
    services = new Map(snap.services.map((s) => [s.id, s]));
    recent = (snap.recent || []).slice(0, RECENT_MAX);
    drawWindows();
    drawQueues();
    drawRecent();
  };

  /* Applies one live event. */
  Hall.event = function (name, data) {
    if (name === 'window' && data.window) {
      const old = windows.get(data.window.id) || {};
      windows.set(data.window.id, Object.assign({}, old, data.window));
      const card = document.querySelector('.win[data-window="' + data.window.id + '"]');
      if (card) card.replaceWith(windowCard(windows.get(data.window.id)));
      else drawWindows();
    } else if (name === 'queue') {
      const s = services.get(data.service);
      if (s) {
        Object.assign(s, { waiting: data.waiting, ewt: data.ewt, ewt_low: data.ewt_low, ewt_high: data.ewt_high });
        drawQueues();
      }
    } else if (name === 'called' && data.ticket) {
      const id = data.window ? data.window.id : data.ticket.window;
      const w = windows.get(id);
      if (w && (w.ticket !== data.ticket.number || w.state !== 'calling')) {
        /* the window event follows; show the call at once */
        Hall.event('window', { window: Object.assign({}, w, { state: 'calling', ticket: data.ticket.number,
          since: data.recall ? w.since : data.at }) });
      }
      recent.unshift({ number: data.ticket.number, window: id, at: data.at });
      recent = recent.slice(0, RECENT_MAX);
      drawRecent();
    }
  };

  /* Updates the times in state (every second). */
  Hall.tick = function () {
    document.querySelectorAll('.win-since[data-since]').forEach(function (e) {
      const t = parseInt(e.getAttribute('data-since'), 10);
      if (t) e.textContent = since(t);
    });
  };
})();
