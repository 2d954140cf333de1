"""Coordinate systems named by callers, and conversion of their coordinates to WGS84.

GCJ-02 (Amap, Tencent, WeChat) and BD-09 (Baidu) are not projections that PROJ knows: they are
published obfuscation formulas on top of WGS84. In Yichun GCJ-02 is about 580 m off WGS84, more
than a grid cell, so every coordinate must arrive with its system named; nothing is guessed.

The forward GCJ-02 formula is public; its inverse has no closed form, so it is solved by fixed-point
iteration until the round trip is within 1e-9 degrees (well under 0.5 m).
"""

from __future__ import annotations

import re
from enum import StrEnum

import numpy as np
from numpy.typing import ArrayLike, NDArray
from pyproj import CRS
from pyproj.exceptions import CRSError

from geo.core.errors import InvalidInput

Floats = NDArray[np.float64]

_A = 6378245.0  # Krasovsky 1940 semi-major axis, as used by the GCJ-02 formula
_EE = 0.00669342162296594323  # its first eccentricity squared
_BD_PI = np.pi * 3000.0 / 180.0


class Crs(StrEnum):
    """Coordinate systems a caller may name for a point."""

    wgs84 = "wgs84"
    cgcs2000 = "cgcs2000"  # EPSG:4490; metre-level identical to WGS84 for our purposes
    gcj02 = "gcj02"
    bd09 = "bd09"


# The one list every command and endpoint names when it refuses a crs.
ACCEPTED = ", ".join(c.value for c in Crs) + " (EPSG:4326 is wgs84, EPSG:4490 is cgcs2000)"
# Files (boundary imports) may also be in a projected system, converted with PROJ.
FILE_ACCEPTED = (
    f"{ACCEPTED}, or EPSG:<code> of a projected system in metres, e.g. EPSG:4552"
    " (CGCS2000 / 3-degree Gauss-Kruger CM 129E, Yichun's zone)"
)
_ALIASES = {
    "epsg4326": "wgs84",
    "crs84": "wgs84",
    "ogccrs84": "wgs84",
    "gps": "wgs84",
    "epsg4490": "cgcs2000",
    "北斗": "cgcs2000",
    "国家2000": "cgcs2000",
    "2000坐标系": "cgcs2000",
    "高德": "gcj02",
    "腾讯": "gcj02",
    "微信": "gcj02",
    "火星坐标": "gcj02",
    "国测局": "gcj02",
    "bd09ll": "bd09",
    "百度": "bd09",
}
_EPSG = re.compile(r"epsg:?(\d{4,6})")


def parse_crs(value: str | None) -> Crs:
    """The named system of lon/lat coordinates, or InvalidInput listing the accepted names.

    Points (locate, geocode, cards, reports) are always lon/lat: a projected EPSG code is refused
    here, with a word on why; boundary files take one through `parse_file_crs`.

    >>> parse_crs("GCJ02")
    <Crs.gcj02: 'gcj02'>
    >>> parse_crs("EPSG:4490")
    <Crs.cgcs2000: 'cgcs2000'>
    """
    if value is None or value == "":
        return Crs.wgs84
    key = value.strip().lower().replace("-", "").replace("_", "")
    try:
        return Crs(_ALIASES.get(key.replace(":", ""), key))
    except ValueError:
        pass
    if _EPSG.fullmatch(key):
        raise InvalidInput(
            f"crs {value!r} is not a lon/lat system this takes; accepted values: {ACCEPTED}"
        )
    raise InvalidInput(f"unknown crs {value!r}; accepted values: {ACCEPTED}")


def parse_file_crs(value: str) -> Crs | CRS:
    """The system of a file's coordinates: a named lon/lat system, or a projected EPSG code.

    Other geographic systems (Beijing 1954, Xi'an 1980) differ from WGS84 by up to ~100 m and
    need a datum shift PROJ may not have; they are refused rather than converted roughly.
    """
    try:
        return parse_crs(value)
    except InvalidInput:
        pass
    match = _EPSG.fullmatch(value.strip().lower().replace(" ", ""))
    if match is None:
        raise InvalidInput(f"unknown crs {value!r}; accepted values: {FILE_ACCEPTED}")
    try:
        crs = CRS.from_epsg(int(match[1]))
    except CRSError:
        raise InvalidInput(f"no EPSG:{match[1]}; accepted values: {FILE_ACCEPTED}") from None
    if not crs.is_projected:
        raise InvalidInput(
            f"EPSG:{match[1]} ({crs.name}) is not WGS84 or CGCS2000; accepted values:"
            f" {FILE_ACCEPTED}"
        )
    return crs


def file_crs_label(crs: CRS) -> Crs | CRS:
    """A file's own crs label: WGS84 and CGCS2000 as the named systems, others as they are."""
    if crs.to_epsg() in (4326, 4490) or crs.equals("OGC:CRS84"):
        return Crs.wgs84
    return crs


def check_units(bounds: ArrayLike, crs: Crs | CRS, source: str) -> None:
    """Refuse coordinates whose size contradicts their system: degrees labelled with a projected
    system (EPSG:3857 on lon/lat), or metres labelled as lon/lat. Either would be converted to
    points thousands of kilometres away without a word."""
    minx, miny, maxx, maxy = (float(v) for v in np.asarray(bounds, dtype=float))
    if not np.isfinite([minx, miny, maxx, maxy]).all():
        return  # no geometry to judge
    degrees = max(abs(minx), abs(maxx)) <= 180 and max(abs(miny), abs(maxy)) <= 90
    name = crs.value if isinstance(crs, Crs) else f"EPSG:{crs.to_epsg()} ({crs.name})"
    extent = f"x {minx:.6g}..{maxx:.6g}, y {miny:.6g}..{maxy:.6g}"
    if degrees and isinstance(crs, CRS) and crs.is_projected:
        raise InvalidInput(
            f"{source}: the coordinates ({extent}) are degrees, but {name} is projected in"
            f" metres; name their lon/lat system with --crs: {ACCEPTED}"
        )
    if not degrees and (isinstance(crs, Crs) or crs.is_geographic):
        raise InvalidInput(
            f"{source}: the coordinates ({extent}) are not degrees, but {name} is lon/lat;"
            " name their projected system with --crs EPSG:<code>"
        )


