"""The public service card /card: worker, QR code, nearest service area, small map, errors."""

from __future__ import annotations

import re

import pytest
import qrcode
import qrcode.constants
from sqlalchemy import text

from geo.spatial.boundaries import queries
from geo.spatial.crs import Crs, from_wgs84
from maps.card import card_page, distance_text, qr_svg, worker_vcard
from tests.spatial.conftest import CELL

HAN = re.compile(r"[\u4e00-\u9fff]")
FETCHED = re.compile(r"""<(?:script|link|img|iframe|source)\b[^>]*?\b(?:src|href)=["']([^"']+)""")


@pytest.fixture
def worker(session) -> dict:
    row = (
        session.execute(
            text(
                "SELECT w.name, w.work_phone, w.wechat_id FROM grid_worker w"
                " JOIN grid_worker_cell wc ON wc.worker_id = w.id WHERE wc.cell_code = :c"
            ),
            {"c": CELL},
        )
        .mappings()
        .one()
    )
    return dict(row)


@pytest.fixture
def cell(session) -> dict:
    """CELL's properties as the card shows them (names of its community, street, district)."""
    props = queries.cell(session, CELL, None)
    props.pop("geometry")
    return props


@pytest.fixture
def nearest(session, inside) -> dict:
    row = (
        session.execute(
            text(
                "SELECT name, ST_Distance(geom::geography,"
                " ST_SetSRID(ST_MakePoint(:x, :y), 4326)::geography) AS d"
                " FROM service_area ORDER BY geom::geography <-> ST_SetSRID(ST_MakePoint(:x, :y), 4326)::geography"
                " LIMIT 1"
            ),
            {"x": inside[0], "y": inside[1]},
        )
        .mappings()
        .one()
    )
    return dict(row)


def test_card_shows_worker_qr_and_nearest_service_area(client, inside, worker, cell, nearest):
    r = client.get("/card", params={"lon": inside[0], "lat": inside[1]})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    html = r.text
    assert "您来旅居我服务" in html and 'name="viewport"' in html
    assert CELL in html and "网格" in html
    assert worker["name"] in html and f'href="tel:{worker["work_phone"]}"' in html
    assert nearest["name"] in html and distance_text(nearest["d"]) in html
    assert qr_svg(worker_vcard(worker, cell), size_px=160) in html
    assert f'<b class="hn-wechat">{worker["wechat_id"]}</b>' in html and "weixin://" not in html
    assert "保存网格员的工作联系方式" in html  # the card says what the code holds
    # Labels of the map in Chinese: the point, the cell, the service area.
    assert "您的位置" in html and f"候鸟服务区：{nearest['name']}" in html


def test_card_page_fetches_nothing_from_outside(client, inside):
    html = client.get("/card", params={"lon": inside[0], "lat": inside[1]}).text
    assert "http://" not in html and "https://" not in html
    urls = FETCHED.findall(html)
    assert urls and all(u.startswith("/static/vendor/") for u in urls)
    for url in urls:  # every vendored file is served by the app itself
        assert client.get(url).status_code == 200, url


def test_qr_code_encodes_the_work_contact_as_a_vcard(worker, cell):
    """What a phone can act on (save a contact, call), not a weixin:// URL WeChat ignores."""
    payload = worker_vcard(worker, cell)
    lines = payload.split("\r\n")
    assert lines[:2] == ["BEGIN:VCARD", "VERSION:3.0"] and lines[-2:] == ["END:VCARD", ""]
    assert f"FN:{worker['name']}" in lines
    assert f"TEL;TYPE=WORK,VOICE:{worker['work_phone']}" in lines
    assert f"TITLE:网格员 {cell['name']}" in lines
    assert f"ORG:{cell['district_name']}{cell['street_name']};{cell['community_name']}" in lines
    assert any(line.startswith("NOTE:") and worker["wechat_id"] in line for line in lines)
    svg = qr_svg(payload)
    n = int(re.search(r'viewBox="0 0 (\d+) \1"', svg).group(1))
    drawn = [[False] * n for _ in range(n)]
    for x, y, w in re.findall(r"M(\d+) (\d+)h(\d+)v1h-\3z", svg):
        for i in range(int(w)):
            drawn[int(y)][int(x) + i] = True
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=2)
    qr.add_data(payload)
    qr.make(fit=True)
    assert drawn == qr.get_matrix()  # the SVG draws exactly the code's modules


def test_gcj02_point_gives_the_same_card(client, inside):
    glon, glat = (float(v) for v in from_wgs84(*inside, Crs.gcj02))
    html = client.get("/card", params={"lon": glon, "lat": glat, "crs": "gcj02"}).text
    assert CELL in html


@pytest.mark.parametrize(
    "params,status,fragments",
    [
        ({"lon": "nan", "lat": "47.7"}, 422, ["有限数字", "finite"]),
        ({"lon": "inf", "lat": "47.7"}, 422, ["有限数字", "finite"]),
        ({"lon": "47.72", "lat": "128.9"}, 422, ["填反", "swap"]),
        ({"lon": "abc", "lat": "47.7"}, 422, ["数字", "number"]),
        ({"lat": "47.7"}, 422, ["缺少", "required"]),
        ({"lon": "128.9", "lat": "47.7", "crs": "utm"}, 422, ["坐标系", "accepted"]),
        ({"lon": "116.39", "lat": "39.91"}, 404, ["不在服务范围", "outside"]),
    ],
)
def test_bad_input_renders_a_bilingual_error_page(client, params, status, fragments):
    r = client.get("/card", params=params)
    assert r.status_code == status
    assert r.headers["content-type"].startswith("text/html")
    for fragment in fragments:
        assert fragment in r.text
    assert "<script" not in r.text and "http" not in r.text.replace(f"HTTP {status}", "")


def test_the_error_pages_usage_example_is_inside_coverage(client, session):
    """The example comes from the active release, so following it gives a card, not a 404."""
    for params in ({"lon": "116.39", "lat": "39.91"}, {"lat": "47.7"}):
        page = client.get("/card", params=params).text
        example = re.search(r'<a href="(/card\?lon=[^"]+)">', page).group(1).replace("&amp;", "&")
        card = client.get(example)
        assert card.status_code == 200 and "您的网格员" in card.text, example


def test_distance_text():
    assert distance_text(4) == "约 10 米" and distance_text(999) == "约 1.0 公里"
    assert distance_text(12_345) == "约 12.3 公里"


def test_data_is_escaped_not_run_as_a_template(cell):
    """Names are data: escaped by the card's template, never compiled as Jinja by folium."""
    card = {
        "lon": 129.0,
        "lat": 47.7,
        "cell": {
            "type": "Feature",
            "properties": {**cell, "name": "{{ 7*7 }}<b>"},
            "geometry": {"type": "Point", "coordinates": [129.0, 47.7]},
        },
        "grid_workers": [
            {"name": "{% if 1 %}x{% endif %}<script>", "work_phone": "1", "wechat_id": None}
        ],
        "service_area": None,
    }
    html = card_page(card)
    assert "{{ 7*7 }}&lt;b&gt;" in html and "{% if 1 %}x{% endif %}&lt;script&gt;" in html
    assert "{% endif %}<script>" not in html and "<b>" not in html
