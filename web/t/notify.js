/* "Tell me when 3 are ahead" on the ticket's page (docs/notifications.md): where the hall
 * sends notifications (its site object has notify: true), the holder of a waiting ticket
 * gives a mobile number, and the page asks the server to tell it (POST .../notify with the
 * ticket's secret); the hall's SMS gateway or WeChat account sends the message. The page's
 * own script (status.js) keeps the ticket's state on <body data-state>; this choice shows
 * only while it is "waiting". */
(function () {
  'use strict';

  const AHEAD = 3;
  const $ = (id) => document.getElementById(id);
  const ticketId = Q.pathArgs()[0] || '';
  const secret = Q.param('k', '');
  let site = Q.param('site', '');
  let offered = false; // the hall sends notifications
  let asked = null;    // the marks the ticket has ({ahead: 3}), once asked

  /* Shows the choice, or what was asked, while the ticket waits; nothing otherwise. */
  function show() {
    const waiting = document.body.dataset.state === 'waiting';
    $('notify').hidden = !(offered && waiting && !asked);
    $('notify-done').hidden = !(offered && waiting && asked);
  }

  /* A mobile number with its middle hidden, as on a receipt: 138****0000. */
  function masked(phone) {
    return phone.length > 7 ? phone.slice(0, 3) + '****' + phone.slice(-4) : phone;
  }

  /* Says what the server will do. */
  function confirmDone(marks, phone) {
    asked = marks;
    const n = marks.ahead !== undefined ? marks.ahead : AHEAD;
    const to = phone ? ' ' + masked(phone) : '';
    Q.fill($('notify-done'), Q.el('span', { class: 'notify-mark', 'aria-hidden': 'true' }, '✓'),
      Q.bi('前面还有 ' + n + ' 人时，将通知' + (to || '您') + '。',
        'We will tell you' + (to ? ' at' + to : '') + ' when ' + n + ' are ahead.'));
    show();
  }

  /* Sends the choice with the number typed, after checking that it looks like one. */
  async function send(ev) {
    ev.preventDefault();
    const phone = $('notify-phone').value.replace(/[\s-]/g, '');
    $('notify-error').hidden = true;
    if (!/^\+?[0-9]{6,20}$/.test(phone)) {
      Q.fill($('notify-error'), Q.bi('请输入手机号码。', 'Please enter your mobile number.'));
      $('notify-error').hidden = false;
      $('notify-phone').focus();
      return;
    }
    $('notify-send').disabled = true;
    try {
      const answer = await Q.api('POST', '/sites/' + encodeURIComponent(site) + '/tickets/' +
        encodeURIComponent(ticketId) + '/notify?k=' + encodeURIComponent(secret),
      { notify: { ahead: AHEAD }, ref: phone });
      confirmDone(answer.notify || { ahead: AHEAD }, phone);
    } catch (e) {
      const zh = e.code === 'conflict' ? '这张票已不在排队。' : e.code === 'unavailable' ? '暂时无法提交，请稍后再试。' : '设置未成功。';
      Q.fill($('notify-error'), Q.bi(zh, e.message));
      $('notify-error').hidden = false;
    }
    $('notify-send').disabled = false;
  }

  /* Learns whether the hall sends notifications and whether this ticket asked already. */
  async function start() {
    $('notify').addEventListener('submit', send);
    new MutationObserver(show).observe(document.body, { attributes: true, attributeFilter: ['data-state'] });
    if (!/^[A-Za-z0-9-]{1,64}$/.test(ticketId) || !/^[A-Za-z0-9_-]{8,64}$/.test(secret)) return;
    try {
      if (!site) {
        const list = await Q.api('GET', '/sites');
        if (list.sites.length !== 1) return;
        site = list.sites[0].id;
      }
      const info = await Q.api('GET', '/sites/' + encodeURIComponent(site));
      offered = !!info.site.notify;
      if (!offered) return;
      const answer = await Q.api('GET', '/sites/' + encodeURIComponent(site) + '/tickets/' +
        encodeURIComponent(ticketId) + '?k=' + encodeURIComponent(secret));
      if (answer.notify) confirmDone(answer.notify, '');
      show();
    } catch (e) {
      // the page's own script tells what went wrong; the choice stays hidden
    }
  }

  start();
})();
