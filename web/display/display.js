/* The hall's TV display (/display?site=S[&windows=1-6,8][&services=A,B][&layout=portrait]).
 * It behaves as the terminal display does (docs/display.md): the snapshot, then live events;
 * a queue for the big line so a burst of calls shows each one for a minimum time, none lost;
 * zones; an offline banner; a chime and the voice (Mandarin, then English) on each call; and
 * after a network blip it resumes from the last event id, or reloads the snapshot on reset. */
(function () {
  'use strict';

  const MIN_SHOW_DEFAULT_S = 4;    // each call stays on the big line at least this long
  const FLASH_MS = 4000;           // a new call flashes this long
  const RECENT_DEFAULT = 6;        // calls in the recent list
  const REFRESH_MS = 30000;        // the snapshot refresh (estimates drift, today's mean wait)
  const RETRY_MS = 5000;           // the refresh while the server does not answer
  const MISSED_CALL_WINDOW_S = 600; // calls missed while away newer than this are shown as new
  const KNOWN_MAX = 512;           // calls remembered so a replayed one is not shown twice
  const HISTORY_MAX_REQUESTS = 32; // window tickets asked for a zone's history
  const QUEUE_MAX = 256;           // calls waiting for the big line; past it the oldest is listed
  const VOICE_BACKLOG_CALLS = 2;   // calls waiting to be said before the voice skips to the newest
  const SPEECH_TIMEOUT_MS = 15000; // an utterance that never ends is given up on
  const CHIME_TIMEOUT_MS = 3000;

  const $ = (id) => document.getElementById(id);

  /* ---- options of the address ---- */

  /* Reads "1-6,8" into ranges; null when absent; throws a sentence when malformed. */
  function parseWindows(spec) {
    if (spec === undefined) return null;
    const ranges = spec.split(',').map(function (part) {
      const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(part.trim());
      if (!m) throw new Error('windows=' + spec);
      const lo = +m[1], hi = m[2] === undefined ? lo : +m[2];
      if (lo < 1 || hi < lo) throw new Error('windows=' + spec);
      return [lo, hi];
    });
    return ranges;
  }

  /* Reads "A,B" into service ids; null when absent; throws a sentence when malformed. */
  function parseServices(spec) {
    if (spec === undefined) return null;
    const ids = spec.split(',').map((s) => s.trim());
    if (ids.some((s) => !/^[A-Za-z0-9_-]{1,23}$/.test(s))) throw new Error('services=' + spec);
    return ids;
  }

  /* Minimum seconds on the big line (min_show=, 0.2 to 60), as milliseconds. */
  function parseMinShow(spec) {
    const s = spec === undefined ? MIN_SHOW_DEFAULT_S : Number(spec);
    if (!(s >= 0.2 && s <= 60)) throw new Error('min_show=' + spec);
    return Math.round(s * 1000);
  }

  const opts = {};
  try {
    opts.site = Q.param('site');
    opts.windows = parseWindows(Q.param('windows'));
    opts.services = parseServices(Q.param('services'));
    opts.minShowMs = parseMinShow(Q.param('min_show'));
    opts.recent = Math.min(12, Math.max(1, parseInt(Q.param('recent', RECENT_DEFAULT), 10) || RECENT_DEFAULT));
    opts.layout = Q.param('layout', '');
    opts.sound = Q.param('sound', '1') !== '0';
    opts.voice = Q.param('voice', '1') !== '0';
  } catch (e) {
    showMessage('地址参数有误：' + e.message, 'A setting in the address is wrong: ' + e.message +
      ' (windows=1-6,8 services=A,B min_show=4)');
    return;
  }

  /* ---- the hall as last seen ---- */

  const state = {
    site: null,
    offsetMs: 0,        // server clock minus ours: the wall shows hall time
    services: [],
    windows: new Map(), // id -> window object
    today: null,
    recent: [],         // calls that have had their turn, newest first
    haveSnapshot: false,
  };
  const known = new Map(); // call key -> true, oldest first (bounded)

  /* Whether a window is in this screen's zone. */
  function windowInZone(id) {
    return !opts.windows || opts.windows.some((r) => id >= r[0] && id <= r[1]);
  }

  /* The service of a ticket number, by the longest matching prefix. */
  function serviceOfNumber(number) {
    let best = null;
    state.services.forEach(function (s) {
      const p = s.prefix || s.id;
      if (number.startsWith(p) && (!best || p.length > (best.prefix || best.id).length)) best = s;
    });
    return best;
  }

  /* Whether a call passes the zone: its window and its service. */
  function callInZone(call) {
    if (!windowInZone(call.window)) return false;
    if (!opts.services) return true;
    const service = call.service || (serviceOfNumber(call.number) || {}).id;
    return opts.services.indexOf(service) >= 0;
  }

  /* A call from a called event: number, service, window (with names), recall count, time. */
  function callFromEvent(ev) {
    const t = ev.ticket || {};
    const w = ev.window || {};
    return {
      number: t.number, service: t.service, window: w.id || t.window,
      windowName: w.name, windowNameEn: w.name_en,
      recall: ev.recall || 0, at: ev.at || t.called_at || 0,
    };
  }

  /* A call from a snapshot's recent list (recalls are not marked there) or a window's ticket. */
  function callFromRecent(item) {
    const w = typeof item.window === 'object' && item.window ? item.window : { id: item.window };
    return {
      number: item.number, service: item.service || (serviceOfNumber(item.number) || {}).id,
      window: w.id, windowName: w.name, windowNameEn: w.name_en,
      recall: item.recall || item.recalls || 0, at: item.at || item.called_at || 0,
    };
  }

  /* A call's identity: number, window and time (and, for events, which recall it is). */
  function callKey(c, withRecall) {
    return c.number + '|' + c.window + '|' + c.at + (withRecall ? '|' + (c.recall || 0) : '');
  }

  /* Remembers a call (both its exact key and its key without the recall count). */
  function remember(call) {
    [callKey(call, true), callKey(call, false)].forEach(function (k) {
      known.delete(k);
      known.set(k, true);
    });
    while (known.size > KNOWN_MAX) known.delete(known.keys().next().value);
  }

  /* The window's names for a call: from the call, else from the known windows. */
  function windowNames(call) {
    const w = state.windows.get(call.window) || {};
    return {
      zh: call.windowName || w.name || call.window + '号窗口',
      en: call.windowNameEn || w.name_en || 'Window ' + call.window,
    };
  }

  /* The call as sentences: 请 A012 号到 3号窗口办理 / Ticket A012, please go to Window 3. */
  function callSentences(call) {
    const names = windowNames(call);
    return {
      zh: (call.recall ? '再次呼叫：' : '') + '请 ' + call.number + ' 号到 ' + names.zh + '办理',
      en: (call.recall ? 'Calling again: ' : '') + 'Ticket ' + call.number + ', please go to ' + names.en,
      sayZh: (call.recall ? '再次呼叫，' : '') + '请 ' + call.number + ' 号，到 ' + names.zh + '办理',
      sayEn: (call.recall ? 'Calling again: ' : '') + 'Number ' + call.number.split('').join(' ') +
        ', please go to ' + names.en.replace(/^Window\b/, 'window'),
    };
  }

  /* ---- the big line's queue (docs/display.md, "The call queue") ---- */

  const queue = { current: null, shownAt: 0, pending: [], timer: null, fromHistory: false };
  let flashTimer = null;

  /* Queues a call: up at once when the line is free, else after the earlier ones. */
  function newCall(call) {
    remember(call);
    announce(call);
    queue.fromHistory = false;
    if (queue.pending.length === 0 && lineFree()) {
      if (queue.current) pushRecent(queue.current);
      putUp(call, true);
    } else {
      // Past the bound the oldest waiting call goes to the list without its turn, never lost.
      if (queue.pending.length >= QUEUE_MAX) pushRecent(queue.pending.shift());
      queue.pending.push(call);
    }
    scheduleQueue();
  }

  /* Whether the big line may take a new call: empty, or its call has had its minimum time. */
  function lineFree() {
    return !queue.current || performance.now() - queue.shownAt >= opts.minShowMs;
  }

  /* Puts a call on the big line; flash marks a new one (not history). */
  function putUp(call, flash, shownAt) {
    queue.current = call;
    queue.shownAt = shownAt === undefined ? performance.now() : shownAt;
    renderNow(flash);
    renderRecent();
  }

  /* Arms the timer for the moment the current call has had its time. */
  function scheduleQueue() {
    clearTimeout(queue.timer);
    if (queue.pending.length === 0) return;
    const left = queue.current ? queue.shownAt + opts.minShowMs - performance.now() : 0;
    queue.timer = setTimeout(advanceQueue, Math.max(0, left));
  }

  /* Takes the current call down to the recent list and puts the next waiting one up. */
  function advanceQueue() {
    if (queue.pending.length && lineFree()) {
      if (queue.current) pushRecent(queue.current);
      putUp(queue.pending.shift(), true);
    }
    scheduleQueue();
  }

  /* Puts a call taken down at the top of the recent list (at most 32 kept). */
  function pushRecent(call) {
    state.recent.unshift(call);
    state.recent.length = Math.min(state.recent.length, 32);
  }

  /* Puts an older call where its time says in the newest-first list. */
  function insertRecent(call) {
    let at = 0;
    while (at < state.recent.length && state.recent[at].at >= call.at) at++;
    state.recent.splice(at, 0, call);
    state.recent.length = Math.min(state.recent.length, 32);
  }

  /* Whether a call is up, waiting or already listed. */
  function isKnown(call, withRecall) {
    return known.has(callKey(call, withRecall));
  }

  /* ---- snapshot ---- */

  /* Applies a snapshot: site, services, windows, today; then its calls. The first snapshot's
   * calls are history (the newest goes up quietly); later ones bring the calls missed while
   * away (not older than 10 minutes), oldest first, as new calls. */
  function applySnapshot(snap, checkLink) {
    const first = !state.haveSnapshot;
    if (snap.site) {
      state.site = snap.site;
      if (snap.site.time) state.offsetMs = snap.site.time * 1000 - Date.now();
    }
    if (Array.isArray(snap.services)) state.services = snap.services;
    if (Array.isArray(snap.windows)) {
      state.windows = new Map();
      snap.windows.forEach((w) => state.windows.set(w.id, w));
    }
    if (snap.today !== undefined) state.today = snap.today;
    state.haveSnapshot = true;
    const calls = (snap.recent || []).map(callFromRecent).filter(callInZone);
    const now = hallNowS();
    if (first) {
      calls.forEach(function (c) {
        if (isKnown(c, false)) return;
        remember(c);
        if (!queue.current) putUp(c, false, performance.now() - opts.minShowMs);
        else state.recent.push(c); // older than what events brought
      });
      fetchZoneHistory();
    } else {
      let missed = 0;
      calls.reverse().forEach(function (c) {
        if (isKnown(c, false) || c.at < now - MISSED_CALL_WINDOW_S) return;
        newCall(c);
        missed++;
      });
      // The periodic refresh found a call the stream did not bring: the link may be dead
      // while it looks open (a blip that lost no packet's worth of RST), so start it over.
      if (missed && checkLink && link) link.reconnect();
    }
    renderAll();
  }

  /* A zone's history: the hall's last 10 calls may hold none of a quiet zone's, so ask for the
   * ticket of each zone window that holds one (as the terminal display does). */
  function fetchZoneHistory() {
    if (!opts.windows && !opts.services) return;
    let asked = 0;
    state.windows.forEach(function (w) {
      if (!w.ticket || !windowInZone(w.id) || asked >= HISTORY_MAX_REQUESTS) return;
      asked++;
      Q.api('POST', sitePath('/op/ticket'), { number: w.ticket }).then(function (answer) {
        const t = answer.ticket;
        if (!t || (t.state !== 'called' && t.state !== 'serving') || !t.window) return;
        const c = callFromRecent(t);
        if (!callInZone(c) || isKnown(c, false)) return;
        remember(c);
        if (!queue.current) {
          putUp(c, false, performance.now() - opts.minShowMs);
          queue.fromHistory = true;
        } else if (queue.fromHistory && !queue.pending.length && c.at > queue.current.at) {
          insertRecent(queue.current);
          putUp(c, false, performance.now() - opts.minShowMs);
        } else {
          insertRecent(c);
          renderRecent();
        }
      }).catch(function () { /* history is a nicety; the live calls come anyway */ });
    });
  }

  /* The API path of this screen's site, with rest appended. */
  function sitePath(rest) {
    return '/sites/' + encodeURIComponent(opts.site) + (rest || '');
  }

  /* ---- live events ---- */

  /* Applies a live event: a call in the zone is queued, queue and window events update. */
  function onEvent(name, data) {
    if (name === 'called') {
      const call = callFromEvent(data);
      if (call.number && callInZone(call) && !isKnown(call, true)) newCall(call);
    } else if (name === 'queue') {
      const s = state.services.find((x) => x.id === data.service);
      if (s) {
        ['waiting', 'ewt', 'ahead'].forEach((k) => { if (data[k] !== undefined) s[k] = data[k]; });
        // a range goes with its ewt: none sent, none shown
        s.ewt_low = data.ewt_low;
        s.ewt_high = data.ewt_high;
        renderServices();
      }
    } else if (name === 'window' && data.window) {
      const old = state.windows.get(data.window.id) || {};
      state.windows.set(data.window.id, Object.assign(old, data.window));
    }
  }

  /* ---- connection state and the periodic refresh ---- */

  let link = null, linkUp = null, fetchOk = true, refreshTimer = null, loading = null, again = false;

  /* Shows the offline banner while the stream is down or the last refresh failed. */
  function setBanner() {
    const online = linkUp !== false && fetchOk;
    Q.offlineBanner(online);
    renderStatus();
  }

  /* Loads the snapshot; a failure shows offline and makes the live link start over (a dead
   * link can look open after a blip). The next refresh comes sooner while failing. */
  function loadSnapshot(checkLink) {
    if (loading) { // one more after this one: it may have been asked before what changed
      again = true;
      return loading;
    }
    clearTimeout(refreshTimer);
    loading = Q.api('GET', sitePath('/snapshot')).then(function (snap) {
      fetchOk = true;
      applySnapshot(snap, checkLink === true);
      refreshTimer = setTimeout(loadSnapshot, REFRESH_MS, true);
    }, function (e) {
      if (e.status === 404 && !state.haveSnapshot) {
        showMessage('没有这个站点：' + opts.site, 'No such site: ' + opts.site);
        if (link) link.close(); // nothing to wait for: no offline banner over the message
        linkUp = null;
        return;
      }
      fetchOk = false;
      if (link) link.reconnect();
      refreshTimer = setTimeout(loadSnapshot, RETRY_MS, true);
    }).then(function () {
      loading = null;
      setBanner();
      if (again) {
        again = false;
        loadSnapshot();
      }
    });
    return loading;
  }

  /* Follows the live link going up or down. */
  function onLinkState(up) {
    linkUp = up;
    setBanner();
    // The first time: the snapshot may have been taken before the stream was open, so take
    // another (its calls are matched with those known). Back after a blip: the stream
    // replays what was missed; the snapshot brings the rest (estimates, today's figures)
    // and clears a failed refresh's offline state.
    if (up) loadSnapshot();
  }

  /* ---- sound: the chime and the voice, one after the other, never overlapping ---- */

  const voiceQueue = []; // {kind: 'chime'} | {kind: 'say', lang, text}; a call starts with its chime
  let voiceBusy = false, soundBlocked = false;

  /* Queues a call's chime and sentences; with VOICE_BACKLOG_CALLS calls already waiting,
   * drops them so the voice keeps up with the wall (the newest call is said). */
  function announce(call) {
    if (!opts.sound && !opts.voice) return;
    const waitingCalls = voiceQueue.filter((i) => i.kind === 'chime').length;
    if (waitingCalls >= VOICE_BACKLOG_CALLS) voiceQueue.length = 0;
    const s = callSentences(call);
    voiceQueue.push({ kind: 'chime' });
    if (opts.voice) {
      voiceQueue.push({ kind: 'say', lang: 'zh-CN', text: s.sayZh });
      voiceQueue.push({ kind: 'say', lang: 'en', text: s.sayEn });
    }
    pumpVoice();
  }

  /* Plays or says the next item when nothing is playing; a guard moves on if it never ends. */
  function pumpVoice() {
    if (voiceBusy || !voiceQueue.length) return;
    voiceBusy = true;
    const item = voiceQueue.shift();
    let done = false;
    const guard = setTimeout(finish, item.kind === 'chime' ? CHIME_TIMEOUT_MS : SPEECH_TIMEOUT_MS);
    function finish() {
      if (done) return;
      done = true;
      clearTimeout(guard);
      voiceBusy = false;
      pumpVoice();
    }
    if (item.kind === 'chime') playChime(finish);
    else say(item.lang, item.text, finish);
  }

  /* Plays chime.wav; a browser that refuses sound without a click (no autoplay flag) says so
   * on the status line, and a click anywhere allows it. */
  function playChime(finish) {
    const audio = $('chime');
    if (!opts.sound || !audio) return finish();
    audio.onended = finish;
    audio.currentTime = 0;
    const p = audio.play();
    if (p && p.then) {
      p.then(function () {
        if (soundBlocked) { soundBlocked = false; renderStatus(); }
      }, function () {
        if (!soundBlocked) { soundBlocked = true; renderStatus(); }
        finish();
      });
    }
  }

  /* The voice of a language: zh-CN (or another zh, or espeak-ng's cmn), en-US/en-GB (or
   * another en). */
  function voiceFor(lang) {
    const voices = window.speechSynthesis ? speechSynthesis.getVoices() : [];
    const bases = lang === 'zh-CN' ? ['zh', 'cmn'] : [lang.split('-')[0]];
    const norm = (v) => v.lang.replace('_', '-');
    return voices.find((v) => norm(v) === lang) ||
      voices.find((v) => bases.some((b) => norm(v) === b || norm(v).startsWith(b + '-'))) || null;
  }

  /* Speaks one sentence; with voices installed but none of its language, skips it rather
   * than read Chinese with an English voice. */
  function say(lang, text, finish) {
    if (!window.speechSynthesis || typeof SpeechSynthesisUtterance === 'undefined') return finish();
    const voice = voiceFor(lang);
    if (!voice && speechSynthesis.getVoices().length) return finish();
    const u = new SpeechSynthesisUtterance(text);
    u.lang = lang;
    if (voice) u.voice = voice;
    u.rate = lang === 'en' ? 0.95 : 0.9;
    u.onend = finish;
    u.onerror = finish;
    speechSynthesis.speak(u);
  }

  /* A click or a key is the gesture a browser without the autoplay flag waits for. */
  function allowSound() {
    const audio = $('chime');
    if (soundBlocked && audio) {
      audio.muted = true;
      audio.play().then(function () {
        audio.pause();
        audio.muted = false;
        soundBlocked = false;
        renderStatus();
      }, function () {});
    }
  }
  document.addEventListener('click', allowSound);
  document.addEventListener('keydown', allowSound);

  /* ---- drawing ---- */

  /* Fills the screen with a message, for a setting or site that is wrong. */
  function showMessage(zh, en) {
    const m = $('message');
    Q.fill(m, Q.el('div', { class: 'message-zh', lang: 'zh-CN' }, zh), Q.el('div', { class: 'message-en', lang: 'en' }, en));
    m.hidden = false;
  }

  /* Now on the server's clock. */
  function hallNow() {
    return new Date(Date.now() + state.offsetMs);
  }

  /* Now on the server's clock, in epoch seconds. */
  function hallNowS() {
    return Math.floor((Date.now() + state.offsetMs) / 1000);
  }

  /* Draws every part from the state. */
  function renderAll() {
    renderHeader();
    renderClock();
    renderNow(false);
    renderRecent();
    renderServices();
    renderToday();
    renderStatus();
  }

  /* The site's names, and the page title. */
  function renderHeader() {
    const s = state.site;
    if (!s) return;
    $('site-name').textContent = s.name || s.id;
    $('site-name-en').textContent = s.name_en || '';
    document.title = (s.name || s.id) + ' · 显示屏 Display';
  }

  const WEEK_ZH = ['星期日', '星期一', '星期二', '星期三', '星期四', '星期五', '星期六'];

  /* The date, weekday and clock in the site's time zone, on the server's clock. */
  function renderClock() {
    const tz = state.site && state.site.tz;
    const now = hallNow();
    let time, date, weekdayEn;
    try {
      time = Q.timeIn(tz, now, true);
      date = Q.dateIn(tz, now);
      weekdayEn = new Intl.DateTimeFormat('en-GB', { weekday: 'long', timeZone: tz || undefined }).format(now);
    } catch (e) { // an unknown time zone name: the browser's own
      time = Q.timeIn(undefined, now, true);
      date = Q.dateIn(undefined, now);
      weekdayEn = new Intl.DateTimeFormat('en-GB', { weekday: 'long' }).format(now);
    }
    const dayIndex = new Date(date + 'T12:00:00Z').getUTCDay();
    $('clock').textContent = time;
    $('date').textContent = date;
    Q.fill($('weekday'), Q.el('span', { lang: 'zh-CN' }, WEEK_ZH[dayIndex]), ' ',
      Q.el('span', { class: 'en', lang: 'en' }, weekdayEn));
  }

  /* The big line: number → window, the sentence in both languages; a new call flashes. */
  function renderNow(flash) {
    const c = queue.current;
    const now = $('now');
    now.classList.toggle('idle', !c);
    $('now-idle').hidden = !!c;
    if (!c) return;
    const s = callSentences(c);
    $('now-number').textContent = c.number;
    $('now-window').textContent = String(c.window);
    $('now-caption-zh').textContent = s.zh;
    $('now-caption-en').textContent = s.en;
    $('now-recall').hidden = !c.recall;
    now.dataset.call = c.number + '@' + c.window;
    fitNow();
    if (flash) {
      now.classList.remove('flash');
      void now.offsetWidth; // restart the animation
      now.classList.add('flash');
      clearTimeout(flashTimer);
      flashTimer = setTimeout(() => now.classList.remove('flash'), FLASH_MS);
    }
  }

  /* Shrinks the big line's type when a long number or window would not fit its panel. */
  function fitNow() {
    const line = document.querySelector('.now-call');
    line.style.setProperty('--fit', '1');
    if (line.scrollWidth > line.clientWidth && line.scrollWidth > 0)
      line.style.setProperty('--fit', String(Math.max(0.3, (line.clientWidth / line.scrollWidth) * 0.97)));
  }

  /* The recent calls, newest first, with empty tiles keeping the grid's shape. */
  function renderRecent() {
    const list = state.recent.slice(0, opts.recent);
    const items = list.map(function (c) {
      const names = windowNames(c);
      return Q.el('li', { class: 'recent-item' + (c.recall ? ' recall' : '') },
        Q.el('span', { class: 'recent-number' }, c.number),
        Q.el('span', { class: 'recent-arrow', 'aria-hidden': 'true' }, '→'),
        Q.el('span', { class: 'recent-window' }, String(c.window)),
        Q.el('span', { class: 'recent-name' },
          Q.el('span', { lang: 'zh-CN' }, names.zh), Q.el('span', { class: 'en', lang: 'en' }, names.en)),
        c.recall ? Q.el('span', { class: 'recent-recall' }, '再次 recall') : null);
    });
    for (let i = items.length; i < opts.recent; i++) items.push(Q.el('li', { class: 'recent-item empty' }));
    Q.fill($('recent'), items);
  }

  /* The zone's services: waiting people and the estimated wait range; row type follows the row height. */
  function renderServices() {
    const shown = state.services.filter((s) => !opts.services || opts.services.indexOf(s.id) >= 0);
    const box = $('services');
    const rows = Math.max(shown.length, 4);
    box.style.setProperty('--rows', rows);
    if (box.clientHeight) box.style.setProperty('--row', (box.clientHeight / rows) + 'px');
    Q.fill(box, shown.map(function (s) {
      const waiting = s.waiting || 0;
      const est = waiting > 0 ? Q.rangeText(s.ewt_low, s.ewt_high, s.ewt) : { zh: '无需等候', en: 'no wait' };
      // green within the hall's wait target, amber past it, as today's mean wait below
      const over = waiting > 0 && s.ewt > ((state.site && state.site.sla) || 900);
      return Q.el('div', { class: 'service' + (waiting ? '' : ' empty') + (over ? ' over' : ''), 'data-service': s.id },
        Q.el('span', { class: 'service-name' },
          Q.el('span', { class: 'service-prefix' }, s.prefix || s.id),
          Q.el('span', { class: 'service-names' },
            Q.el('span', { class: 'zh', lang: 'zh-CN' }, s.name || s.id),
            Q.el('span', { class: 'en', lang: 'en' }, s.name_en || ''))),
        Q.el('span', { class: 'service-waiting' },
          Q.el('span', { class: 'service-count' }, String(waiting)),
          Q.el('span', { class: 'service-unit', lang: 'zh-CN' }, '人')), // the heading says 等候 Waiting
        Q.el('span', { class: 'service-wait' },
          Q.el('span', { class: 'zh', lang: 'zh-CN' }, est.zh),
          Q.el('span', { class: 'en', lang: 'en' }, est.en)));
    }));
  }

  /* Today's mean wait against the target: green within it, red over, "—" before any call. */
  function renderToday() {
    const target = (state.site && state.site.sla) || 900;
    const mean = state.today ? state.today.wait_mean : null;
    const has = typeof mean === 'number' && mean >= 0;
    const minutes = has ? Math.round(mean / 60) : null;
    const cls = !has ? 'none' : mean <= target ? 'within' : 'over';
    const el = $('today');
    el.className = 'today ' + cls;
    Q.fill(el,
      Q.el('span', { class: 'today-label' }, Q.el('span', { lang: 'zh-CN' }, '今日平均等候'),
        Q.el('span', { class: 'en', lang: 'en' }, 'Mean wait today')),
      Q.el('span', { class: 'today-value' }, has ? String(minutes) : '—',
        has ? Q.el('span', { class: 'today-unit' }, ' 分钟 min') : null),
      Q.el('span', { class: 'today-target' }, Q.el('span', { lang: 'zh-CN' }, '目标 ' + Math.round(target / 60) + ' 分钟'),
        Q.el('span', { class: 'en', lang: 'en' }, 'Target ' + Math.round(target / 60) + ' min')));
  }

  /* The status line: live or offline, the zone, a word when sound is blocked. */
  function renderStatus() {
    const parts = [];
    const online = linkUp !== false && fetchOk;
    parts.push(Q.el('span', { class: 'status-link ' + (online ? 'live' : 'down') },
      online ? '● 实时 Live' : '● 离线 Offline'));
    const zone = [];
    if (opts.windows) zone.push('窗口 Windows ' + Q.param('windows'));
    if (opts.services) zone.push('业务 Services ' + opts.services.join(','));
    if (zone.length) parts.push(Q.el('span', { class: 'status-zone' }, zone.join(' · ')));
    if (soundBlocked) parts.push(Q.el('span', { class: 'status-sound' }, '声音未开启 Sound blocked: click or allow autoplay'));
    Q.fill($('status'), parts);
  }

  /* Portrait by the address (layout=portrait or landscape), else by the screen's shape. */
  function applyLayout() {
    const portrait = opts.layout === 'portrait' ||
      (opts.layout !== 'landscape' && window.innerHeight > window.innerWidth);
    document.body.classList.toggle('portrait', portrait);
    document.body.classList.toggle('landscape', !portrait);
    if (queue.current) fitNow();
    renderServices();
  }

  /* ---- start ---- */

  /* Without site=, a hall with one site shows it; otherwise the page lists the sites. */
  async function chooseSite() {
    if (opts.site) return true;
    let sites = [];
    try {
      sites = (await Q.api('GET', '/sites')).sites || [];
    } catch (e) {
      sites = [];
    }
    if (sites.length === 1) {
      opts.site = sites[0].id;
      return true;
    }
    showMessage('请在地址中指定站点：/display?site=…', 'Name the site in the address: /display?site=… ' +
      sites.map((s) => s.id).slice(0, 20).join(' '));
    return false;
  }

  /* Lays out, starts the clock, opens the live link, then loads the snapshot. */
  async function start() {
    applyLayout();
    window.addEventListener('resize', applyLayout);
    renderAll();
    setInterval(renderClock, 1000);
    if (!(await chooseSite())) return;
    link = Q.live('/api/v1' + sitePath('/events?topics=called,queue,window'), ['called', 'queue', 'window'], {
      event: onEvent,
      reset: loadSnapshot,
      state: onLinkState,
    });
    loadSnapshot();
  }

  start();
})();
