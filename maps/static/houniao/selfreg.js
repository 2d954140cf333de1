/* Self-registration form (/card/register): fill the stay's point from the phone's GPS.
   The browser's geolocation is WGS84, and the form says so (crs=wgs84). No other script. */
(function () {
  'use strict';
  function $(s) { return document.querySelector(s); }
  document.addEventListener('DOMContentLoaded', function () {
    var button = $('#s-locate');
    if (!button) { return; }
    button.addEventListener('click', function () {
      var out = $('#s-where');
      if (!navigator.geolocation) { out.textContent = '此浏览器不能定位，请填写地址。'; return; }
      out.textContent = '正在定位…';
      navigator.geolocation.getCurrentPosition(function (pos) {
        var lon = pos.coords.longitude.toFixed(6), lat = pos.coords.latitude.toFixed(6);
        $('#s-lon').value = lon; $('#s-lat').value = lat; $('#s-crs').value = 'wgs84';
        out.textContent = '已定位：经度 ' + lon + '，纬度 ' + lat + '（WGS84，手机定位原始坐标，精度约 ' +
          Math.round(pos.coords.accuracy || 0) + ' 米）';
      }, function (err) {
        out.textContent = '定位失败（' + err.message + '），请填写地址。';
      }, {enableHighAccuracy: true, timeout: 15000, maximumAge: 60000});
    });
  });
})();
