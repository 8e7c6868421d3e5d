/* The bad-rating follow-up list (好差评 回访): open ratings of 1 or 2 with their due date, and
 * a note to resolve each (the `ratings` and `resolve_rating` ops of PROTOCOL v2). A server
 * without those ops answers unknown_op, and the panel says the list is not available. */
(function () {
  'use strict';

  const Followup = window.Followup = {};
  const $ = (id) => document.getElementById(id);
  const LOOKBACK_DAYS = 60; /* the due date is 15 working days away: two months hold every open one */

  /* The first day of the lookback, YYYY-MM-DD. */
  function since(today) {
    const d = new Date(Date.parse(today + 'T00:00:00Z') - LOOKBACK_DAYS * 86400000);
    return d.toISOString().slice(0, 10);
  }

  /* One open entry with its resolve form. */
  function entry(r, today) {
    const note = Q.el('input', { type: 'text', maxlength: 200, 'aria-label': '处理说明 Note for ' + r.number, required: true,
      placeholder: '处理说明 What was done' });
    const f = r.followup || {};
    const late = f.due && f.due < today;
    const form = Q.el('form', { class: 'resolve' }, note,
      Q.el('button', { type: 'submit' }, Q.bi('办结', 'Resolve', 'inline')));
    form.addEventListener('submit', async function (ev) {
      ev.preventDefault();
      try {
        await Q.api('POST', Manager.path('/op/resolve_rating'), { ticket: r.ticket, note: note.value });
        Followup.load();
      } catch (e) {
        const t = Staff.errorText(e);
        form.appendChild(Q.el('span', { class: 'error' }, t.zh + ' ' + t.en));
      }
    });
    const at = r.at ? new Date(r.at * 1000) : null, tz = Manager.info.tz;
    return Q.el('tr', { class: late ? 'late' : '', 'data-ticket': r.ticket },
      Q.el('th', { scope: 'row' }, r.number),
      Q.el('td', {}, at ? Q.dateIn(tz, at).slice(5) + ' ' + Q.timeIn(tz, at) : ''),
      Q.el('td', { class: 'num score-' + r.score }, String(r.score)),
      Q.el('td', {}, r.service || ''), Q.el('td', {}, r.window ? String(r.window) : ''), Q.el('td', {}, r.clerk || ''),
      Q.el('td', { class: 'comment' }, r.comment || ''),
      Q.el('td', {}, f.due || ''), Q.el('td', {}, form));
  }

  /* Loads and draws the open bad ratings of the last two months. */
  Followup.load = async function () {
    const box = $('followup'), today = Manager.info.date;
    Q.fill(box, Q.el('p', { class: 'muted' }, '…'));
    let answer;
    try {
      answer = await Q.api('POST', Manager.path('/op/ratings'), { from: since(today), to: today, bad: true, state: 'open' });
    } catch (e) {
      if (e.code === 'unknown_op') {
        Q.fill(box, Q.el('p', { class: 'panel not-available', id: 'followup-na' },
          Q.bi('差评回访暂不可用', 'The bad-rating follow-up is not available on this server (no ratings op).')));
        return;
      }
      const t = Staff.errorText(e);
      Q.fill(box, Q.el('p', { class: 'error' }, Q.bi(t.zh, t.en)));
      return;
    }
    const list = answer.ratings || [];
    if (!list.length) {
      Q.fill(box, Q.el('p', { class: 'panel', id: 'followup-empty' }, Q.bi('没有待回访的差评', 'No bad rating awaits follow-up.')));
      return;
    }
    Q.fill(box, Q.el('div', { class: 'panel table-wrap' }, Q.el('table', { class: 'stats', id: 'followup-table' },
      Q.el('thead', {}, Q.el('tr', {}, [['号码', 'Ticket'], ['评价时间', 'Rated'], ['评分', 'Score'], ['业务', 'Service'], ['窗口', 'Window'],
        ['工作人员', 'Clerk'], ['意见', 'Comment'], ['回访期限', 'Due'], ['处理', 'Resolve']]
        .map((h) => Q.el('th', { scope: 'col' }, Q.bi(h[0], h[1]))))),
      Q.el('tbody', {}, list.map((r) => entry(r, today))))));
  };
})();
