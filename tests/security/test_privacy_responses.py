"""No response for a planner or a dispatcher contains an ID number, a phone number (other than
the public work contacts on service cards) or a person's record; every route they may call is
tried, from the OpenAPI document like the matrix."""

from __future__ import annotations

import re

from sqlalchemy import text

from geo.access.principal import PUBLIC, Role
from tests.security.samples import REPORTER_PHONE
from tests.security.test_route_matrix import _headers, _request, _url, matrix, operations

__all__ = ["matrix"]  # the fixture, shared with the matrix

ID_NUMBER = re.compile(
    r"(?<![0-9])[1-9][0-9]{5}(?:19|20)[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])"
    r"[0-9]{3}[0-9Xx](?![0-9])"
)
# A number standing alone: not a digit run inside an identifier (folium's element ids are random
# hex, and one in a few hundred holds eleven digits that start like a mobile number).
MOBILE = re.compile(r"(?<![0-9A-Za-z_])1[3-9][0-9]{9}(?![0-9A-Za-z_])")


def public_numbers(session) -> set[str]:
    """Work phones of grid workers and service areas: public on the service card by design."""
    return set(
        session.scalars(
            text(
                "SELECT work_phone FROM grid_worker UNION SELECT phone FROM service_area"
                " WHERE phone IS NOT NULL"
            )
        )
    )


def test_planner_and_dispatcher_responses_hold_no_personal_numbers(session, callers, matrix):
    app, client, samples = matrix
    allowed_phones = public_numbers(session)
    watchers = [c for c in callers if c.role in (Role.planner, Role.dispatcher)]
    problems, calls = [], 0
    for method, path, op in operations(app):
        roles = set(op["x-roles"])
        if method != "GET":
            continue
        url, _ = _url(path, samples)
        kwargs = _request(op, path, samples)
        for caller in watchers:
            if PUBLIC not in roles and caller.role.value not in roles:
                continue
            response = client.get(url, headers=_headers(session, caller), **kwargs)
            calls += 1
            body = response.content.decode("utf-8", errors="replace")
            where = f"GET {path} as {caller.label}"
            if ID_NUMBER.search(body):
                problems.append(f"{where}: an ID number {ID_NUMBER.search(body).group()[:6]}...")
            phones = set(MOBILE.findall(body)) - allowed_phones
            if phones:
                problems.append(f"{where}: phone numbers {sorted(phones)[:3]}")
            if REPORTER_PHONE in body:
                problems.append(f"{where}: the phone number of a case's reporter")
            for marker in samples.markers:
                if caller.role == Role.planner and marker in body:
                    problems.append(f"{where}: {marker!r} (planners see aggregates only)")
    assert calls >= 20
    assert not problems, "\n".join(problems)
