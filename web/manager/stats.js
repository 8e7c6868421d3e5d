/* Statistics of the manager page: the `stats` op over a date range by service, window,
 * clerk, hour or day; its table with a total row, the charts (waits per hour against the
 * target, share within the target, ratings), the CSV export of the same rows, and the
 * staffing advice drawn from the hourly rows. */
(function () {
  'use strict';

  const Stats = window.Stats = {};
  const $ = (id) => document.getElementById(id);
  const BY_NAMES = { service: ['业务', 'Service'], window: ['窗口', 'Window'], clerk: ['工作人员', 'Clerk'],
    hour: ['小时', 'Hour'], day: ['日期', 'Day'] };
  /* The table's columns: the stats row's field, its header, and how it is shown. */
  const COLUMNS = [
    { key: 'issued', zh: '取号', en: 'Tickets', kind: 'count' },
    { key: 'waits', zh: '叫号', en: 'Called', kind: 'count' },
    { key: 'served', zh: '办结', en: 'Served', kind: 'count' },
    { key: 'no_show', zh: '过号', en: 'No-shows', kind: 'count' },
    { key: 'cancelled', zh: '取消', en: 'Cancelled', kind: 'count' },
    { key: 'expired', zh: '过期', en: 'Expired', kind: 'count' },
    { key: 'wait_mean', zh: '平均等候', en: 'Mean wait', kind: 'min' },
    { key: 'wait_p50', zh: '等候中位', en: 'Wait p50', kind: 'min' },
    { key: 'wait_p90', zh: 'P90 等候', en: 'Wait p90', kind: 'min' },
    { key: 'wait_max', zh: '最长等候', en: 'Longest', kind: 'min' },
    { key: 'service_mean', zh: '平均办理', en: 'Service', kind: 'min' },
    { key: 'sla_pct', zh: '达标率', en: 'In target', kind: 'pct' },
    { key: 'ratings', zh: '评价', en: 'Ratings', kind: 'count' },
    { key: 'rating_mean', zh: '平均分', en: 'Mean score', kind: 'score' },
  ];
  const SCORES = [['非常不满意', 'Very dissatisfied'], ['不满意', 'Dissatisfied'], ['基本满意', 'Fair'],
    ['满意', 'Satisfied'], ['非常满意', 'Very satisfied']];
  let data = null; /* {from, to, by, rows, total, hours, days} of the last load */

  /* A figure as the table shows it. */
  function show(kind, v) {
    if (v === null || v === undefined) return '—';
    if (kind === 'min') return Manager.minutes(v);
    if (kind === 'pct') return Manager.pct(v);
    if (kind === 'score') return v.toFixed(1);
    return String(v);
  }

  /* Appointment figures (预约), shown when the server's rows carry them. */
  const APPT_COLUMNS = [
    { key: 'appt_booked', zh: '预约', en: 'Booked', kind: 'count' },
    { key: 'appt_checked_in', zh: '签到', en: 'Checked in', kind: 'count' },
    { key: 'appt_missed', zh: '爽约', en: 'Missed', kind: 'count' },
    { key: 'appt_cancelled', zh: '取消预约', en: 'Appt. cancelled', kind: 'count' },
  ];

  /* The columns of these rows: the ones above, the appointment figures when the rows carry
   * them, and the five score counts when they carry rating_counts. */
  function columns(rows) {
    const cols = COLUMNS.slice();
    if (rows.some((r) => r.appt_booked !== undefined)) APPT_COLUMNS.forEach((c) => cols.push(c));
    if (rows.some((r) => Array.isArray(r.rating_counts)))
      for (let i = 0; i < 5; i++)
        cols.push({ key: 'rating_' + (i + 1), zh: (i + 1) + ' 分', en: SCORES[i][1], kind: 'count',
          get: (r) => (r.rating_counts ? r.rating_counts[i] : null) });
    return cols;
  }

  /* A column's value in a row. */
  function value(col, row) {
    const v = col.get ? col.get(row) : row[col.key];
    return v === undefined ? null : v;
  }

  /* A row key as a person reads it: the service's or window's name, the hour, the date. */
  function label(by, key) {
    const snap = Manager.snapshot || {};
    if (by === 'service') {
      const s = (snap.services || []).find((x) => x.id === key);
      return s ? s.name + ' (' + key + ')' : key;
    }
    if (by === 'window') {
      const w = (snap.windows || []).find((x) => String(x.id) === String(key));
      return w ? w.name : key + '号窗口';
    }
    if (by === 'hour') return key + ':00';
    if (by === 'total') return '合计 Total';
    return key;
  }

  /* A short label for a chart's axis. */
  function shortLabel(by, key) {
    if (by === 'hour') return key;
    if (by === 'day') return key.slice(5);
    return String(key);
  }

  /* Every row of a stats query, following the pages (`more`, `next_offset`). */
  async function query(from, to, by) {
    let rows = [], offset = 0;
    for (let page = 0; page < 50; page++) {
      const a = await Q.api('GET', Manager.path('/stats?from=' + from + '&to=' + to + '&by=' + by +
        (offset ? '&offset=' + offset : '')));
      rows = rows.concat(a.rows);
      if (!a.more || !a.next_offset) break;
      offset = a.next_offset;
    }
    return rows;
  }

  /* The range form's values; the site's today when nothing is set. */
  function range() {
    const today = Manager.info.date;
    return { from: $('range-from').value || today, to: $('range-to').value || today, by: $('range-by').value };
  }

  /* Sets the range to the last n days of the site's calendar, ending today. */
  function lastDays(n) {
    const end = new Date(Manager.info.date + 'T00:00:00Z');
    const start = new Date(end.getTime() - (n - 1) * 86400000);
    $('range-from').value = start.toISOString().slice(0, 10);
    $('range-to').value = Manager.info.date;
  }

  /* Back to today's figures by service (a new site or a new sign-in). */
  Stats.reset = function () {
    lastDays(1);
    $('range-by').value = 'service';
    data = null;
  };

  /* Loads the range's rows, hourly rows, total and days, and draws everything from them. */
  Stats.load = async function () {
    const r = range(), err = $('stats-error');
    err.hidden = true;
    try {
      const [rows, hours, total, days] = await Promise.all([query(r.from, r.to, r.by),
        query(r.from, r.to, 'hour'), query(r.from, r.to, 'total'), query(r.from, r.to, 'day')]);
      data = { from: r.from, to: r.to, by: r.by, rows: rows, hours: hours, total: total[0],
        openDays: days.filter((d) => d.issued > 0).length };
    } catch (e) {
      if (e.code === 'unauthenticated' || e.code === 'forbidden') return Manager.accessError(e);
      const t = e.code === 'bad_request' ? { zh: '日期范围无效', en: e.message } : Staff.errorText(e);
      Q.fill(err, Q.bi(t.zh, t.en, 'inline'));
      err.hidden = false;
      return;
    }
    drawTable();
    drawCharts();
    drawStaffing();
  };

  /* The rows the table and the CSV show, in order: the range's rows, then the total. */
  function tableRows() {
    return data.rows.map((row) => ({ key: row.key, label: label(data.by, row.key), row: row }))
      .concat([{ key: 'total', label: label('total'), row: data.total, total: true }]);
  }

  /* Draws the stats table. */
  function drawTable() {
    const cols = columns(data.rows.concat([data.total]));
    const by = BY_NAMES[data.by];
    Q.fill(document.querySelector('#stats-table thead'), Q.el('tr', {},
      Q.el('th', { scope: 'col' }, Q.bi(by[0], by[1])),
      cols.map((c) => Q.el('th', { scope: 'col', class: 'num', 'data-col': c.key }, Q.bi(c.zh, c.en)))));
    const body = tableRows().map((t) => Q.el('tr', { class: t.total ? 'total' : '', 'data-key': t.key },
      Q.el('th', { scope: 'row' }, t.label),
      cols.map(function (c) {
        const v = value(c, t.row);
        const cls = 'num' + (c.kind === 'pct' ? ' ' + Staff.slaClass(v) : '');
        return Q.el('td', { class: cls, 'data-col': c.key }, show(c.kind, v));
      })));
    if (!data.rows.length)
      body.unshift(Q.el('tr', {}, Q.el('td', { colspan: cols.length + 1, class: 'muted' },
        Q.bi('此范围内没有数据', 'No figures in this range', 'inline'))));
    Q.fill(document.querySelector('#stats-table tbody'), body);
  }

  /* The hours worth drawing: from the first to the last with any ticket (09-18 when none). */
  function openHours(rows) {
    const used = rows.filter((h) => h.issued || h.waits).map((h) => parseInt(h.key, 10));
    const lo = used.length ? Math.min.apply(null, used) : 9, hi = used.length ? Math.max.apply(null, used) : 17;
    return rows.filter((h) => parseInt(h.key, 10) >= lo && parseInt(h.key, 10) <= hi);
  }

  /* Draws the three charts. */
  function drawCharts() {
    const sla = Manager.info.sla || 900, slaMin = Math.round(sla / 60);
    const hours = openHours(data.hours);
    const toMin = (v) => (v === null || v === undefined ? null : v / 60);
    Q.fill($('chart-waits-title'), Q.bi('每小时等候时间（分钟）', 'Waits per hour, minutes: p50 and p90 against the target'));
    Q.fill($('chart-waits'),
      Charts.lines('Waits per hour', hours.map((h) => h.key), [
        { name: 'p50', values: hours.map((h) => toMin(h.wait_p50)), cls: 's-p50' },
        { name: 'p90', values: hours.map((h) => toMin(h.wait_p90)), cls: 's-p90' },
      ], { target: { value: sla / 60, label: '目标 target ' + slaMin + ' min' }, yFormat: (v) => String(Math.round(v)) }),
      Charts.legend([{ name: '中位 p50', cls: 's-p50' }, { name: 'P90', cls: 's-p90' }, { name: '目标 target', cls: 's-target' }]));

    const by = BY_NAMES[data.by];
    Q.fill($('chart-sla-title'), Q.bi(slaMin + ' 分钟内叫号比例（按' + by[0] + '）',
      'Share called within ' + slaMin + ' min, by ' + by[1].toLowerCase()));
    const rows = data.by === 'hour' ? openHours(data.rows) : data.rows;
    Q.fill($('chart-sla'), Charts.bars('Share within target', rows.map((r) => shortLabel(data.by, r.key)),
      rows.map((r) => r.sla_pct), { yMax: 100, yFormat: (v) => Math.round(v) + '%', valueLabels: true,
        cls: Staff.slaClass }));

    Q.fill($('chart-ratings-title'), Q.bi('评价分布', 'Ratings by score'));
    const counts = data.total && data.total.rating_counts;
    const mean = data.total && data.total.rating_mean !== null && data.total.rating_mean !== undefined
      ? data.total.rating_mean.toFixed(1) : '—';
    const summary = Q.el('p', { class: 'rating-summary' }, Q.bi('平均 ' + mean + ' 分，共 ' + (data.total ? data.total.ratings : 0) + ' 条',
      'mean score ' + mean + ' of ' + (data.total ? data.total.ratings : 0) + ' ratings', 'inline'));
    if (Array.isArray(counts)) {
      Q.fill($('chart-ratings'), Charts.bars('Ratings', ['1', '2', '3', '4', '5'], counts,
        { yFormat: (v) => String(Math.round(v)), integer: true, valueLabels: true, cls: (v, i) => (i < 2 ? 'bad' : i < 3 ? 'warn' : 'good') }), summary);
    } else {
      Q.fill($('chart-ratings'), summary, Q.el('p', { class: 'muted not-available', id: 'ratings-na' },
        Q.bi('评价分布暂不可用', 'Distribution not available: this server\'s statistics have no rating_counts.')));
    }
  }

  /* Draws the staffing advice: windows needed per hour for the target, by Erlang C. */
  function drawStaffing() {
    const sla = Manager.info.sla || 900, slaMin = Math.round(sla / 60);
    const service = data.total && data.total.service_mean ? data.total.service_mean : null;
    const meanService = service || 300;
    const days = Math.max(1, data.openDays);
    const advice = Staffing.advise(data.hours, days, meanService, sla);
    const configured = ((Manager.snapshot && Manager.snapshot.windows) || []).length;
    Q.fill($('staffing-basis'), Q.bi(
      '依据 ' + data.from + ' 至 ' + data.to + ' 的 ' + days + ' 个营业日：每小时平均取号数，平均办理时间 ' +
        Manager.minutes(meanService) + ' 分钟' + (service ? '' : '（暂无数据，按 5 分钟计）') + '；目标：90% 的人 ' + slaMin + ' 分钟内叫号（Erlang C）。',
      'From ' + days + ' open day' + (days === 1 ? '' : 's') + ' between ' + data.from + ' and ' + data.to +
        ': mean tickets per hour, mean service time ' + Manager.minutes(meanService) + ' min' + (service ? '' : ' (none yet, 5 min assumed)') +
        '; target: 90% called within ' + slaMin + ' min (Erlang C, as qsim --staffing). Busy hours that leave a queue to the next may need one more.'));
    Q.fill($('chart-staffing-title'), Q.bi('每小时需要的窗口数', 'Windows needed per hour for the target'));
    Q.fill($('chart-staffing'), Charts.bars('Windows needed', advice.map((a) => String(a.hour).padStart(2, '0')),
      advice.map((a) => a.windows), { valueLabels: true, integer: true, yFormat: (v) => String(Math.round(v)),
        target: configured ? { value: configured, label: '已配置 ' + configured + ' configured' } : null,
        cls: (v) => (v > configured ? 'bad' : 'good') }));
    Q.fill(document.querySelector('#staffing-table thead'), Q.el('tr', {},
      Q.el('th', { scope: 'col' }, Q.bi('小时', 'Hour')),
      Q.el('th', { scope: 'col', class: 'num' }, Q.bi('每小时取号', 'Tickets / hour')),
      Q.el('th', { scope: 'col', class: 'num' }, Q.bi('需要窗口', 'Windows needed')),
      Q.el('th', { scope: 'col', class: 'num' }, Q.bi('实际 P90 等候', 'Actual p90 wait')),
      Q.el('th', { scope: 'col', class: 'num' }, Q.bi('达标率', 'In target'))));
    const body = advice.map((a) => Q.el('tr', { 'data-hour': a.hour },
      Q.el('th', { scope: 'row' }, String(a.hour).padStart(2, '0') + ':00'),
      Q.el('td', { class: 'num', 'data-col': 'arrivals' }, a.arrivals.toFixed(1)),
      Q.el('td', { class: 'num strong', 'data-col': 'windows' }, String(a.windows)),
      Q.el('td', { class: 'num' }, Manager.minutes(a.row.wait_p90)),
      Q.el('td', { class: 'num' }, Manager.pct(a.row.sla_pct))));
    if (!advice.length)
      body.push(Q.el('tr', {}, Q.el('td', { colspan: 5, class: 'muted' }, Q.bi('此范围内没有取号', 'No tickets in this range', 'inline'))));
    Q.fill(document.querySelector('#staffing-table tbody'), body);
  }

  /* A CSV field: quoted when it holds a comma, quote or line break (RFC 4180). */
  function csvField(v) {
    const s = v === null || v === undefined ? '' : String(v);
    return /[",\r\n]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
  }

  /* The CSV of the table: the same rows and columns, figures as the server gave them
   * (seconds, percent, score), so a spreadsheet can compute with them. */
  Stats.csv = function () {
    const cols = columns(data.rows.concat([data.total]));
    const head = ['key', 'label'].concat(cols.map((c) => (c.kind === 'min' ? c.key + '_s' : c.key)));
    const lines = [head.join(',')].concat(tableRows().map((t) =>
      [t.key, t.label].concat(cols.map((c) => value(c, t.row))).map(csvField).join(',')));
    return '\ufeff' + lines.join('\r\n') + '\r\n';
  };

  /* Downloads the CSV through a Blob link. */
  function exportCsv() {
    if (!data) return;
    const link = $('csv-link');
    if (link.href) URL.revokeObjectURL(link.href);
    link.href = URL.createObjectURL(new Blob([Stats.csv()], { type: 'text/csv;charset=utf-8' }));
    link.download = 'qhall-' + Manager.site + '-' + data.from + '-' + data.to + '-by-' + data.by + '.csv';
    link.click();
  }

  /* Wires the range form. */
  function wire() {
    $('range').addEventListener('submit', function (ev) {
      ev.preventDefault();
      Stats.load();
    });
    $('range-by').addEventListener('change', () => Stats.load());
    document.querySelectorAll('.quick [data-days]').forEach(function (b) {
      b.addEventListener('click', function () {
        lastDays(parseInt(b.getAttribute('data-days'), 10));
        Stats.load();
      });
    });
    $('csv-export').addEventListener('click', exportCsv);
  }

  wire();
})();
