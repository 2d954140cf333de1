"""Pages for people: HTML error pages on HTML routes (JSON for API clients), each role's landing
page after signing in, the home page of what a role may open, and `next=` as a local path only."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from api.pages import local_path
from geo.access.principal import Principal, Role
from geo.accounts import service as accounts
from geo.accounts import tokens
from geo.accounts.models import Account
from geo.spatial.boundaries.models import in_release
from tests.spatial.conftest import ACTIVE

OWN_CELL = "230717001001001"
OTHER_CELL = "230717002001001"
PASSWORD = "page-test-password-1"
BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
SCOPES = {
    Role.grid_worker: {"cells": [OWN_CELL]},
    Role.community_staff: {"community": OWN_CELL[:12]},
    Role.street_staff: {"street": OWN_CELL[:9]},
    Role.department: {"department": "health"},
    Role.channel: {"channel": "police"},
}
LANDING = {
    Role.dispatcher: "/maps/dispatch",
    Role.planner: "/maps/density",
    Role.grid_worker: "/m/",
    Role.community_staff: "/maps/",
    Role.street_staff: "/maps/",
    Role.admin: "/maps/",
    Role.department: "/console/inbox",
    Role.centre_staff: "/console/bookings",
    Role.channel: "/maps/",
}


@pytest.fixture
def people(session) -> dict[Role, str]:
    """One account per role (with a password), by role: its login name."""
    names = {}
    area = session.scalar(text("SELECT min(id) FROM service_area"))
    for role in Role:
        name = f"p-{role.value.replace('_', '-')}"
        scope = {"area": area} if role == Role.centre_staff else SCOPES.get(role, {})
        accounts.create_account(
            session,
            Principal.system(),
            name=name,
            role=role.value,
            password=PASSWORD,
            **scope,
        )
        names[role] = name
    session.commit()
    return names


def bearer(session, name: str) -> dict[str, str]:
    account = session.query(Account).filter_by(name=name).one()
    token = tokens.start_session(session, account).access_token
    session.commit()  # a request that fails rolls back to here, not before the session
    return {"Authorization": f"Bearer {token}"}


def sign_in(client, name: str, next_path: str | None = None):
    form = {"username": name, "password": PASSWORD}
    if next_path is not None:
        form["next"] = next_path
    return client.post("/maps/login", data=form, follow_redirects=False)


@pytest.mark.parametrize("role", list(Role))
def test_each_role_lands_on_its_own_page_and_can_open_it(client, people, role) -> None:
    r = sign_in(client, people[role])
    assert r.status_code == 303, r.text
    assert r.headers["location"] == LANDING[role]
    page = client.get(r.headers["location"], headers=BROWSER)
    assert page.status_code == 200, page.text[:500]
    assert page.headers["content-type"].startswith("text/html")


def test_a_planner_sent_from_the_dispatch_map_lands_on_the_density_map(client, people) -> None:
    r = sign_in(client, people[Role.planner], "/maps/dispatch")
    assert r.headers["location"] == "/maps/density"
    r = sign_in(client, people[Role.dispatcher], "/maps/dispatch?tier=street")
    assert r.headers["location"] == "/maps/dispatch?tier=street"  # back where they were going


@pytest.mark.parametrize(
    "attack",
    [
        "//evil.example/x",
        "/\\evil.example",
        "https://evil.example/",
        "http:/evil.example",
        "javascript:alert(1)",
        "/maps/\r\nSet-Cookie: x=1",
        "\t//evil.example",
        "evil.example",
        "/%0a/evil",
        "///evil.example",
    ],
)
def test_next_is_a_local_path_only(client, people, attack) -> None:
    r = sign_in(client, people[Role.dispatcher], attack)
    location = r.headers["location"]
    assert location.startswith("/") and not location.startswith(("//", "/\\"))
    assert "evil" not in location.split("?")[0].lstrip("/").split("/")[0]
    form = client.get("/maps/login", params={"next": attack}).text
    assert "evil.example" not in form and "javascript" not in form


def test_local_path_rule() -> None:
    assert local_path("/maps/cell/230717001001001") == "/maps/cell/230717001001001"
    for bad in ("//x", "/\\x", "https://x/", "x", "", None, "/a\nb", "/\u2028x"):
        assert local_path(bad) is None, bad


def test_a_browser_gets_a_readable_403_page_an_api_client_json(client, session, people) -> None:
    headers = bearer(session, people[Role.planner])
    page = client.get("/maps/dispatch", headers={**headers, **BROWSER})
    assert page.status_code == 403 and page.headers["content-type"].startswith("text/html")
    assert "无权打开此页面" in page.text and 'lang="zh-CN"' in page.text
    assert 'href="/maps/density"' in page.text  # the way to their own page
    api = client.get("/maps/dispatch", headers={**headers, "Accept": "application/json"})
    assert api.status_code == 403 and api.json() == {
        "detail": "role planner may not use this endpoint"
    }


def test_a_cell_outside_the_scope_is_a_404_page(client, session, people) -> None:
    headers = bearer(session, people[Role.grid_worker])
    page = client.get(f"/maps/cell/{OTHER_CELL}", headers={**headers, **BROWSER})
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    assert "不在您的管理范围内" in page.text and 'href="/m/"' in page.text  # the phone app
    api = client.get(f"/maps/cell/{OTHER_CELL}", headers=headers)
    assert api.status_code == 404 and "detail" in api.json()


def test_unknown_pages_and_bad_parameters_are_pages_too(client, session, people) -> None:
    missing = client.get("/maps/no-such-map", headers=BROWSER)
    assert missing.status_code == 404 and "页面不存在" in missing.text
    assert client.get("/maps/no-such-map").json() == {"detail": "Not Found"}
    headers = bearer(session, people[Role.planner])
    bad = client.get("/maps/density", params={"season_from": "abc"}, headers={**headers, **BROWSER})
    assert bad.status_code == 422 and "请求有误" in bad.text and "season_from" in bad.text


def test_an_anonymous_browser_is_sent_to_sign_in_and_back(client) -> None:
    r = client.get("/maps/density", headers=BROWSER, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/maps/login?next=/maps/density"
    assert client.get("/maps/density").status_code == 401  # an API client: JSON 401


def test_home_page_lists_what_the_role_may_open(client, session, people) -> None:
    codes = session.scalars(
        text(
            "SELECT code FROM grid_cell WHERE left(code, 12) = :c AND release_high IS NOT NULL"
            f" AND {in_release('grid_cell', ACTIVE)}"
        ),
        {"c": OWN_CELL[:12]},
    ).all()
    headers = bearer(session, people[Role.community_staff])
    home = client.get("/maps/", headers={**headers, **BROWSER})
    assert home.status_code == 200
    for code in codes:
        assert f'href="/maps/cell/{code}"' in home.text
    assert OTHER_CELL not in home.text and "/maps/dispatch" not in home.text
    opened = client.get(f"/maps/cell/{codes[0]}", headers={**headers, **BROWSER})
    assert opened.status_code == 200
