/* Dispatcher console (/console): keeps the queue, the framed live map and the case panel in step.
   htmx does the requests; this file only wires events (no inline script: CSP script-src 'self'). */
(function () {
  'use strict';
  var baseTitle = document.title;
  var lastOverdue = null;

  function $(sel) { return document.querySelector(sel); }
  function say(text) { var s = $('#status'); if (s) { s.textContent = text; } }

  function refreshQueue() { var q = $('#queue'); if (q) { htmx.trigger(q, 'houniao:refresh'); } }

  function openCase(id) {
    htmx.ajax('GET', '/console/cases/' + id, {target: '#panel', swap: 'innerHTML'});
    history.pushState({}, '', '/console/cases/' + id);
  }
  window.houniaoOpenCase = openCase;

  /* The framed map (console-map.js) follows the filter bar, and opens cases here on click. */
  function mapFilters() {
    var frame = $('#live-map');
    if (!frame || !frame.contentWindow) { return; }
    var msg = {houniao: 'filters'};
    ['tier', 'category', 'street', 'clock'].forEach(function (k) {
      var el = document.getElementById('f-' + k);
      msg[k] = el ? el.value : '';
    });
    frame.contentWindow.postMessage(msg, location.origin);
  }
  window.addEventListener('message', function (e) {
    if (e.origin !== location.origin || !e.data) { return; }
    if (e.data.houniao === 'map-ready') { mapFilters(); }
    if (e.data.houniao === 'open-case' && /^[0-9]+$/.test(String(e.data.id))) { openCase(e.data.id); }
  });

  /* Counts on top: the title shows how many cases are overdue, and says when that grows; with
     「超时提醒音」 ticked (remembered in this browser, off by default) a short beep sounds too. */
  function badge() {
    var counts = $('#queue .counts');
    if (!counts) { return; }
    var n = parseInt(counts.getAttribute('data-overdue') || '0', 10);
    document.title = (n > 0 ? '(' + n + ' 件超时) ' : '') + baseTitle;
    if (lastOverdue !== null && n > lastOverdue) {
      say('新增超时事件：现有 ' + n + ' 件已超时。');
      if (beepOn()) { beep(); }
    }
    lastOverdue = n;
  }

  /* The beep: WebAudio, no sound file. Browsers start audio only after a user gesture, so the
     context is made (or resumed) when the box is ticked and on the first key or click. */
  var BEEP_KEY = 'houniao.console.overdueBeep';
  var audio = null;
  function beepOn() {
    try { return localStorage.getItem(BEEP_KEY) === 'on'; } catch (err) { return false; }
  }
  function audioContext() {
    var AC = window.AudioContext || window.webkitAudioContext;
    if (!AC) { return null; }
    if (!audio) { audio = new AC(); }
    if (audio.state === 'suspended') { audio.resume(); }
    return audio;
  }
  function beep() {
    var ctx = audioContext();
    if (!ctx) { return; }
    var t = ctx.currentTime, osc = ctx.createOscillator(), gain = ctx.createGain();
    osc.type = 'sine';
    osc.frequency.setValueAtTime(880, t);
    gain.gain.setValueAtTime(0.0001, t);
    gain.gain.exponentialRampToValueAtTime(0.25, t + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, t + 0.3);
    osc.connect(gain);
    gain.connect(ctx.destination);
    osc.start(t);
    osc.stop(t + 0.32);
  }
  window.houniaoBeep = beep;
  function beepToggle() {
    var box = $('#beep-toggle');
    if (!box) { return; }
    box.checked = beepOn();
    box.addEventListener('change', function () {
      try { localStorage.setItem(BEEP_KEY, box.checked ? 'on' : 'off'); } catch (err) { /* private mode */ }
      if (box.checked) { audioContext(); beep(); say('超时提醒音已打开。'); } else { say('超时提醒音已关闭。'); }
    });
    var wake = function () { if (beepOn()) { audioContext(); } };
    document.addEventListener('keydown', wake, {once: true});
    document.addEventListener('click', wake, {once: true});
  }

  /* The save-filter form carries the filter bar's values (hidden fields that follow the bar). */
  function syncSaveForm() {
    ['tier', 'category', 'street', 'clock'].forEach(function (k) {
      var from = document.getElementById('f-' + k);
      var to = document.querySelector('#save-filter input[data-filter="' + k + '"]');
      if (from && to) { to.value = from.value; }
    });
  }

  /* Leaving the page releases the soft lock of the open case (closing the panel does it too). */
  window.addEventListener('pagehide', function () {
    var panel = $('#panel article.case');
    var token = document.body.getAttribute('data-csrf');
    if (!panel || !token || !navigator.sendBeacon) { return; }
    var form = new FormData();
    form.append('csrf_token', token);
    navigator.sendBeacon('/console/cases/' + panel.getAttribute('data-case') + '/release', form);
  });

  document.addEventListener('DOMContentLoaded', function () {
    badge();
    beepToggle();
    var filters = $('#filters');
    if (filters) { filters.addEventListener('change', mapFilters); filters.addEventListener('change', syncSaveForm); }
    document.body.addEventListener('houniao:caseChanged', refreshQueue);
    document.body.addEventListener('houniao:casesChanged', function () { say('批量办理完成。'); });
    document.body.addEventListener('htmx:afterSwap', function (e) {
      if (e.detail.target && e.detail.target.id === 'panel') {
        var notice = $('#panel #notice');
        var title = notice || $('#panel h2');
        if (title) { title.setAttribute('tabindex', '-1'); title.focus(); }
      }
      if (e.detail.target && e.detail.target.id === 'queue') { badge(); }
    });
    document.body.addEventListener('htmx:responseError', function (e) {
      var xhr = e.detail.xhr;
      var detail = '';
      try { detail = JSON.parse(xhr.responseText).detail || ''; } catch (err) { detail = xhr.statusText; }
      if (xhr.status === 401) {
        /* The 15-minute access token ran out: renew it from the refresh cookie. */
        fetch('/maps/refresh', {method: 'POST', credentials: 'same-origin'}).then(function (r) {
          if (!r.ok) { say('登录已过期，请重新登录。'); location.href = '/maps/login?next=/console'; return; }
          var verb = e.detail.requestConfig && e.detail.requestConfig.verb;
          if (verb === 'get') { htmx.ajax('GET', e.detail.pathInfo.requestPath, {target: e.detail.target}); }
          else { say('登录已自动续期，请再提交一次（您填写的内容仍在）。'); }
        });
        return;
      }
      say('出错了（' + xhr.status + '）：' + (typeof detail === 'string' ? detail : JSON.stringify(detail)));
    });
    document.addEventListener('keydown', keys);
    /* A reply template fills the note (appended when something is typed already). */
    document.body.addEventListener('change', function (e) {
      var sel = e.target;
      if (!sel.classList || !sel.classList.contains('reply-template') || !sel.value) { return; }
      var box = document.getElementById(sel.getAttribute('data-target'));
      if (box) { box.value = box.value ? box.value + '\n' + sel.value : sel.value; box.focus(); }
      sel.value = '';
    });
    /* A refresh of the queue (live, each minute, a filter) keeps what was ticked for bulk. */
    document.body.addEventListener('htmx:beforeSwap', function (e) {
      if (e.detail.target && e.detail.target.id === 'queue') {
        ticked = Array.prototype.map.call(
          document.querySelectorAll('#queue input[name="cases"]:checked'), function (b) { return b.value; });
        var cur = $('#queue tr.current');
        currentCase = cur ? cur.getAttribute('data-case') : currentCase;
      }
    });
    document.body.addEventListener('htmx:afterSwap', function (e) {
      if (!e.detail.target || e.detail.target.id !== 'queue') { return; }
      if ($('#bulk-notice')) { ticked = []; }  /* a bulk action answered: start afresh */
      ticked.forEach(function (v) {
        var box = document.querySelector('#queue input[name="cases"][value="' + v + '"]');
        if (box) { box.checked = true; }
      });
      if (currentCase) { mark(document.getElementById('case-row-' + currentCase)); }
    });
    live();
  });

  /* Keyboard-first triage: j / k move along the queue, Enter or o opens the case, x ticks it for
     a bulk action, / goes to the filters, Escape closes the panel. Keys typed into a field are
     the field's. */
  var ticked = [];
  var currentCase = null;
  function rows() { return Array.prototype.slice.call(document.querySelectorAll('#queue tr[data-case]')); }
  function mark(row) {
    rows().forEach(function (r) { r.classList.remove('current'); r.removeAttribute('aria-current'); });
    if (!row) { return; }
    row.classList.add('current');
    row.setAttribute('aria-current', 'true');
    currentCase = row.getAttribute('data-case');
    var link = row.querySelector('a.open-case');
    if (link) { link.focus({preventScroll: true}); }
    row.scrollIntoView({block: 'nearest'});
  }
  function move(step) {
    var all = rows();
    if (!all.length) { return; }
    var at = all.indexOf($('#queue tr.current'));
    mark(all[Math.max(0, Math.min(all.length - 1, at < 0 ? 0 : at + step))]);
  }
  function keys(e) {
    var t = e.target;
    if (e.ctrlKey || e.metaKey || e.altKey) { return; }
    if (t && (t.tagName === 'INPUT' || t.tagName === 'TEXTAREA' || t.tagName === 'SELECT' || t.isContentEditable)) {
      if (e.key === 'Escape') { t.blur(); }
      return;
    }
    var cur = $('#queue tr.current');
    switch (e.key) {
      case 'j': move(1); break;
      case 'k': move(-1); break;
      case 'o': case 'Enter':
        if (!cur) { return; }
        openCase(cur.getAttribute('data-case'));
        break;
      case 'x':
        if (!cur) { return; }
        var box = cur.querySelector('input[name="cases"]');
        if (box) { box.checked = !box.checked; }
        break;
      case '/': var f = $('#filters select'); if (f) { f.focus(); } break;
      case 'Escape': var c = $('#panel .close-panel'); if (c) { c.click(); } break;
      default: return;
    }
    e.preventDefault();
  }

  /* Live: the case feed (Server-Sent Events) refreshes the queue when a case in scope changes
     or its soft lock does, and marks an open panel whose case moved on. */
  var source = null;
  var pending = null;
  function live() {
    if (!window.EventSource) { setInterval(refreshQueue, 15000); return; }
    source = new EventSource('/api/v1/cases/changes');
    source.addEventListener('case', function (e) {
      var data = JSON.parse(e.data);
      var panel = $('#panel article.case');
      var c = data.case && data.case.properties;
      if (panel && c && String(c.id) === panel.getAttribute('data-case') &&
          String(c.version) !== panel.getAttribute('data-version')) {
        var banner = $('#stale-banner');
        if (banner) { banner.hidden = false; }
      }
      clearTimeout(pending);
      pending = setTimeout(refreshQueue, 300);
    });
    /* Someone took or left a case (soft lock): the queue's "正在处理" marks follow. */
    source.addEventListener('locks', function () {
      clearTimeout(pending);
      pending = setTimeout(refreshQueue, 300);
    });
    source.addEventListener('end', reconnect);
    source.onerror = function () { if (source.readyState === EventSource.CLOSED) { reconnect(); } };
  }
  /* A page being left closes its stream with an error: no renewal then, since the answer of a
     refresh sent while unloading is dropped and the next page would present a spent token. */
  var leaving = false;
  window.addEventListener('pagehide', function () { leaving = true; if (source) { source.close(); } });
  function reconnect() {
    if (source) { source.close(); }
    if (leaving) { return; }
    fetch('/maps/refresh', {method: 'POST', credentials: 'same-origin'}).then(function (r) {
      if (r.ok) { setTimeout(live, 1000); } else { say('实时更新已中断：登录已过期，请重新登录。'); }
    });
  }
  /* The clock moves with time alone (on track -> due soon -> overdue): refresh each minute. */
  setInterval(refreshQueue, 60000);
})();
