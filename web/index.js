/* The start page: every site this qserver serves, with the addresses of its public pages. */
(async function () {
  'use strict';
  const list = document.getElementById('sites');
  try {
    const answer = await Q.api('GET', '/sites');
    Q.fill(list, answer.sites.map(function (s) {
      const id = encodeURIComponent(s.id);
      return Q.el('li', { class: 'site' },
        Q.el('strong', {}, s.name || s.id), ' ', Q.el('span', { class: 'muted' }, s.name_en || ''), ' · ',
        Q.el('a', { href: '/display?site=' + id }, '显示屏 display'), ' · ',
        Q.el('a', { href: '/take/' + id }, '取号 take'), ' · ',
        Q.el('a', { href: '/book/' + id }, '预约 book'));
    }));
  } catch (e) {
    Q.fill(list, Q.el('li', { class: 'error' }, e.message));
  }
})();
