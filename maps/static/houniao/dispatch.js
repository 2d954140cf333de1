/* Dispatcher map: the live case feed for leaflet-realtime, filters, and case markers. */
window.houniao = window.houniao || {};

/* houniao.CLOCK_COLOURS and CLOCK_LABELS are set by the page (maps/dispatch.py);
   houniao.extraFilter and houniao.onCaseClick by a page that adapts it (console-map.js). */

/* fetch with the page's cookies; the access token lasts minutes, so on a 401 renew it from the
   refresh cookie and try once more (the case feed and the clusters, clusters.js). */
houniao.fetchRenewing = function (url, headers) {
  var get = function () { return fetch(url, {headers: headers, credentials: 'same-origin'}); };
  return get().then(function (r) {
    if (r.status !== 401) { return r; }
    return fetch('/maps/refresh', {method: 'POST', credentials: 'same-origin'})
      .then(function (renewed) {
        if (!renewed.ok) {
          document.getElementById('houniao-count').textContent = '登录已过期，请重新登录';
          throw new Error('session expired');
        }
        return get();
      });
  });
};

/* A leaflet-realtime source: fetch with If-None-Match, reuse the cached data on 304,
   then keep the features that pass the tier and category selects. */
houniao.caseFeed = function (url, toDisplay) {
  var state = {etag: null, data: null};
  return function (success, error) {
    var headers = state.etag ? {'If-None-Match': state.etag} : {};
    houniao.fetchRenewing(url, headers)
      .then(function (r) {
        if (r.status === 304) { return state.data; }
        if (!r.ok) { throw new Error('case feed answered ' + r.status); }
        state.etag = r.headers.get('ETag');
        return r.json().then(function (d) { state.data = d; return d; });
      })
      .then(function (data) {
        if (houniao.showingClusters && houniao.showingClusters()) { return; }  /* zoomed out since */
        var tier = document.getElementById('houniao-tier').value;
        var cat = document.getElementById('houniao-category').value;
        var features = data.features.filter(function (f) {
          return (!tier || f.properties.tier === tier) && (!cat || f.properties.category === cat) &&
            (!houniao.extraFilter || houniao.extraFilter(f));
        });
        document.getElementById('houniao-count').textContent = features.length + ' 件';
        window.houniaoDrawn = features.length;
        window.houniaoView = 'markers';
        success({type: 'FeatureCollection', features: toDisplay ? toDisplay(features) : features});
      })
      .catch(error);
  };
};

houniao.casePoint = function (feature, latlng) {
  var p = feature.properties;
  var marker = L.circleMarker(latlng, {
    radius: 7, weight: 1, color: '#333', fillOpacity: 0.9,
    fillColor: houniao.CLOCK_COLOURS[p.clock_state] || '#777'
  });
  var due = (p.due_at || '').slice(0, 16).replace('T', ' ');
  marker.bindTooltip(
    '事件 #' + p.id + '：' + (p.category_label || p.category) +
    '<br>层级：' + (p.tier_label || p.tier) + '　状态：' + (p.status_label || p.status) +
    '<br>时限：' + (houniao.CLOCK_LABELS[p.clock_state] || '') + '（' + due + '）');
  /* A page that frames the map (the console) opens the case on click. */
  marker.on('click', function () { if (houniao.onCaseClick) { houniao.onCaseClick(p.id); } });
  return marker;
};

/* Changing a filter redraws at once; the refetch is answered 304 from the ETag. Zoomed out,
   the feed is stopped and the clusters redraw instead (clusters.js). */
houniao.redrawOnFilterChange = function (realtime) {
  document.addEventListener('change', function (e) {
    var filter = e.target.id === 'houniao-tier' || e.target.id === 'houniao-category';
    if (filter && realtime.isRunning()) { realtime.update(); }
  });
};
