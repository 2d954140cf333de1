/* WGS84 -> GCJ-02 for display on Amap tiles; the same published formula as geo/spatial/crs.py. */
(function () {
  var A = 6378245.0, EE = 0.00669342162296594323, PI = Math.PI;
  function outside(lon, lat) { return lon < 72.004 || lon > 137.8347 || lat < 0.8293 || lat > 55.8271; }
  function tlat(x, y) {
    var r = -100 + 2 * x + 3 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * Math.sqrt(Math.abs(x));
    r += (20 * Math.sin(6 * x * PI) + 20 * Math.sin(2 * x * PI)) * 2 / 3;
    r += (20 * Math.sin(y * PI) + 40 * Math.sin(y / 3 * PI)) * 2 / 3;
    return r + (160 * Math.sin(y / 12 * PI) + 320 * Math.sin(y * PI / 30)) * 2 / 3;
  }
  function tlon(x, y) {
    var r = 300 + x + 2 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * Math.sqrt(Math.abs(x));
    r += (20 * Math.sin(6 * x * PI) + 20 * Math.sin(2 * x * PI)) * 2 / 3;
    r += (20 * Math.sin(x * PI) + 40 * Math.sin(x / 3 * PI)) * 2 / 3;
    return r + (150 * Math.sin(x / 12 * PI) + 300 * Math.sin(x / 30 * PI)) * 2 / 3;
  }
  function toGcj(lon, lat) {
    if (outside(lon, lat)) { return [lon, lat]; }
    var dlat = tlat(lon - 105, lat - 35), dlon = tlon(lon - 105, lat - 35);
    var rad = lat / 180 * PI, magic = 1 - EE * Math.sin(rad) * Math.sin(rad), s = Math.sqrt(magic);
    dlat = dlat * 180 / ((A * (1 - EE)) / (magic * s) * PI);
    dlon = dlon * 180 / (A / s * Math.cos(rad) * PI);
    return [lon + dlon, lat + dlat];
  }
  /* Shift point features of a GeoJSON feature list (the live case feed holds points only). */
  window.houniaoToGcj02 = function (features) {
    return features.map(function (f) {
      if (!f.geometry || f.geometry.type !== 'Point') { return f; }
      var c = toGcj(f.geometry.coordinates[0], f.geometry.coordinates[1]);
      return Object.assign({}, f, {geometry: {type: 'Point', coordinates: c}});
    });
  };
})();
