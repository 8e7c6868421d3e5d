/* /book/{site}: a citizen picks a service, a day and a slot, books it with a phone number and
 * gets the appointment code; with the code the appointment can be viewed and cancelled. The
 * dates come from the server's clock and zone (site.date), never the phone's. */
(function () {
  'use strict';
  const $ = (id) => document.getElementById(id);
  const site = Q.pathArgs()[0] || '';
  const base = '/sites/' + encodeURIComponent(site);
  const WEEKDAYS = [['周日', 'Sun'], ['周一', 'Mon'], ['周二', 'Tue'], ['周三', 'Wed'], ['周四', 'Thu'],
    ['周五', 'Fri'], ['周六', 'Sat']];
  const STATES = {
    booked: ['已预约', 'booked'], checked_in: ['已签到', 'checked in'],
    cancelled: ['已取消', 'cancelled'], missed: ['已过期（未签到）', 'missed'],
  };
  let tz = 'Asia/Shanghai', today = '', services = [], service = null, day = '', slot = null, shown = null;

  /* Shows an error (bilingual pieces) in a message element, or hides it with null. */
  function say(id, zh, en) {
    const e = $(id);
    e.hidden = zh === null;
    if (zh !== null) Q.fill(e, zh, ' ', Q.el('span', { class: 'en' }, en));
  }

  /* The date n days after a date YYYY-MM-DD, and its weekday (0: Sunday). */
  function addDays(date, n) {
    const p = date.split('-').map(Number);
    const d = new Date(Date.UTC(p[0], p[1] - 1, p[2] + n));
    return { date: d.toISOString().slice(0, 10), weekday: d.getUTCDay() };
  }

  /* A service's names, bilingual. */
  function serviceNames(id) {
    const s = services.find((x) => x.id === id);
    return s ? [s.name, s.name_en] : [id, id];
  }

  /* "2026-11-28 周六 09:00–09:30" and its English. */
  function whenText(date, start, end) {
    const w = WEEKDAYS[addDays(date, 0).weekday];
    return [date + ' ' + w[0] + ' ' + start + '–' + end, w[1] + ' ' + date + ', ' + start + '–' + end];
  }

  /* The check-in window of an appointment as text. */
  function checkinText(a) {
    const from = Q.timeIn(tz, new Date(a.checkin_from * 1000)), until = Q.timeIn(tz, new Date(a.checkin_until * 1000));
    return ['请于 ' + from + '–' + until + ' 到自助机签到', 'Check in at the kiosk between ' + from + ' and ' + until];
  }

  /* What an API refusal means for a citizen. */
  function explain(e) {
    if (e.code === 'rate_limited') {
      const m = Math.max(1, Math.ceil((e.retryAfter || 60) / 60));
      return ['预约太频繁，请 ' + m + ' 分钟后再试。', 'Too many bookings; try again in ' + m + ' min.'];
    }
    if (e.code === 'conflict' && e.error.field === 'ref')
      return ['此号码已有 3 个预约，请先取消一个。', 'This number already holds 3 appointments; cancel one first.'];
    if (e.code === 'conflict' && e.error.field === 'start')
      return ['该时段已约满或已开始，请另选时段。', 'This slot is full or has begun; pick another.'];
    if (e.code === 'not_found' && e.error.field === 'code')
      return ['没有找到该预约，请核对预约码。', 'No appointment has this code; please check it.'];
    if (e.code === 'bad_request' && e.error.field === 'code')
      return ['预约码为 8 位字母和数字。', 'The code is 8 letters and digits.'];
    if (e.code === 'unavailable') return ['暂时无法连接，请稍后再试。', 'The server cannot be reached; try again soon.'];
    return ['操作未成功。', e.message];
  }

  /* Enables Book once a slot and a phone number are there. */
  function updateBookButton() {
    $('book').disabled = !(slot && $('phone').value.trim());
  }

  /* Draws the day buttons from today to days_ahead days later. */
  function drawDays() {
    const days = [];
    for (let i = 0; service && i <= service.appointments.days_ahead; i++) days.push(addDays(today, i));
    if (!days.some((d) => d.date === day)) day = days.length ? days[0].date : '';
    Q.fill($('days'), days.map(function (d) {
      const w = WEEKDAYS[d.weekday];
      const label = d.date === today ? ['今天', 'Today'] : [w[0], w[1]];
      return Q.el('button', {
        type: 'button', 'data-date': d.date, 'aria-pressed': d.date === day ? 'true' : 'false',
        onclick: function () { day = d.date; slot = null; drawDays(); loadSlots(); },
      }, label[0] + ' ' + d.date.slice(5), Q.el('span', { class: 'en' }, label[1]));
    }));
  }

  /* Reads and draws the slots of the chosen service and day. */
  async function loadSlots() {
    updateBookButton();
    if (!service || !day) return Q.fill($('slots'));
    const want = service.id + ' ' + day;
    let answer;
    try {
      answer = await Q.api('GET', base + '/services/' + encodeURIComponent(service.id) + '/slots?date=' + day);
    } catch (e) {
      const t = explain(e);
      return say('book-error', t[0], t[1]);
    }
    if (want !== service.id + ' ' + day) return; /* the citizen moved on meanwhile */
    $('no-slots').hidden = answer.slots.length > 0;
    if (slot && !answer.slots.some((s) => s.start === slot.start && s.bookable)) slot = null;
    Q.fill($('slots'), answer.slots.map(function (s) {
      const left = s.capacity - s.booked;
      return Q.el('button', {
        type: 'button', 'data-start': s.start, disabled: !s.bookable,
        'aria-pressed': slot && slot.start === s.start ? 'true' : 'false',
        title: s.booked + '/' + s.capacity,
        onclick: function () { slot = s; loadSlots(); },
      }, s.start + '–' + s.end, Q.el('span', { class: 'left', 'data-booked': s.booked },
        left > 0 ? '余 ' + left + ' · ' + s.booked + '/' + s.capacity : '约满 full'));
    }));
    updateBookButton();
  }

  /* Books the chosen slot with the phone number and shows the code. */
  async function book(ev) {
    ev.preventDefault();
    const phone = $('phone').value.replace(/[\s-]/g, ''); /* one number however it is typed */
    if (!slot || !phone) return;
    say('book-error', null);
    $('book').disabled = true;
    try {
      const answer = await Q.api('POST', base + '/appointments',
        { service: service.id, date: day, start: slot.start, ref: phone });
      const a = answer.appointment;
      const names = serviceNames(a.service), when = whenText(a.date, a.start, a.end), ci = checkinText(a);
      Q.fill($('code-out'), a.code.slice(0, 4) + ' ' + a.code.slice(4));
      $('code-out').setAttribute('data-code', a.code);
      Q.fill($('result-when'), names[0] + ' · ' + when[0], Q.el('br'), Q.el('span', { class: 'en' }, names[1] + ' · ' + when[1]));
      Q.fill($('result-checkin'), ci[0], Q.el('br'), Q.el('span', { class: 'en' }, ci[1]));
      $('result').hidden = false;
      $('lookup-code').value = a.code;
      slot = null;
      showAppointment(a);
      $('result').scrollIntoView({ block: 'start' });
    } catch (e) {
      const t = explain(e);
      say('book-error', t[0], t[1]);
    }
    loadSlots();
  }

  /* Shows an appointment in the view-or-cancel part. */
  function showAppointment(a) {
    shown = a;
    const names = serviceNames(a.service), when = whenText(a.date, a.start, a.end), ci = checkinText(a);
    const st = STATES[a.state] || [a.state, a.state];
    Q.fill($('appt-service'), names[0], ' ', Q.el('span', { class: 'en' }, names[1]));
    Q.fill($('appt-when'), when[0], Q.el('br'), Q.el('span', { class: 'en' }, when[1]));
    Q.fill($('appt-state'), Q.el('span', { class: 'state-' + a.state, 'data-state': a.state }, st[0]), ' ',
      Q.el('span', { class: 'en' }, st[1]));
    Q.fill($('appt-checkin'), ci[0], Q.el('br'), Q.el('span', { class: 'en' }, ci[1]));
    $('appointment').hidden = false;
    $('cancel').hidden = a.state !== 'booked';
  }

  /* Looks an appointment up by the code typed. */
  async function lookup(ev) {
    ev.preventDefault();
    const code = $('lookup-code').value.trim();
    say('lookup-error', null);
    if (!code) return;
    try {
      showAppointment((await Q.api('GET', base + '/appointments/' + encodeURIComponent(code))).appointment);
    } catch (e) {
      $('appointment').hidden = true;
      const t = explain(e);
      say('lookup-error', t[0], t[1]);
    }
  }

  /* Cancels the appointment shown. */
  async function cancel() {
    if (!shown) return;
    if (!window.confirm('确定取消该预约吗？ Cancel this appointment?')) return;
    say('lookup-error', null);
    try {
      showAppointment((await Q.api('DELETE', base + '/appointments/' + encodeURIComponent(shown.code))).appointment);
      if (!$('result').hidden && $('code-out').getAttribute('data-code') === shown.code) $('result').hidden = true;
    } catch (e) {
      const t = explain(e);
      say('lookup-error', t[0], t[1]);
    }
    loadSlots();
  }

  /* Reads the site and its services that take appointments. */
  async function start() {
    let answer;
    try {
      answer = await Q.api('GET', base);
    } catch (e) {
      $('book-section').hidden = $('lookup-section').hidden = true;
      const t = e.code === 'not_found' ? ['没有这个中心。', 'There is no such hall.'] : explain(e);
      return say('load-error', t[0], t[1]);
    }
    tz = answer.site.tz || tz;
    today = answer.site.date;
    document.title = answer.site.name + ' 预约 · Book';
    Q.fill($('hall'), answer.site.name + ' 预约', ' ', Q.el('span', { class: 'en' }, (answer.site.name_en || '') + ' · Book'));
    services = answer.services || [];
    const bookable = services.filter((s) => s.appointments);
    $('no-services').hidden = bookable.length > 0;
    Q.fill($('service'), bookable.map((s) => Q.el('option', { value: s.id }, s.name + ' ' + s.name_en)));
    service = bookable[0] || null;
    $('service').addEventListener('change', function () {
      service = bookable.find((s) => s.id === $('service').value) || null;
      slot = null;
      drawDays();
      loadSlots();
    });
    drawDays();
    loadSlots();
    const code = Q.param('code');
    if (code) {
      $('lookup-code').value = code;
      lookup(new Event('submit'));
    }
  }

  $('phone').addEventListener('input', updateBookButton);
  $('book-form').addEventListener('submit', book);
  $('lookup-form').addEventListener('submit', lookup);
  $('cancel').addEventListener('click', cancel);
  start();
})();
