/* The district's live view (/region): every site of the region manager's scope from the
 * `region` op, refreshed every few seconds, grouped district → street → community (each
 * site's parent and level) or flat, sortable by any column by mouse or keyboard, each site
 * linking to its /manager view. */
(function () {
  'use strict';

  const REFRESH_MS = 5000;
  const $ = (id) => document.getElementById(id);
  /* The columns: the region row's field, its heading, how it is shown and sorted. */
  const COLUMNS = [
    { key: 'name', zh: '站点', en: 'Site', kind: 'text' },
    { key: 'open', zh: '状态', en: 'Open', kind: 'open' },
    { key: 'waiting', zh: '正在等候', en: 'Waiting', kind: 'count' },
    { key: 'windows_open', zh: '开放窗口', en: 'Windows open', kind: 'count' },
    { key: 'called_today', zh: '今日叫号', en: 'Called today', kind: 'count' },
    { key: 'served_today', zh: '今日办结', en: 'Served today', kind: 'count' },
    { key: 'wait_mean_today', zh: '平均等候', en: 'Mean wait, min', kind: 'min' },
    { key: 'wait_p90_today', zh: 'P90 等候', en: 'Wait p90, min', kind: 'min' },
    { key: 'sla_pct_today', zh: '达标率', en: 'In target', kind: 'pct' },
    { key: 'ewt_max', zh: '最长预计', en: 'Longest est., min', kind: 'min' },
    { key: 'bad_ratings_open', zh: '待回访差评', en: 'Bad ratings open', kind: 'count' },
    { key: 'bad_ratings_overdue', zh: '逾期', en: 'Overdue', kind: 'count' },
  ];
  const LEVEL_NAMES = { district: ['区', 'District'], street: ['街道', 'Street'], community: ['社区', 'Community'] };
  let rows = [], order = new Map(), sort = { key: null, dir: 1 }, timer = null, sites = [];

  /* A figure as the table shows it. */
  function show(kind, v) {
    if (v === null || v === undefined) return '—';
    if (kind === 'min') return Staff.minutes(v);
    if (kind === 'pct') return Staff.pct(v);
    return String(v);
  }

  /* Compares two rows by the sort column (no figure sorts last either way), then by region order. */
  function compare(a, b) {
    if (sort.key) {
      const x = a[sort.key], y = b[sort.key];
      const none = (v) => v === null || v === undefined;
      if (none(x) !== none(y)) return none(x) ? 1 : -1;
      if (!none(x)) {
        const c = typeof x === 'string' ? x.localeCompare(y, 'zh-CN') : (x > y) - (x < y);
        if (c) return c * sort.dir;
      }
    }
    return order.get(a.site) - order.get(b.site);
  }

  /* The rows in display order: grouped, each site followed by its children (siblings
   * sorted), or flat, all sorted. Sites whose parent is outside the scope start a group. */
  function arranged() {
    if (!$('grouped').checked) return rows.slice().sort(compare).map((r) => ({ row: r, depth: 0 }));
    const ids = new Set(rows.map((r) => r.site)), children = new Map();
    rows.forEach(function (r) {
      const p = r.parent && ids.has(r.parent) ? r.parent : '';
      if (!children.has(p)) children.set(p, []);
      children.get(p).push(r);
    });
    const out = [];
    (function walk(parent, depth) {
      (children.get(parent) || []).slice().sort(compare).forEach(function (r) {
        out.push({ row: r, depth: depth });
        walk(r.site, depth + 1);
      });
    })('', 0);
    return out;
  }

  /* One site's row. */
  function siteRow(item) {
    const r = item.row, level = LEVEL_NAMES[r.level] || [r.level, r.level];
    const info = sites.find((s) => s.id === r.site) || {};
    return Q.el('tr', { class: 'level-' + r.level + ' depth-' + item.depth + (r.open ? '' : ' closed'), 'data-site': r.site },
      Q.el('th', { scope: 'row', 'data-col': 'name' },
        Q.el('a', { href: '/manager?site=' + encodeURIComponent(r.site), class: 'site-link', 'data-site': r.site },
          Q.el('span', { class: 'level-tag' }, level[0]),
          Q.bi(r.name, info.name_en || r.site, 'inline'))),
      COLUMNS.slice(1).map(function (c) {
        if (c.kind === 'open')
          return Q.el('td', { 'data-col': c.key, class: r.open ? 'is-open' : 'is-closed' },
            r.open ? Q.bi('开放', 'Open', 'inline') : Q.bi('休息', 'Closed', 'inline'));
        const v = r[c.key];
        const cls = 'num' + (c.key === 'sla_pct_today' ? ' ' + Staff.slaClass(v) : '') +
          (c.key.startsWith('bad_ratings') && v > 0 ? ' bad' : '');
        return Q.el('td', { class: cls, 'data-col': c.key }, show(c.kind, v));
      }));
  }

  /* The region's totals above the table (sums of the rows). */
  function totals() {
    const sum = (k) => rows.reduce((n, r) => n + (r[k] || 0), 0);
    const low = rows.filter((r) => r.sla_pct_today !== null && r.sla_pct_today !== undefined && r.sla_pct_today < 75).length;
    const kpi = (key, zh, en, value, cls) => Q.el('div', { class: 'kpi' + (cls ? ' ' + cls : ''), 'data-kpi': key },
      Q.el('div', { class: 'label' }, Q.bi(zh, en)), Q.el('div', { class: 'value' }, value));
    Q.fill($('totals'),
      kpi('sites_open', '开放站点', 'Sites open', rows.filter((r) => r.open).length + ' / ' + rows.length),
      kpi('waiting', '正在等候', 'Waiting', String(sum('waiting'))),
      kpi('windows_open', '开放窗口', 'Windows open', String(sum('windows_open'))),
      kpi('called_today', '今日叫号', 'Called today', String(sum('called_today'))),
      kpi('served_today', '今日办结', 'Served today', String(sum('served_today'))),
      kpi('sla_low', '达标率低于 75%', 'Sites under 75% in target', String(low), low ? 'bad' : 'good'),
      kpi('bad_ratings_open', '待回访差评', 'Bad ratings open', String(sum('bad_ratings_open')), sum('bad_ratings_open') ? 'warn' : ''));
  }

  /* Draws the table body, keeping the keyboard focus on the same site's link. */
  function draw() {
    const focused = document.activeElement && document.activeElement.classList.contains('site-link')
      ? document.activeElement.getAttribute('data-site') : null;
    Q.fill(document.querySelector('#region-table tbody'), arranged().map(siteRow));
    if (focused) {
      const again = document.querySelector('.site-link[data-site="' + CSS.escape(focused) + '"]');
      if (again) again.focus();
    }
    totals();
    document.querySelectorAll('#region-head th').forEach(function (th) {
      const key = th.getAttribute('data-col');
      th.setAttribute('aria-sort', sort.key === key ? (sort.dir > 0 ? 'ascending' : 'descending') : 'none');
    });
  }

  /* Sorts by a column: a first press sorts figures largest first (names A→Z), a second reverses. */
  function sortBy(key, kind) {
    if (sort.key === key) sort.dir = -sort.dir;
    else sort = { key: key, dir: kind === 'text' ? 1 : -1 };
    draw();
  }

  /* The headings, each a button (Tab reaches it, Enter or Space sorts). */
  function heading() {
    Q.fill($('region-head'), COLUMNS.map((c) => Q.el('th', { scope: 'col', 'data-col': c.key, class: c.kind === 'text' || c.kind === 'open' ? '' : 'num', 'aria-sort': 'none' },
      Q.el('button', { type: 'button', class: 'sort', 'data-col': c.key, onclick: () => sortBy(c.key, c.kind) },
        Q.bi(c.zh, c.en), Q.el('span', { class: 'arrow', 'aria-hidden': 'true' })))));
  }

  /* Reads the region op and redraws; a refusal is shown instead of the table. */
  async function refresh() {
    clearTimeout(timer);
    try {
      const answer = await Q.api('GET', '/region');
      rows = answer.rows;
      rows.forEach((r, i) => order.set(r.site, i));
      $('overview').hidden = false;
      $('access-error').hidden = true;
      Q.offlineBanner(true);
      draw();
      $('updated').textContent = '更新于 updated ' + Q.timeIn(undefined, new Date(), true);
    } catch (e) {
      /* a hall manager is refused the region (403); a session it cannot use here is one too */
      const me = Staff.stored();
      if (e.code === 'forbidden' || (e.code === 'unauthenticated' && me && !me.user.sites)) return refused(e);
      if (e.code === 'unauthenticated') return showSignIn();
      Q.offlineBanner(false);
    }
    timer = setTimeout(refresh, REFRESH_MS);
  }

  /* Shows why the region cannot be shown (a hall manager's session, say), with a way on. */
  function refused(e) {
    const me = Staff.stored();
    const t = e.code === 'unauthenticated'
      ? { zh: '大厅管理员的登录只在本大厅有效 (' + e.status + ' ' + e.code + ')',
        en: 'A hall manager\'s sign-in holds at its own hall only (' + e.status + ' ' + e.code + ').' }
      : Staff.errorText(e);
    Q.fill($('access-error'),
      Q.el('h2', {}, Q.bi('区域总览仅限区域管理员', 'The region view is for region managers')),
      Q.el('p', { class: 'error', id: 'access-error-text' }, Q.bi(t.zh, t.en)),
      Q.el('p', {},
        me ? Q.el('a', { href: '/manager?site=' + encodeURIComponent(me.site), id: 'access-own' },
          Q.bi('打开我的大厅', 'Open my hall', 'inline')) : null, ' ',
        Q.el('button', { type: 'button', class: 'secondary', id: 'access-signin', onclick: showSignIn },
          Q.bi('以区域管理员登录', 'Sign in as a region manager', 'inline'))));
    $('access-error').hidden = false;
    $('overview').hidden = true;
  }

  /* Shows the sign-in form (a region manager signs in at any site of its scope). */
  function showSignIn() {
    clearTimeout(timer);
    $('overview').hidden = true;
    $('access-error').hidden = true;
    $('me').hidden = true;
    const area = $('signin-area'), me = Staff.stored();
    area.hidden = false;
    Staff.form(area, sites, me ? me.site : sites.length ? sites[0].id : '', function () {
      area.hidden = true;
      header();
      refresh();
    });
  }

  /* Who is signed in, in the header. */
  function header() {
    const me = Staff.stored();
    $('me').hidden = !me;
    if (me) $('me-name').textContent = me.user.name + ' (' + me.user.id + ')';
    const top = sites.find((s) => !s.parent);
    if (top) Q.fill($('region-title'), Q.bi(top.name, top.name_en));
  }

  /* Starts the page. */
  async function start() {
    heading();
    $('grouped').addEventListener('change', draw);
    $('sort-reset').addEventListener('click', function () {
      sort = { key: null, dir: 1 };
      draw();
    });
    $('signout').addEventListener('click', async function () {
      await Staff.signOut();
      showSignIn();
    });
    const clock = () => { $('clock').textContent = Q.timeIn(undefined, new Date(), false); };
    clock();
    setInterval(clock, 1000);
    try {
      sites = (await Q.api('GET', '/sites')).sites;
    } catch (e) {
      sites = [];
    }
    header();
    refresh();
  }

  start();
})();
