/* The dispatcher's live map framed by the console (/console/map): its own filter box gives way
   to the console's filter bar (sent by postMessage), and a click on a case opens it there. */
(function () {
  'use strict';
  var extra = {street: '', clock: ''};
  houniao.extraFilter = function (f) {
    var p = f.properties;
    return (!extra.clock || p.clock_state === extra.clock) &&
      (!extra.street || String(p.cell_code || '').slice(0, 9) === extra.street);
  };
  /* Zoomed out, the clusters are filtered by the API (clusters.js) with the same values. */
  houniao.extraClusterQuery = function () { return {street: extra.street, clock: extra.clock}; };
  houniao.onCaseClick = function (id) {
    window.parent.postMessage({houniao: 'open-case', id: id}, location.origin);
  };
  window.addEventListener('message', function (e) {
    if (e.origin !== location.origin || !e.data || e.data.houniao !== 'filters') { return; }
    var tier = document.getElementById('houniao-tier');
    var cat = document.getElementById('houniao-category');
    if (!tier || !cat) { return; }
    tier.value = e.data.tier || '';
    cat.value = e.data.category || '';
    extra.street = e.data.street || '';
    extra.clock = e.data.clock || '';
    tier.dispatchEvent(new Event('change', {bubbles: true}));  /* redraws markers or clusters */
  });
  document.addEventListener('DOMContentLoaded', function () {
    var box = document.getElementById('houniao-filters');
    if (box) { box.hidden = true; box.style.display = 'none'; }
    window.parent.postMessage({houniao: 'map-ready'}, location.origin);
  });
})();
