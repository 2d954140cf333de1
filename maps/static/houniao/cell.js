/* Grid worker's map: once the phone's location is known, a line to the nearest service area
   with an estimated walking distance (straight line x detour: there is no road network offline). */
window.houniao = window.houniao || {};

houniao.routeToServiceArea = function (map, lat, lon, name, detour) {
  var route = null;
  map.on('locationfound', function (e) {
    var target = L.latLng(lat, lon);
    var walk = Math.round(e.latlng.distanceTo(target) * detour);
    if (route) { route.remove(); }
    route = L.polyline([e.latlng, target], {color: '#31a354', dashArray: '6 6'})
      .bindTooltip('步行约 ' + walk + ' 米 到 ' + name, {permanent: true})
      .addTo(map);
    window.houniaoWalkMetres = walk;
  });
};
