/* The phone app's pages (/m/): forms go to the outbox (outbox.js) and are sent from there;
   drafts are kept while typing; the phone's GPS fills a point (WGS84); the outbox page lists
   what waits, what was sent (with the receipt) and what was refused (to fix or delete). */
(function () {
  'use strict';
  var O = window.HouniaoOutbox;
  var STATES = {waiting: '等待发送', sent: '已发送', failed: '被退回'};
  var FIELD_LABELS = {
    category: '类别', text: '记录内容', resident_id: '居民档案号', lon: '经度', lat: '纬度', crs: '坐标系',
    address: '地址', follow_up: '跟进事项', name: '姓名', sex: '性别', id_number: '身份证号', phone: '手机号',
    birth_year: '出生年份', origin: '来源地', occupation: '职业', arrived_on: '到达日期',
    expected_departure: '预计离开日期', housing_type: '住房类型', household_size: '同住人数', note: '备注',
    departed_on: '离开日期', description: '事件描述', captured_at: '填写时间',
    action: '操作（流程步骤）', version: '事件版本（打开时）', grade: '等级', reason: '撤销原因',
    duplicate_of: '重复的原事件编号', worker_id: '网格员编号'
  };
  var FLASH = 'houniao-flash';

  function $(sel, root) { return (root || document).querySelector(sel); }
  function $$(sel, root) { return Array.prototype.slice.call((root || document).querySelectorAll(sel)); }
  function say(text) { var f = $('#flash'); if (f) { f.textContent = text; } }

  /* An instant as the city writes it, in the city's zone: the page names the zone
     (data-city-zone, from geo/core/clock.py), so it is defined once. */
  function cnTime(iso) {
    if (!iso) { return ''; }
    var d = new Date(iso);
    var zone = document.body.dataset.cityZone;
    var parts = new Intl.DateTimeFormat('zh-CN', {timeZone: zone, year: 'numeric', month: 'numeric',
      day: 'numeric', hour: '2-digit', minute: '2-digit', hour12: false}).formatToParts(d);
    var p = {}; parts.forEach(function (x) { p[x.type] = x.value; });
    return p.year + '年' + p.month + '月' + p.day + '日 ' + p.hour + ':' + p.minute;
  }

  function fieldsOf(form) {
    var out = {};
    new FormData(form).forEach(function (v, k) {
      if (k !== 'csrf_token' && typeof v === 'string' && v !== '') { out[k] = v; }
    });
    return out;
  }

  /* --- forms into the outbox --- */
  function queue(form, event) {
    event.preventDefault();
    var stamp = $('[data-captured]', form);
    if (stamp) { stamp.value = new Date().toISOString(); }
    var fields = fieldsOf(form);
    var label = form.getAttribute('data-outbox');
    var extra = fields.text || fields.name || '';
    if (extra) { label += '：' + extra.slice(0, 20); }
    var url = new URL(form.getAttribute('action'), location.href).pathname;  // not form.action: a field may be named action
    O.add(url, label, fields).then(function (item) {
      var draftName = form.getAttribute('data-draft');
      if (draftName) { O.dropDraft(draftName); }
      var done = form.closest('.review') || (form.classList.contains('departure') ? form : null);
      if (done) { done.hidden = true; } else { form.reset(); }  // decided: off the list
      $$('[id$="-where"]', form).forEach(function (p) { p.textContent = '尚未定位（坐标系 WGS84）。'; });
      say('已保存到待发送（第 ' + item.seq + ' 条）：' + label + (navigator.onLine ? '，正在发送…' : '。现在离线，恢复信号后自动发送。'));
      return O.flush();
    }).then(function () { return O.all(); }).then(function (items) {
      var mine = items.filter(function (i) { return i.url === url; }).pop();
      if (mine && mine.state === 'sent') { say('已发送：' + (mine.receipt ? mine.receipt.label : mine.label)); }
      if (mine && mine.state === 'failed') { say('被退回：' + mine.message + '。请到“待发送”修改后重发。'); }
      if (mine && mine.state !== 'waiting' && form.closest('#case-actions')) {  // a case step: the page afresh
        sessionStorage.setItem(FLASH, $('#flash').textContent);
        location.replace(location.pathname);
      }
    });
  }

  /* --- drafts: kept while typing, survive a closed tab --- */
  function keepDrafts(form) {
    var name = form.getAttribute('data-draft');
    O.draft(name).then(function (d) {
      if (!d || !d.fields) { return; }
      Object.keys(d.fields).forEach(function (k) {
        $$('[name="' + k + '"]', form).forEach(function (el) {
          if (el.type === 'radio' || el.type === 'checkbox') { el.checked = el.value === d.fields[k]; }
          else if (el.type !== 'hidden' || k === 'lon' || k === 'lat' || k === 'crs') { el.value = d.fields[k]; }
        });
      });
      say('已恢复上次未提交的草稿（' + cnTime(d.at) + '）。');
    });
    var save = function () { O.saveDraft(name, fieldsOf(form)); };
    form.addEventListener('input', save);
    form.addEventListener('change', save);
  }

  /* --- the phone's GPS: browser geolocation is WGS84 --- */
  function locate(button) {
    var out = $(button.getAttribute('data-out'));
    if (!navigator.geolocation) { out.textContent = '此浏览器不能定位，请填写地址。'; return; }
    out.textContent = '正在定位…';
    navigator.geolocation.getCurrentPosition(function (pos) {
      var lon = pos.coords.longitude.toFixed(6), lat = pos.coords.latitude.toFixed(6);
      $(button.getAttribute('data-lon')).value = lon;
      $(button.getAttribute('data-lat')).value = lat;
      $(button.getAttribute('data-crs')).value = 'wgs84';
      out.textContent = '已定位：经度 ' + lon + '，纬度 ' + lat + '（WGS84，手机定位原始坐标，精度约 ' +
        Math.round(pos.coords.accuracy || 0) + ' 米）';
      var form = button.form; if (form) { form.dispatchEvent(new Event('change')); }
    }, function (err) {
      out.textContent = '定位失败（' + err.message + '），请填写地址。';
    }, {enableHighAccuracy: true, timeout: 15000, maximumAge: 60000});
  }

  /* --- connection and outbox count --- */
  function showNet() {
    var n = $('#net');
    if (n) { n.textContent = navigator.onLine ? '' : '离线：填写的内容保存在手机上，恢复信号后自动发送'; }
  }
  function showCount() {
    O.all().then(function (items) {
      var waiting = items.filter(function (i) { return i.state !== 'sent'; }).length;
      var c = $('#outbox-count'); if (c) { c.textContent = waiting ? String(waiting) : ''; }
      if ($('#outbox-list')) { drawOutbox(items); }
    });
  }

  /* --- the outbox page --- */
  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text !== undefined) { e.textContent = text; }
    return e;
  }

  function drawOutbox(items) {
    var list = $('#outbox-list');
    list.textContent = '';
    if (!items.length) { list.appendChild(el('li', {'class': 'muted'}, '没有待发送的内容。')); return; }
    items.sort(function (a, b) { return a.seq - b.seq; }).forEach(function (item) {
      var li = el('li', {'class': 'item state-' + item.state, 'id': 'outbox-' + item.seq, 'data-state': item.state});
      li.appendChild(el('strong', {}, item.label));
      li.appendChild(el('span', {'class': 'state'}, ' · ' + STATES[item.state]));
      li.appendChild(el('div', {'class': 'muted'}, '填写于 ' + cnTime(item.created_at)));
      if (item.receipt) {
        li.appendChild(el('div', {'class': 'receipt'}, '回执：' + item.receipt.label + ' · 服务器编号 ' + item.receipt.id +
          ' · ' + cnTime(item.receipt.at)));
      }
      if (item.message && item.state !== 'sent') { li.appendChild(el('div', {'class': 'message', role: 'note'}, item.message)); }
      if (item.state === 'failed') { li.appendChild(editor(item)); }
      if (item.state !== 'sent') {
        var del = el('button', {type: 'button', 'class': 'delete'}, '删除这一条');
        del.addEventListener('click', function () {
          if (window.confirm('删除“' + item.label + '”？删除后不能恢复。')) { O.remove(item.seq); }
        });
        li.appendChild(del);
      }
      list.appendChild(li);
    });
    var actions = $('#outbox-actions');
    if (actions) {
      actions.textContent = '';
      if (items.some(function (i) { return i.state === 'sent'; })) {
        var clear = el('button', {type: 'button', id: 'outbox-clear'}, '清除已发送的记录');
        clear.addEventListener('click', function () { O.clearSent(); });
        actions.appendChild(clear);
      }
    }
  }

  function editor(item) {
    var form = el('form', {'class': 'fix'});
    Object.keys(item.fields).forEach(function (k) {
      var id = 'fix-' + item.seq + '-' + k;
      form.appendChild(el('label', {'for': id}, FIELD_LABELS[k] || k));
      var input = el(k === 'text' || k === 'note' ? 'textarea' : 'input', {id: id, name: k});
      input.value = item.fields[k];
      form.appendChild(input);
    });
    var again = el('button', {type: 'submit'}, '修改后重发');
    form.appendChild(again);
    form.addEventListener('submit', function (e) {
      e.preventDefault();
      var fields = {};
      new FormData(form).forEach(function (v, k) { if (v !== '') { fields[k] = v; } });
      O.retry(item.seq, fields);
    });
    return form;
  }

  /* --- a case page: one step at a time. While a step of this case waits in the outbox its forms
     are put away (the next step depends on the server's answer); once the step is sent, or
     refused, the page is drawn afresh from the server with the outcome on top. --- */
  function followCase(box) {
    var url = box.getAttribute('data-url'), seen = {};
    function check() {
      O.all().then(function (items) {
        var mine = items.filter(function (i) { return i.url === url; });
        var settled = mine.filter(function (i) { return seen[i.seq] && i.state !== 'waiting'; })[0];
        if (settled && O.busy()) { return; }  // the round goes on; its end calls again
        if (settled) {
          sessionStorage.setItem(FLASH, settled.state === 'sent'
            ? '已发送：' + (settled.receipt ? settled.receipt.label : settled.label)
            : '被退回：' + settled.message + ' 这一条保留在“待发送”中，可修改后重发或删除。');
          location.replace(location.pathname);
          return;
        }
        var waiting = mine.filter(function (i) { return i.state === 'waiting'; });
        waiting.forEach(function (i) { seen[i.seq] = true; });
        var note = $('#case-queued', box);
        $('#case-forms', box).hidden = waiting.length > 0;
        note.hidden = !waiting.length;
        note.textContent = waiting.length ? '这件事件有 ' + waiting.length + ' 条操作等待发送（' +
          waiting.map(function (i) { return i.label; }).join('；') + '）。发送后这里显示最新状态，再办理下一步。' : '';
      });
    }
    document.addEventListener('houniao:outbox', check);
    check();
  }

  /* --- the case list: keep the most urgent cases' pages on the phone for a walk without signal --- */
  function keepCases(list) {
    if (!navigator.onLine || !navigator.serviceWorker || !navigator.serviceWorker.controller) { return; }
    $$('a[href^="/m/cases/"]', list).slice(0, 20).forEach(function (a) {
      fetch(a.getAttribute('href'), {credentials: 'same-origin'}).then(function () {}, function () {});
    });
  }

  /* --- sign out: a shared phone keeps no personal data --- */
  function signOut(form, event) {
    event.preventDefault();
    O.all().then(function (items) {
      var open = items.filter(function (i) { return i.state !== 'sent'; }).length;
      if (open && !window.confirm('还有 ' + open + ' 条内容没有发送，退出登录会从本机删除它们。确定退出？')) { return; }
      var jobs = [O.wipe()];
      if (window.caches) {
        jobs.push(caches.keys().then(function (keys) {
          return Promise.all(keys.filter(function (k) { return k.indexOf('houniao-m-') === 0; })
                                 .map(function (k) { return caches['delete'](k); }));
        }));
      }
      Promise.all(jobs).then(function () { form.submit(); }, function () { form.submit(); });
    });
  }

  document.addEventListener('DOMContentLoaded', function () {
    if ('serviceWorker' in navigator) { navigator.serviceWorker.register('/m/sw.js', {scope: '/m/'}); }
    $$('form[data-outbox]').forEach(function (form) {
      form.addEventListener('submit', function (e) { queue(form, e); });
    });
    $$('form[data-draft]').forEach(keepDrafts);
    $$('button.locate').forEach(function (b) { b.addEventListener('click', function () { locate(b); }); });
    var logout = $('#logout');
    if (logout) { logout.addEventListener('submit', function (e) { signOut(logout, e); }); }
    var sendNow = $('#outbox-send');
    if (sendNow) { sendNow.addEventListener('click', function () { O.flush(); }); }
    var sent = new URLSearchParams(location.search).get('sent');
    if (sent) { say('已发送：' + sent); }
    var flash = sessionStorage.getItem(FLASH);
    if (flash) { sessionStorage.removeItem(FLASH); say(flash); }
    var caseBox = $('#case-actions');
    if (caseBox) { followCase(caseBox); }
    var caseList = $('#case-list');
    if (caseList) { keepCases(caseList); }
    document.addEventListener('houniao:outbox', showCount);
    document.body.addEventListener('htmx:sendError', function () {
      say('离线：现在不能查询地址。可以直接保存，恢复信号后服务器按地址定位。');
    });
    window.addEventListener('online', function () { showNet(); O.flush(); });
    window.addEventListener('offline', showNet);
    showNet();
    showCount();
    if (navigator.onLine) { O.flush(); }
  });
})();
