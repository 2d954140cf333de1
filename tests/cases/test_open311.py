"""An Open311 GeoReport v2 client written from the public specification
(http://wiki.open311.org/GeoReport_v2), pointed at /open311/v2/: it discovers the endpoint,
lists services, files a request form-encoded, and follows it until it is closed."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from geo.cases import service
from geo.cases.schemas import TransitionRequest


class GeoReportClient:
    """Only what the spec says: .json format, form-encoded POST, errors as [{code, description}]."""

    def __init__(self, http: Any, discovery_url: str) -> None:
        self.http = http
        doc = self.discovery = http.get(discovery_url).json()
        (endpoint,) = [e for e in doc["endpoints"] if "GeoReport_v2" in e["specification"]]
        assert "application/json" in endpoint["formats"]
        self.base = endpoint["url"].replace("http://testserver", "")

    def services(self) -> list[dict]:
        return self.http.get(f"{self.base}/services.json").json()

    def definition(self, code: str) -> Any:
        return self.http.get(f"{self.base}/services/{code}.json")

    def post_request(self, **fields: Any) -> Any:
        return self.http.post(f"{self.base}/requests.json", data=fields)

    def get_request(self, request_id: str) -> Any:
        return self.http.get(f"{self.base}/requests/{request_id}.json")

    def get_requests(self, **params: Any) -> Any:
        return self.http.get(f"{self.base}/requests.json", params=params)


@pytest.fixture
def client311(cases_client) -> GeoReportClient:
    return GeoReportClient(cases_client, "/open311/v2/discovery.json")


def _error(response: Any, status: int) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert isinstance(body, list) and set(body[0]) == {"code", "description"}
    assert body[0]["code"] == status
    return body[0]["description"]


def test_discovery_states_which_requests_are_public_and_in_what_detail(client311):
    from geo.cases.open311 import REQUESTS_POLICY

    policy = client311.discovery["requests_policy"]
    assert policy == REQUESTS_POLICY
    assert "requests.json?service_request_id=" in policy and "never the reporter's name" in policy


def test_services_and_definitions(client311):
    services = client311.services()
    codes = [s["service_code"] for s in services]
    assert len(codes) == 9 and "neighbour_dispute" in codes
    for s in services:
        assert {
            "service_code",
            "service_name",
            "description",
            "metadata",
            "type",
            "keywords",
            "group",
        } <= set(s)
        assert s["type"] in {"realtime", "batch", "blackbox"} and s["metadata"] is False
    assert client311.definition("medical").json()["service_code"] == "medical"
    _error(client311.definition("nope"), 404)


def test_file_and_follow_a_request_until_closed(session, client311, callers, inside):
    filed = client311.post_request(
        service_code="public_facility",
        lat=str(inside[1]),
        long=str(inside[0]),
        description="3号楼2单元楼道灯不亮",
        first_name="秀英",
        last_name="王",
        phone="13800135678",
        email="wang@example.com",
        device_id="abc",
        media_url="https://example.com/p.jpg",
    )
    assert filed.status_code in (200, 201), filed.text
    (receipt,) = filed.json()
    rid = receipt["service_request_id"]
    assert rid and "token" not in receipt

    (req,) = client311.get_request(rid).json()
    assert req["service_request_id"] == rid and req["status"] == "open"
    assert req["service_code"] == "public_facility"
    assert abs(req["lat"] - inside[1]) < 1e-6 and abs(req["long"] - inside[0]) < 1e-6
    for key in ("requested_datetime", "updated_datetime", "expected_datetime"):
        assert datetime.fromisoformat(req[key]).utcoffset() is not None
    assert "已上报" in req["status_notes"] and "phone" not in req and "13800135678" not in str(req)

    # staff work the case; the public follower sees it progress and close
    cid = session.execute(
        __import__("sqlalchemy").text("SELECT id FROM cases WHERE public_id = :p"), {"p": rid}
    ).scalar()
    d, gw = callers["dispatcher"].principal, callers["grid_worker"].principal
    for who, step in (
        (d, {"action": "accept"}),
        (d, {"action": "dispatch"}),
        (gw, {"action": "start"}),
        (gw, {"action": "give_feedback", "note": "已更换灯泡"}),
    ):
        service.transition(session, who, cid, TransitionRequest(**step))
    (req,) = client311.get_request(rid).json()
    assert req["status"] == "open" and "已反馈" in req["status_notes"]
    for step in ({"action": "confirm", "solved": True, "satisfaction": 5}, {"action": "close"}):
        service.transition(session, d, cid, TransitionRequest(**step))
    (req,) = client311.get_request(rid).json()
    assert req["status"] == "closed" and "已办结" in req["status_notes"]

    listed = client311.get_requests(service_request_id=f"{rid},HNNOTTHERE00").json()
    assert [r["service_request_id"] for r in listed] == [rid]
    assert client311.get_requests(service_request_id=rid, status="open").json() == []
    # anonymous callers cannot list other people's requests, and are told why and what they can do
    refusal = _error(client311.get_requests(), 400)
    assert "no list of them is public" in refusal and "service_request_id" in refusal
    assert "keep this service_request_id" in receipt["service_notice"]


def test_a_duplicate_follows_its_primary(session, client311, callers, inside):
    ids = [
        client311.post_request(
            service_code="environment", lat=inside[1], long=inside[0], description=f"垃圾堆积 {i}"
        ).json()[0]["service_request_id"]
        for i in range(2)
    ]
    text = __import__("sqlalchemy").text
    primary, dup = (
        session.execute(text("SELECT id FROM cases WHERE public_id = :p"), {"p": p}).scalar()
        for p in ids
    )
    d = callers["dispatcher"].principal
    service.transition(session, d, primary, TransitionRequest(action="accept"))
    service.transition(
        session,
        d,
        dup,
        TransitionRequest(action="cancel", reason="duplicate", duplicate_of=primary),
    )
    (req,) = client311.get_request(ids[1]).json()
    assert (
        req["status"] == "closed"
        and ids[0] in req["status_notes"]
        and "已受理" in req["status_notes"]
    )


def test_errors_use_the_open311_format(client311, inside):
    assert "service_code" in _error(
        client311.post_request(lat=inside[1], long=inside[0], description="x x"), 400
    )
    assert "location" in _error(client311.post_request(service_code="other", description="xx"), 400)
    _error(
        client311.post_request(
            service_code="nope", lat=inside[1], long=inside[0], description="xx"
        ),
        400,
    )
    _error(
        client311.post_request(service_code="other", lat="47.7", long="abc", description="xx"), 400
    )
    assert "outside" in _error(
        client311.post_request(service_code="other", lat=39.9, long=116.4, description="北京"), 404
    )
    _error(client311.get_request("HN0000000000"), 404)
    _error(client311.get_requests(start_date="yesterday"), 400)
    _error(
        client311.post_request(
            service_code="other",
            lat=inside[1],
            long=inside[0],
            description="xx",
            api_key="not-a-key",
        ),
        403,
    )


def test_a_channel_system_files_with_its_api_key_and_lists_its_own(session, client311, inside):
    from geo.access.principal import Principal
    from geo.accounts import service as accounts

    created = accounts.create_account(
        session, Principal.system(), name="case-scenic", role="channel", channel="scenic_area"
    )
    session.commit()
    rid = client311.post_request(
        service_code="tourism",
        lat=inside[1],
        long=inside[0],
        description="景区门票预约失败",
        api_key=created.api_key,
    ).json()[0]["service_request_id"]
    mine = client311.get_requests(api_key=created.api_key).json()
    assert [r["service_request_id"] for r in mine] == [rid]
