/* The phone app's outbox (/m/): forms filled on the phone wait here, in IndexedDB, until they
   are sent, in the order they were filled. Each carries an Idempotency-Key made on the phone, so
   a form sent twice (the answer lost on the way back) is written once on the server.
   Like ODK Collect's and Enketo's queues: nothing typed is lost; an entry the server refuses is
   kept, with the server's words, to be corrected or deleted on its own; each sent entry keeps
   its receipt (the server's id and time). Own code, no library. */
(function () {
  'use strict';
  var DB = 'houniao-m', VERSION = 1, db = null, flushing = false;

  function open() {
    if (db) { return Promise.resolve(db); }
    return new Promise(function (resolve, reject) {
      var req = indexedDB.open(DB, VERSION);
      req.onupgradeneeded = function () {
        var d = req.result;
        if (!d.objectStoreNames.contains('outbox')) { d.createObjectStore('outbox', {keyPath: 'seq', autoIncrement: true}); }
        if (!d.objectStoreNames.contains('drafts')) { d.createObjectStore('drafts', {keyPath: 'form'}); }
      };
      req.onsuccess = function () { db = req.result; db.onversionchange = function () { db.close(); db = null; }; resolve(db); };
      req.onerror = function () { reject(req.error); };
    });
  }

  function tx(store, mode, work) {
    return open().then(function (d) {
      return new Promise(function (resolve, reject) {
        var t = d.transaction(store, mode), out;
        var req = work(t.objectStore(store));
        if (req) { req.onsuccess = function () { out = req.result; }; }
        t.oncomplete = function () { resolve(out); };
        t.onerror = function () { reject(t.error); };
        t.onabort = function () { reject(t.error); };
      });
    });
  }

  function newKey() {
    if (window.crypto && crypto.randomUUID) { return crypto.randomUUID(); }
    var b = new Uint8Array(16); crypto.getRandomValues(b);
    return Array.prototype.map.call(b, function (x) { return ('0' + x.toString(16)).slice(-2); }).join('');
  }

  function all() { return tx('outbox', 'readonly', function (s) { return s.getAll(); }).then(function (xs) { return xs || []; }); }
  function put(item) { return tx('outbox', 'readwrite', function (s) { return s.put(item); }); }
  function remove(seq) { return tx('outbox', 'readwrite', function (s) { return s['delete'](seq); }).then(changed); }

  function add(url, label, fields) {
    var item = {key: newKey(), url: url, label: label, fields: fields, state: 'waiting',
                created_at: new Date().toISOString(), message: '', receipt: null};
    return put(item).then(function (seq) { item.seq = seq; changed(); return item; });
  }

  function changed() { document.dispatchEvent(new CustomEvent('houniao:outbox')); }

  function csrf() { return document.body ? document.body.getAttribute('data-csrf') || '' : ''; }

  function send(item) {
    return fetch(item.url, {
      method: 'POST',
      credentials: 'same-origin',
      headers: {
        'Content-Type': 'application/x-www-form-urlencoded',
        'Accept': 'application/json',
        'X-CSRF-Token': csrf(),
        'Idempotency-Key': item.key
      },
      body: new URLSearchParams(item.fields).toString()
    });
  }

  function detail(resp) {
    return resp.json().then(function (body) {
      var d = body && body.detail;
      if (Array.isArray(d)) { return d.map(function (e) { return (e.loc || []).join('.') + ': ' + e.msg; }).join('；'); }
      return d ? String(d) : '服务器退回（' + resp.status + '）';
    }, function () { return '服务器退回（' + resp.status + '）'; });
  }

  function renew() {
    return fetch('/maps/refresh', {method: 'POST', credentials: 'same-origin'}).then(function (r) { return r.ok; }, function () { return false; });
  }

  /* Send every waiting entry, oldest first. A lost connection stops the round (the rest keep
     their turn); a refusal marks that entry alone and the round goes on. */
  function flush() {
    if (flushing) { return Promise.resolve(); }
    flushing = true;
    return all().then(function (items) {
      var waiting = items.filter(function (i) { return i.state === 'waiting'; })
                         .sort(function (a, b) { return a.seq - b.seq; });
      var chain = Promise.resolve(true);
      waiting.forEach(function (item) {
        chain = chain.then(function (goOn) {
          if (!goOn) { return false; }
          return one(item);
        });
      });
      return chain;
    }).then(function () { flushing = false; changed(); }, function (e) { flushing = false; changed(); throw e; });
  }

  function one(item) {
    return send(item).then(function (resp) {
      if (resp.status === 401) {
        return renew().then(function (ok) { return ok ? send(item) : resp; });
      }
      return resp;
    }).then(function (resp) {
      if (resp.ok) {
        return resp.json().then(function (body) {
          item.state = 'sent'; item.receipt = body.receipt || null;
          item.message = resp.headers.get('Idempotent-Replayed') ? '已发送（服务器已收到过，未重复记录）' : '已发送';
          return put(item).then(function () { return true; });
        });
      }
      if (resp.status === 401 || resp.status === 403) {
        return detail(resp).then(function (msg) {
          item.message = '登录已过期或失效，请重新登录后再发送（内容已保留）：' + msg;
          return put(item).then(function () { return false; });
        });
      }
      if (resp.status >= 500 || resp.status === 429 || (resp.status === 409 && resp.headers.get('Retry-After'))) {
        item.message = '服务器暂时无法处理（' + resp.status + '），稍后自动重试';
        return put(item).then(function () { return false; });
      }
      return detail(resp).then(function (msg) {
        item.state = 'failed'; item.message = msg + '（' + resp.status + '）';
        return put(item).then(function () { return true; });
      });
    }, function () {
      item.message = '未联网，恢复信号后自动发送';
      return put(item).then(function () { return false; });
    });
  }

  function retry(seq, fields) {
    return all().then(function (items) {
      var item = items.filter(function (i) { return i.seq === seq; })[0];
      if (!item) { return null; }
      if (fields) { item.fields = fields; }
      item.state = 'waiting'; item.message = '';
      return put(item).then(function () { changed(); return flush(); });
    });
  }

  function clearSent() {
    return all().then(function (items) {
      return Promise.all(items.filter(function (i) { return i.state === 'sent'; }).map(function (i) { return remove(i.seq); }));
    });
  }

  function saveDraft(form, fields) { return tx('drafts', 'readwrite', function (s) { return s.put({form: form, fields: fields, at: new Date().toISOString()}); }); }
  function draft(form) { return tx('drafts', 'readonly', function (s) { return s.get(form); }); }
  function dropDraft(form) { return tx('drafts', 'readwrite', function (s) { return s['delete'](form); }); }

  /* Signing out on a shared phone: forget everything this app kept on it. */
  function wipe() {
    if (db) { db.close(); db = null; }
    return new Promise(function (resolve) {
      var req = indexedDB.deleteDatabase(DB);
      req.onsuccess = req.onerror = req.onblocked = function () { resolve(); };
    });
  }

  function busy() { return flushing; }

  window.HouniaoOutbox = {add: add, all: all, remove: remove, flush: flush, busy: busy, retry: retry, clearSent: clearSent,
                          saveDraft: saveDraft, draft: draft, dropDraft: dropDraft, wipe: wipe};
})();
