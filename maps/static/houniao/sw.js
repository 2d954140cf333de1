/* Service worker of the phone app (/m/): keeps the app shell and the last-seen pages, so the
   app opens without a signal. Pages: network first, the cached copy when offline. Static
   files: cache first. Writes never pass through here: the outbox (outbox.js) queues them.
   Signing out deletes the caches (mobile.js). Own code, no library. */
'use strict';
var CACHE = 'houniao-m-v3';  // v3: mobile.js takes the city's zone from the page (data-city-zone)
var SHELL = [
  '/m/', '/m/cases', '/m/outbox', '/m/concerns', '/m/register', '/m/residents', '/m/departures',
  '/static/houniao/mobile.css', '/static/houniao/mobile.js', '/static/houniao/outbox.js',
  '/static/vendor/htmx.org/dist/htmx.min.js'
];

self.addEventListener('install', function (event) {
  event.waitUntil(caches.open(CACHE).then(function (cache) {
    return Promise.all(SHELL.map(function (url) {
      return fetch(url, {credentials: 'same-origin'}).then(function (resp) {
        if (resp.ok && !resp.redirected) { return cache.put(url, resp); }
      }, function () {});
    }));
  }).then(function () { return self.skipWaiting(); }));
});

self.addEventListener('activate', function (event) {
  event.waitUntil(caches.keys().then(function (keys) {
    return Promise.all(keys.filter(function (k) { return k.indexOf('houniao-m-') === 0 && k !== CACHE; })
                           .map(function (k) { return caches['delete'](k); }));
  }).then(function () { return self.clients.claim(); }));
});

function offlinePage() {
  var html = '<!doctype html><html lang="zh-CN"><meta charset="utf-8">' +
    '<meta name="viewport" content="width=device-width, initial-scale=1"><title>离线 · 候鸟网格员</title>' +
    '<h1>当前离线</h1><p>这个页面还没有在本机保存过。已保存的页面：<a href="/m/">今日工作</a>、<a href="/m/cases">待办事件</a>、' +
    '<a href="/m/concerns">民情记录本</a>、<a href="/m/register">登记居民</a>、<a href="/m/outbox">待发送</a>。</p></html>';
  return new Response(html, {status: 503, headers: {'Content-Type': 'text/html; charset=utf-8'}});
}

function networkFirst(request) {
  return fetch(request).then(function (resp) {
    if (resp.ok && !resp.redirected) {
      var copy = resp.clone();
      caches.open(CACHE).then(function (cache) { cache.put(request, copy); });
    }
    return resp;
  }, function () {
    return caches.match(request).then(function (hit) {
      if (hit) { return hit; }
      return caches.match(request, {ignoreSearch: true}).then(function (loose) {
        return loose || (request.mode === 'navigate' ? offlinePage() : Response.error());
      });
    });
  });
}

function cacheFirst(request) {
  return caches.match(request).then(function (hit) {
    return hit || fetch(request).then(function (resp) {
      if (resp.ok) {
        var copy = resp.clone();
        caches.open(CACHE).then(function (cache) { cache.put(request, copy); });
      }
      return resp;
    });
  });
}

self.addEventListener('fetch', function (event) {
  var request = event.request;
  if (request.method !== 'GET') { return; }
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) { return; }
  if (url.pathname.indexOf('/static/') === 0) { event.respondWith(cacheFirst(request)); return; }
  if (url.pathname.indexOf('/m/') === 0 && url.pathname !== '/m/sw.js') {
    event.respondWith(networkFirst(request));
  }
});
