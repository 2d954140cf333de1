/* The hot spots layer of the dispatcher's map (/maps/dispatch, /console/map): empty until it is
   switched on in the layers control, then it asks /api/v1/planning/hotspots for the season's
   hot and cold spots of cases in the caller's area (the API scopes it: a street's staff get
   their street's cells) and outlines those cells of the map's own cell layer. Nothing finer
   than a cell arrives. */
(function () {
  'use strict';
  window.houniao = window.houniao || {};
  var COLOURS = {hot: '#b2182b', cold: '#2166ac'};
  var LABELS = {hot: '热点', cold: '冷点'};
  houniao.hotspotsLayer = function (map, group, cells, url) {
    var asked = false;
    map.on('overlayadd', function (e) {
      if (e.layer !== group || asked) { return; }
      asked = true;
      fetch(url, {credentials: 'same-origin', headers: {Accept: 'application/json'}})
        .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
        .then(function (body) {
          var spots = {};
          body.cells.forEach(function (c) {
            if (c['class'] !== 'not_significant') { spots[c.cell_code] = c; }
          });
          cells.eachLayer(function (layer) {
            var f = layer.feature, c = f && spots[f.id];
            if (!c) { return; }
            var colour = COLOURS[c['class']];
            L.geoJSON({type: 'Feature', geometry: f.geometry,
                       properties: {layer: 'hot', cell_code: f.id, 'class': c['class']}}, {
              style: {color: colour, weight: 2, fillColor: colour, fillOpacity: 0.45},
              interactive: true
            }).bindTooltip(LABELS[c['class']] + ' ' + f.id + '　z=' + c.z + '，p=' + c.p)
              .addTo(group);
          });
          group.houniaoLoaded = Object.keys(spots).length;
        })
        .catch(function () { group.houniaoLoaded = -1; });
    });
  };
})();
