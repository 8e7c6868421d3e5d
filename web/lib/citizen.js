/* What the citizens' phone pages (/t, /take) share, after qhall.js. */
(function () {
  'use strict';

  /* Shows the page's #problem panel (a bilingual title and text) and hides #loading and the
   * elements named in hide: the page tells why it cannot be used, and shows nothing else. */
  Q.problem = function (hide, zhTitle, enTitle, zhText, enText) {
    hide.concat(['loading']).forEach(function (id) {
      const e = document.getElementById(id);
      if (e) e.hidden = true;
    });
    Q.fill(document.getElementById('problem-title'), Q.bi(zhTitle, enTitle));
    Q.fill(document.getElementById('problem-text'), Q.bi(zhText, enText));
    document.getElementById('problem').hidden = false;
  };
})();
