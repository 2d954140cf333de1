import math

import numpy as np
import pytest
from pyproj import Geod

from geo.core.errors import InvalidInput
from geo.spatial.crs import Crs, from_wgs84, parse_crs, point_to_wgs84, to_wgs84, wgs84_to_gcj02

GEOD = Geod(ellps="WGS84")
YICHUN = (128.905, 47.727)


def metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    return GEOD.inv(a[0], a[1], b[0], b[1])[2]


def test_gcj02_offset_in_yichun_is_about_580_m():
    glon, glat = wgs84_to_gcj02(*YICHUN)
    assert 500 < metres(YICHUN, (float(glon), float(glat))) < 650


@pytest.mark.parametrize("crs", [Crs.gcj02, Crs.bd09])
def test_inverse_round_trip_within_half_a_metre(crs: Crs):
    rng = np.random.default_rng(1)
    lon = rng.uniform(127.5, 130.8, 2000)
    lat = rng.uniform(46.3, 49.3, 2000)
    back = to_wgs84(*from_wgs84(lon, lat, crs), crs)
    errors = [metres((a, b), (c, d)) for a, b, c, d in zip(lon, lat, *back, strict=True)]
    assert max(errors) < 0.5


def test_wgs84_and_cgcs2000_are_identity():
    assert point_to_wgs84(*YICHUN, Crs.cgcs2000) == YICHUN


@pytest.mark.parametrize(
    "text,expected",
    [("GCJ-02", Crs.gcj02), ("EPSG:4490", Crs.cgcs2000), ("", Crs.wgs84), ("bd09ll", Crs.bd09)],
)
def test_parse_crs_aliases(text, expected):
    assert parse_crs(text) is expected


def test_unknown_crs_lists_accepted_values():
    with pytest.raises(InvalidInput, match="wgs84, cgcs2000, gcj02, bd09"):
        parse_crs("mercator")


@pytest.mark.parametrize(
    "lon,lat,message",
    [
        (math.nan, 47.7, "finite"),
        (128.9, math.inf, "finite"),
        (181.0, 47.7, "out of range"),
        (47.7, 128.9, "swap"),
    ],
)
def test_bad_points_are_refused(lon, lat, message):
    with pytest.raises(InvalidInput, match=message):
        point_to_wgs84(lon, lat, Crs.wgs84)


def test_every_point_parser_lists_and_takes_epsg_4326_and_4490():
    from geo.residents.intake.records import parse_crs_name
    from geo.spatial.crs import ACCEPTED

    assert "EPSG:4326 is wgs84" in ACCEPTED and "EPSG:4490 is cgcs2000" in ACCEPTED
    for parse in (parse_crs, parse_crs_name):
        assert parse("EPSG:4326") == Crs.wgs84 and parse("epsg:4490") == Crs.cgcs2000
        assert parse("高德") == Crs.gcj02  # the Chinese names of the intake hold everywhere
        with pytest.raises(InvalidInput, match="not a lon/lat system") as caught:
            parse("EPSG:3857")
        assert ACCEPTED in caught.value.detail