def _outside_china(lon: Floats, lat: Floats) -> NDArray[np.bool_]:
    return (lon < 72.004) | (lon > 137.8347) | (lat < 0.8293) | (lat > 55.8271)


def _delta(lon: Floats, lat: Floats) -> tuple[Floats, Floats]:
    x, y = lon - 105.0, lat - 35.0
    dlat = (
        -100.0
        + 2.0 * x
        + 3.0 * y
        + 0.2 * y * y
        + 0.1 * x * y
        + 0.2 * np.sqrt(np.abs(x))
        + (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
        + (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
        + (160.0 * np.sin(y / 12.0 * np.pi) + 320 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    )
    dlon = (
        300.0
        + x
        + 2.0 * y
        + 0.1 * x * x
        + 0.1 * x * y
        + 0.1 * np.sqrt(np.abs(x))
        + (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
        + (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
        + (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    )
    radlat = lat / 180.0 * np.pi
    magic = 1 - _EE * np.sin(radlat) ** 2
    sqrtmagic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1 - _EE)) / (magic * sqrtmagic) * np.pi)
    dlon = (dlon * 180.0) / (_A / sqrtmagic * np.cos(radlat) * np.pi)
    outside = _outside_china(lon, lat)
    return np.where(outside, 0.0, dlon), np.where(outside, 0.0, dlat)


def wgs84_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[Floats, Floats]:
    """Shift WGS84 coordinates into GCJ-02 (for display on Amap basemaps)."""
    lon_a, lat_a = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    dlon, dlat = _delta(lon_a, lat_a)
    return lon_a + dlon, lat_a + dlat


def gcj02_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> tuple[Floats, Floats]:
    """Invert GCJ-02 by fixed-point iteration; error well under 0.5 m in China."""
    g_lon, g_lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    w_lon, w_lat = g_lon.copy(), g_lat.copy()
    for _ in range(30):
        f_lon, f_lat = wgs84_to_gcj02(w_lon, w_lat)
        e_lon, e_lat = f_lon - g_lon, f_lat - g_lat
        w_lon, w_lat = w_lon - e_lon, w_lat - e_lat
        if np.nanmax(np.abs(np.concatenate([np.ravel(e_lon), np.ravel(e_lat)])), initial=0) < 1e-10:
            break
    return w_lon, w_lat


def bd09_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[Floats, Floats]:
    x = np.asarray(lon, dtype=float) - 0.0065
    y = np.asarray(lat, dtype=float) - 0.006
    z = np.sqrt(x * x + y * y) - 0.00002 * np.sin(y * _BD_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _BD_PI)
    return z * np.cos(theta), z * np.sin(theta)


def gcj02_to_bd09(lon: ArrayLike, lat: ArrayLike) -> tuple[Floats, Floats]:
    x, y = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    z = np.sqrt(x * x + y * y) + 0.00002 * np.sin(y * _BD_PI)
    theta = np.arctan2(y, x) + 0.000003 * np.cos(x * _BD_PI)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def to_wgs84(lon: ArrayLike, lat: ArrayLike, crs: Crs) -> tuple[Floats, Floats]:
    """Convert coordinates in `crs` to WGS84 (vectorised)."""
    lon_a, lat_a = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    match crs:
        case Crs.wgs84 | Crs.cgcs2000:
            return lon_a, lat_a
        case Crs.gcj02:
            return gcj02_to_wgs84(lon_a, lat_a)
        case Crs.bd09:
            return gcj02_to_wgs84(*bd09_to_gcj02(lon_a, lat_a))
    raise InvalidInput(f"unknown crs {crs!r}; accepted values: {ACCEPTED}")


def from_wgs84(lon: ArrayLike, lat: ArrayLike, crs: Crs) -> tuple[Floats, Floats]:
    """Convert WGS84 coordinates into `crs` (for display on GCJ-02/BD-09 basemaps)."""
    lon_a, lat_a = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    match crs:
        case Crs.wgs84 | Crs.cgcs2000:
            return lon_a, lat_a
        case Crs.gcj02:
            return wgs84_to_gcj02(lon_a, lat_a)
        case Crs.bd09:
            return gcj02_to_bd09(*wgs84_to_gcj02(lon_a, lat_a))
    raise InvalidInput(f"unknown crs {crs!r}; accepted values: {ACCEPTED}")


def check_lon_lat(lon: float, lat: float) -> None:
    """Refuse NaN, infinity and out-of-range values with a message a person can act on."""
    for name, value in (("lon", lon), ("lat", lat)):
        if value is None or not np.isfinite(value):
            raise InvalidInput(f"{name} must be a finite number, got {value!r}")
    if not -180.0 <= lon <= 180.0:
        raise InvalidInput(f"lon {lon} is out of range [-180, 180]")
    if not -90.0 <= lat <= 90.0:
        hint = " (did you swap lon and lat?)" if -90.0 <= lon <= 90.0 else ""
        raise InvalidInput(f"lat {lat} is out of range [-90, 90]{hint}")


def point_to_wgs84(lon: float, lat: float, crs: Crs) -> tuple[float, float]:
    """Validate one point and convert it to WGS84."""
    check_lon_lat(lon, lat)
    wlon, wlat = to_wgs84(lon, lat, crs)
    return float(wlon), float(wlat)
