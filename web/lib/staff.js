/* Staff sign-in for the manager and region pages: the sign-in form, the signed-in user kept
 * in localStorage (never the session itself: the cookie is HttpOnly), sign-out, and the one
 * sentence a person reads when the server refuses. Needs qhall.js (global Q). */
(function (global) {
  'use strict';

  const S = {};
  const KEY = 'qhall.staff';

  /* The signed-in user as the last sign-in left it: {user: {id, name, sites?}, site, role},
   * or null. `user.sites` is the scope of a region manager (absent for a hall manager). */
  S.stored = function () {
    try {
      const v = JSON.parse(localStorage.getItem(KEY) || 'null');
      return v && v.user && v.site ? v : null;
    } catch (e) {
      return null;
    }
  };

  /* Forgets the stored user (the session itself ends with signOut). */
  S.forget = function () {
    localStorage.removeItem(KEY);
  };

  /* Signs a manager in at a site (POST /session); keeps who signed in and answers hello's answer. */
  S.signIn = async function (site, user, password) {
    const answer = await Q.api('POST', '/session', { role: 'manager', user: user, password: password, site: site });
    const me = { user: answer.user || { id: user, name: user }, site: answer.site.id, role: answer.role };
    localStorage.setItem(KEY, JSON.stringify(me));
    return answer;
  };

  /* Ends the session (DELETE /session) and forgets the user, even when the server is away. */
  S.signOut = async function () {
    try {
      await Q.api('DELETE', '/session');
    } catch (e) { /* the cookie is cleared by the answer; without one it lapses by itself */ }
    S.forget();
  };

  /* True when the stored user may open the site: a region manager within its scope, a hall
   * manager at its own hall. */
  S.mayOpen = function (me, site) {
    if (!me) return false;
    if (me.user.sites) return me.user.sites.indexOf(site) >= 0;
    return me.site === site;
  };

  /* A refused request as one bilingual sentence with its HTTP status: {zh, en}. */
  S.errorText = function (e) {
    const status = e && e.status ? ' (' + e.status + ' ' + e.code + ')' : '';
    const detail = e && e.message ? ' ' + e.message : '';
    switch (e && e.code) {
      case 'unauthenticated':
        return { zh: '未登录，或您的登录不含此站点' + status, en: 'Not signed in for this site' + status + '.' + detail };
      case 'forbidden':
        return { zh: '您的登录无权查看此站点' + status, en: 'Your sign-in does not cover this' + status + '.' + detail };
      case 'rate_limited':
        return { zh: '尝试次数过多，请稍后再试' + status, en: 'Too many attempts; try again later' + status + '.' };
      case 'unavailable':
        return { zh: '服务器暂时无法访问' + status, en: 'The server is unreachable' + status + '.' };
      default:
        return { zh: '请求失败' + status, en: 'The request failed' + status + '.' + detail };
    }
  };

  /* A wait in minutes with one decimal from seconds ('—' for none): how staff pages show waits. */
  S.minutes = function (s) {
    return s === null || s === undefined ? '—' : (Math.round(s / 6) / 10).toFixed(1);
  };

  /* A share as 91.8% ('—' for none). */
  S.pct = function (v) {
    return v === null || v === undefined ? '—' : v.toFixed(1) + '%';
  };

  /* The class of a share within the target: good from 90%, warn from 75%, bad below ('' for none). */
  S.slaClass = function (v) {
    return v === null || v === undefined ? '' : v >= 90 ? 'good' : v >= 75 ? 'warn' : 'bad';
  };

  /* A site's label for lists: its Chinese and English names, indented by level. */
  S.siteLabel = function (s) {
    const indent = s.level === 'community' ? '\u3000\u3000' : s.level === 'street' ? '\u3000' : '';
    return indent + (s.name || s.id) + (s.name_en ? ' · ' + s.name_en : '');
  };

  /* Fills container with the sign-in form: site (from sites, preset to site), user, password.
   * onSignedIn(answer) runs after a successful sign-in. */
  S.form = function (container, sites, site, onSignedIn) {
    const siteSelect = Q.el('select', { id: 'signin-site', name: 'site', required: true },
      sites.map((s) => Q.el('option', { value: s.id, selected: s.id === site }, S.siteLabel(s))));
    const user = Q.el('input', { id: 'signin-user', name: 'user', autocomplete: 'username', required: true });
    const password = Q.el('input', { id: 'signin-password', name: 'password', type: 'password',
      autocomplete: 'current-password', required: true });
    const error = Q.el('p', { class: 'error', id: 'signin-error', role: 'alert', hidden: true });
    const submit = Q.el('button', { type: 'submit', id: 'signin-submit' }, Q.bi('登录', 'Sign in', 'inline'));
    const form = Q.el('form', { class: 'signin panel', id: 'signin' },
      Q.el('h2', {}, Q.bi('管理人员登录', 'Staff sign-in')),
      Q.el('label', { for: 'signin-site' }, Q.bi('站点', 'Site', 'inline')), siteSelect,
      Q.el('label', { for: 'signin-user' }, Q.bi('用户名', 'User', 'inline')), user,
      Q.el('label', { for: 'signin-password' }, Q.bi('密码', 'Password', 'inline')), password,
      error, submit);
    form.addEventListener('submit', async function (ev) {
      ev.preventDefault();
      submit.disabled = true;
      error.hidden = true;
      try {
        const answer = await S.signIn(siteSelect.value, user.value.trim(), password.value);
        password.value = '';
        onSignedIn(answer);
      } catch (e) {
        const t = e.code === 'unauthenticated' ? { zh: '用户名或密码错误', en: 'Wrong user or password (' + e.status + ').' }
          : S.errorText(e);
        Q.fill(error, Q.bi(t.zh, t.en, 'inline'));
        error.hidden = false;
        password.select();
      } finally {
        submit.disabled = false;
      }
    });
    Q.fill(container, form);
    (site ? user : siteSelect).focus();
    return form;
  };

  global.Staff = S;
})(window);
