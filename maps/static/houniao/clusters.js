/* The dispatcher's map zoomed out (maps/dispatch.py): below houniao.CLUSTER_BELOW_ZOOM it asks
   /api/v1/cases/open/clusters.geojson for the visible area and draws one circle per cluster of
   the server's grid (squares close on screen merged there), labelled "N 件"; the live marker layer stops, so a city's or a province's
   every case is not fetched to be drawn as a blur. At or above that zoom the markers come back
   and leaflet-realtime resumes its ETag polling. Clusters refresh on the markers' cadence, on
   every move or zoom, and when a filter changes. */
(function () {
  'use strict';
  window.houniao = window.houniao || {};
  var WORST_FIRST = ['overdue', 'due_soon', 'on_track'];  /* a cluster wears its worst clock */
  var GCJ_SLACK = 0.01;  /* degrees: GCJ-02 shifts a point by well under this (~700 m) */

  /* The filters the clusters are asked for: the page's selects, or what the console sent. */
  function filterQuery() {
    var q = {};
    ['tier', 'category'].forEach(function (k) {
      var select = document.getElementById('houniao-' + k);
      if (select && select.value) { q[k] = select.value; }
    });
    var extra = houniao.extraClusterQuery ? houniao.extraClusterQuery() : {};
    Object.keys(extra).forEach(function (k) { if (extra[k]) { q[k] = extra[k]; } });
    return q;
  }

  /* The view as WGS84 minLon,minLat,maxLon,maxLat, inside the ranges the API accepts. */
  function bboxOf(map, slack) {
    var b = map.getBounds();
    var clamp = function (v, lim) { return Math.max(-lim, Math.min(lim, v)); };
    return [clamp(b.getWest() - slack, 180), clamp(b.getSouth() - slack, 90),
            clamp(b.getEast() + slack, 180), clamp(b.getNorth() + slack, 90)]
      .map(function (v) { return v.toFixed(5); }).join(',');
  }

  function worstState(p) {
    for (var i = 0; i < WORST_FIRST.length; i++) { if (p[WORST_FIRST[i]]) { return WORST_FIRST[i]; } }
    return 'on_track';
  }

  function clusterMarker(map, feature, latlng) {
    var p = feature.properties;
    var marker = L.circleMarker(latlng, {
      /* big enough for its label: two lines when some are overdue */
      radius: (p.overdue ? 18 : 14) + 4 * Math.log10(p.count), weight: 2, color: '#fff',
      fillOpacity: 0.85,
      fillColor: houniao.CLOCK_COLOURS[worstState(p)] || '#777'
    });
    var label = p.count + ' 件' + (p.overdue ? '<br><small>超时 ' + p.overdue + '</small>' : '');
    marker.bindTooltip(label, {permanent: true, direction: 'center', interactive: false,
                               className: 'houniao-cluster-label'});
    marker.houniaoCount = p.count;
    /* Closer in, the squares split; from CLUSTER_BELOW_ZOOM on, the cases themselves. */
    marker.on('click', function () {
      map.setView(latlng, Math.min(map.getZoom() + 2, map.getMaxZoom()));
    });
    return marker;
  }

  /* map, the live layer (leaflet-realtime) and its container of markers, the cluster group. */
  houniao.clusterView = function (map, realtime, markers, group, url, intervalMs, toDisplay) {
    var asked = 0, inFlight = false, timer = null;
    var zoomedOut = function () { return map.getZoom() < houniao.CLUSTER_BELOW_ZOOM; };

    function draw(features, zoom) {
      group.clearLayers();
      var total = 0;
      (toDisplay ? toDisplay(features) : features).forEach(function (f) {
        var c = f.geometry.coordinates;
        group.addLayer(clusterMarker(map, f, L.latLng(c[1], c[0])));
        total += f.properties.count;
      });
      document.getElementById('houniao-count').textContent = total + ' 件（视野内）';
      window.houniaoDrawn = total;
      window.houniaoView = 'clusters';
      window.houniaoClusterZoom = zoom;  /* for a test: which zoom's clusters are on screen */
    }

    function refresh(fromTimer) {
      if (!zoomedOut() || (fromTimer && inFlight)) { return; }  /* a slow server: no pile-up */
      var ask = ++asked;
      var q = filterQuery();
      var zoom = Math.max(0, Math.floor(map.getZoom()));
      q.z = String(zoom);
      q.bbox = bboxOf(map, toDisplay ? GCJ_SLACK : 0);
      inFlight = true;
      houniao.fetchRenewing(url + '?' + new URLSearchParams(q).toString(), {})
        .then(function (r) {
          if (!r.ok) { throw new Error('clusters answered ' + r.status); }
          return r.json();
        })
        .then(function (body) {
          if (ask === asked && zoomedOut()) { draw(body.features, zoom); }  /* the latest view's */
        })
        .catch(function (e) { if (window.console) { console.warn(e); } })
        .then(function () { inFlight = false; });
    }

    /* One view at a time: clusters stop the marker feed, markers stop the clusters. */
    function choose() {
      if (zoomedOut()) {
        realtime.stop();
        if (map.hasLayer(markers)) { map.removeLayer(markers); }
        if (!timer) { timer = setInterval(function () { refresh(true); }, intervalMs); }
        refresh(false);
      } else {
        if (timer) { clearInterval(timer); timer = null; }
        asked++;  /* an answer still on its way is for a view that is gone */
        group.clearLayers();
        if (!map.hasLayer(markers)) { map.addLayer(markers); }
        realtime.start();  /* fetches at once (304 from the ETag if nothing changed), then draws */
      }
    }

    map.on('moveend', choose);  /* Leaflet ends every zoom with a moveend */
    document.addEventListener('change', function (e) {
      if (e.target.id === 'houniao-tier' || e.target.id === 'houniao-category') { refresh(false); }
    });
    houniao.showingClusters = zoomedOut;  /* the feed drops an answer that arrives too late */
    /* The page's fitBounds zooms on the next frame, animated, and getZoom() says the old zoom
       till it ends: look after that frame, and if it is zooming, its moveend chooses. */
    L.Util.requestAnimFrame(function () { if (!map._animatingZoom) { choose(); } });
  };
})();
