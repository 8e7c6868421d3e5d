/* The hall manager's dashboard (/manager?site=S): sign-in, the site (a region manager may
 * switch between the sites of its scope), today's figures, the tabs and the live link that
 * feeds the hall view (hall.js), statistics (stats.js), staffing advice (staffing.js) and
 * the bad-rating follow-up (followup.js). */
(function () {
  'use strict';

  const M = window.Manager = {
    site: null,	    /* the site shown */
    info: null,	    /* its site object (name, tz, date, sla) from the snapshot */
    snapshot: null, /* the last snapshot: services and windows for names */
    offset: 0,	    /* server clock minus this browser's clock, seconds */
    me: null,	    /* the signed-in user (staff.js) */
    sites: [],	    /* every site served (GET /sites) */
    link: null,	    /* the live event link */
  };
  const $ = (id) => document.getElementById(id);
  let todayTimer = null, refreshTimer = null, loaded = {};

  /* The server's time now, epoch seconds. */
  M.now = function () {
    return Date.now() / 1000 + M.offset;
  };

  /* The API path of the site shown. */
  M.path = function (rest) {
    return '/sites/' + encodeURIComponent(M.site) + rest;
  };

  M.minutes = Staff.minutes;
  M.pct = Staff.pct;

  /* Shows a refused request instead of the dashboard, with the ways out. */
  M.accessError = function (e) {
    const t = Staff.errorText(e), box = $('access-error');
    const mine = M.me && M.me.site !== M.site ? M.me.site : null;
    Q.fill(box,
      Q.el('h2', {}, Q.bi('无法打开站点 ' + M.site, 'Cannot open site ' + M.site)),
      Q.el('p', { class: 'error', id: 'access-error-text' }, Q.bi(t.zh, t.en)),
      Q.el('p', {},
        Q.el('button', { type: 'button', id: 'access-signin', onclick: () => showSignIn(M.site) },
          Q.bi('以该站点身份登录', 'Sign in for this site', 'inline')), ' ',
        mine ? Q.el('button', { type: 'button', class: 'secondary', id: 'access-back', onclick: () => go(mine) },
          Q.bi('回到我的站点', 'Back to my site', 'inline')) : null));
    box.hidden = false;
    $('dashboard').hidden = true;
    stopLive();
    $('access-signin').focus();
  };

  /* Renders today's figures from the stats op's total row for the site's today; false when
   * the session may not read them (the refusal is then shown). */
  async function refreshToday() {
    clearTimeout(todayTimer);
    todayTimer = null;
    const day = M.info.date;
    let row;
    try {
      const a = await Q.api('GET', M.path('/stats?from=' + day + '&to=' + day + '&by=total'));
      row = a.rows[0] || {};
    } catch (e) {
      if (e.code === 'unauthenticated' || e.code === 'forbidden') {
        M.accessError(e);
        return false;
      }
      return true;
    }
    const sla = M.info.sla || 900;
    const waiting = (M.snapshot.services || []).reduce((n, s) => n + (s.waiting || 0), 0);
    const kpi = (key, zh, en, value, unit, cls) => Q.el('div', { class: 'kpi' + (cls ? ' ' + cls : ''), 'data-kpi': key },
      Q.el('div', { class: 'label' }, Q.bi(zh, en)),
      Q.el('div', { class: 'value' }, value, unit ? Q.el('span', { class: 'unit' }, unit) : null));
    const slaCls = Staff.slaClass(row.sla_pct);
    const p90Cls = row.wait_p90 === null || row.wait_p90 === undefined ? '' : row.wait_p90 <= sla ? 'good' : 'bad';
    Q.fill($('today'),
      Q.el('h2', { id: 'today-title', class: 'kpi-title' }, Q.bi('今日 ' + day, 'Today')),
      kpi('waiting', '正在等候', 'Waiting now', String(waiting)),
      kpi('issued', '取号', 'Tickets', String(row.issued || 0)),
      kpi('served', '已办结', 'Served', String(row.served || 0)),
      kpi('no_show', '过号', 'No-shows', String(row.no_show || 0)),
      kpi('wait_mean', '平均等候', 'Mean wait', M.minutes(row.wait_mean), '分 min'),
      kpi('wait_p90', 'P90 等候', 'Wait p90', M.minutes(row.wait_p90), '分 min', p90Cls),
      kpi('sla_pct', Math.round(sla / 60) + ' 分钟内叫号', 'Called within ' + Math.round(sla / 60) + ' min',
        M.pct(row.sla_pct), null, slaCls));
    return true;
  }

  /* Refreshes today's figures soon (events come in bursts: one read per second at most). */
  M.todaySoon = function () {
    if (!todayTimer) todayTimer = setTimeout(refreshToday, 700);
  };

  /* Loads the snapshot (site, services, windows, recent calls) and draws the hall. */
  async function loadSnapshot() {
    const snap = await Q.api('GET', M.path('/snapshot'));
    M.snapshot = snap;
    M.info = snap.site;
    M.offset = (snap.site.time || Date.now() / 1000) - Date.now() / 1000;
    Q.fill($('site-title'), Q.bi(snap.site.name, snap.site.name_en));
    document.title = snap.site.name + ' · 大厅管理 Hall manager';
    Hall.render(snap);
  }

  /* Opens the live link of the site's events (calls, queues, windows). */
  function startLive() {
    stopLive();
    M.link = Q.live('/api/v1' + M.path('/events?topics=called,queue,window'), ['called', 'queue', 'window'], {
      event: function (name, data) {
        Hall.event(name, data);
        M.todaySoon();
      },
      reset: () => loadSnapshot().then(refreshToday).catch(() => {}),
      state: Q.offlineBanner,
    });
  }

  /* Closes the live link and the periodic refresh. */
  function stopLive() {
    if (M.link) M.link.close();
    M.link = null;
    clearInterval(refreshTimer);
  }

  /* The header: who is signed in, the region link and the site switch of a region manager. */
  function header() {
    const me = M.me;
    $('me').hidden = false;
    $('me-name').textContent = me.user.name + ' (' + me.user.id + ')';
    $('region-link').hidden = !me.user.sites;
    const label = $('site-switch-label'), select = $('site-switch');
    if (me.user.sites && me.user.sites.length > 1) {
      Q.fill(select, M.sites.filter((s) => me.user.sites.indexOf(s.id) >= 0).map((s) =>
        Q.el('option', { value: s.id, selected: s.id === M.site }, Staff.siteLabel(s))));
      label.hidden = false;
    } else {
      label.hidden = true;
    }
  }

  /* Shows the site: checks access with today's figures, then the hall and the live link. */
  async function open(site) {
    M.site = site;
    M.me = Staff.stored();
    loaded = {};
    $('signin-area').hidden = true;
    $('access-error').hidden = true;
    header();
    try {
      await loadSnapshot();
    } catch (e) {
      M.accessError(e);
      return;
    }
    if (!(await refreshToday())) return; /* refused, and shown */
    $('dashboard').hidden = false;
    startLive();
    refreshTimer = setInterval(function () {
      loadSnapshot().then(refreshToday).catch(() => {});
    }, 30000);
    Stats.reset();
    const tab = document.querySelector('[role=tab][aria-selected=true]');
    if (tab) showTab(tab, false);
  }

  /* Switches to another site: the address says which, so a reload stays there. */
  function go(site) {
    history.replaceState(null, '', '/manager?site=' + encodeURIComponent(site));
    stopLive();
    open(site);
  }

  /* Shows the sign-in form, preset to a site. */
  function showSignIn(site) {
    stopLive();
    $('dashboard').hidden = true;
    $('access-error').hidden = true;
    $('me').hidden = true;
    $('site-switch-label').hidden = true;
    const area = $('signin-area');
    area.hidden = false;
    Staff.form(area, M.sites, site, function (answer) {
      go(answer.site.id);
    });
  }

  /* Selects a tab and loads its panel the first time (or again after a site switch). */
  function showTab(tab, focus) {
    document.querySelectorAll('[role=tab]').forEach(function (t) {
      const on = t === tab;
      t.setAttribute('aria-selected', on ? 'true' : 'false');
      t.tabIndex = on ? 0 : -1;
      $(t.getAttribute('aria-controls')).hidden = !on;
    });
    if (focus) tab.focus();
    const id = tab.id.slice(4), data = id === 'staffing' ? 'stats' : id; /* staffing draws from the stats */
    if (!loaded[data]) {
      loaded[data] = true;
      if (data === 'stats') Stats.load();
      if (data === 'followup') Followup.load();
    }
  }

  /* Tabs by keyboard: arrows move between them, Home and End to the ends (WAI-ARIA tabs). */
  function tabKeys(ev) {
    const tabs = Array.from(document.querySelectorAll('[role=tab]'));
    const i = tabs.indexOf(ev.target);
    let j = null;
    if (ev.key === 'ArrowRight') j = (i + 1) % tabs.length;
    else if (ev.key === 'ArrowLeft') j = (i - 1 + tabs.length) % tabs.length;
    else if (ev.key === 'Home') j = 0;
    else if (ev.key === 'End') j = tabs.length - 1;
    if (j === null) return;
    ev.preventDefault();
    showTab(tabs[j], true);
  }

  /* Ticks the clock and the times in state every second. */
  function tick() {
    if (M.info) $('clock').textContent = Q.timeIn(M.info.tz, new Date(M.now() * 1000), true);
    Hall.tick();
  }

  /* Starts the page: the sites, then the stored user's site or the sign-in. */
  async function start() {
    document.querySelectorAll('[role=tab]').forEach(function (t) {
      t.addEventListener('click', () => showTab(t, false));
      t.addEventListener('keydown', tabKeys);
    });
    $('signout').addEventListener('click', async function () {
      await Staff.signOut();
      showSignIn(M.site);
    });
    $('site-switch').addEventListener('change', (ev) => go(ev.target.value));
    setInterval(tick, 1000);
    try {
      M.sites = (await Q.api('GET', '/sites')).sites;
    } catch (e) {
      const t = Staff.errorText(e);
      Q.fill($('signin-area'), Q.el('p', { class: 'error' }, Q.bi(t.zh, t.en)));
      return;
    }
    const me = Staff.stored();
    const site = Q.param('site', me ? me.site : M.sites[0].id);
    M.site = site;
    if (me) open(site);
    else showSignIn(site);
  }

  M.refreshToday = refreshToday;
  start();
})();
