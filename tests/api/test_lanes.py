"""The slow lane (api/lanes.py): CPU-heavy requests queue for their places per worker, light ones
never wait behind them; and the lane names routes the app really has."""

from __future__ import annotations

import anyio
import httpx

from api.app import create_app
from api.lanes import HEAVY, MAP_READS, Lanes, lane_of

DENSITY = "/api/v1/residents/density"
INTAKE = "/api/v1/intake/reports"
LIGHT = ("/tiles/cells/12/3456/1450.mvt", "/card", "/api/v1/cases", "/api/v1/cases/open.geojson")


def test_every_heavy_prefix_names_routes_of_the_app_and_light_routes_stay_light():
    paths = create_app().openapi()["paths"]
    routes = [(m.upper(), path) for path, ops in paths.items() for m in ops]
    for _, method, prefix in (*HEAVY, *MAP_READS):
        assert any(m == method and p.startswith(prefix) for m, p in routes), (method, prefix)
    assert lane_of("POST", "/api/v1/intake/reports") == "intake"
    assert lane_of("GET", DENSITY) == "aggregates"
    assert lane_of("GET", "/ogc/collections/cells/items") == "ogc"
    assert not any(lane_of("GET", path) for path in LIGHT)
    assert lane_of("POST", "/api/v1/cases") is None


def test_heavy_requests_queue_for_their_place_while_light_ones_pass():
    inside: list[str] = []
    most_inside = 0
    gate = anyio.Event()

    async def work(scope, receive, send) -> None:
        nonlocal most_inside
        if lane_of(scope["method"], scope["path"]):
            inside.append(scope["path"])
            most_inside = max(most_inside, len(inside))
            await gate.wait()
            inside.remove(scope["path"])
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    async def day() -> list[int]:
        transport = httpx.ASGITransport(app=Lanes(work, places=1))
        statuses: list[int] = []
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:

            async def get(path: str) -> None:
                statuses.append((await client.get(path)).status_code)

            async def post(path: str) -> None:
                statuses.append((await client.post(path)).status_code)

            async with anyio.create_task_group() as tg:
                tg.start_soon(get, DENSITY)
                tg.start_soon(get, DENSITY)
                while not inside:
                    await anyio.sleep(0.001)
                for path in LIGHT:  # answered while both heavy requests are held
                    with anyio.fail_after(5):
                        assert (await client.get(path)).status_code == 200
                assert inside == [DENSITY]  # the second waits for the aggregates' place
                tg.start_soon(post, INTAKE)  # another lane: not behind the planner
                while len(inside) < 2:
                    await anyio.sleep(0.001)
                assert sorted(inside) == [INTAKE, DENSITY]
                gate.set()
        return statuses

    assert anyio.run(day) == [200, 200, 200]
    assert most_inside == 2  # one per lane


def test_no_lane_when_places_is_zero():
    inside = 0
    most_inside = 0

    async def work(scope, receive, send) -> None:
        nonlocal inside, most_inside
        inside += 1
        most_inside = max(most_inside, inside)
        await anyio.sleep(0.05)
        inside -= 1
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    async def day() -> None:
        transport = httpx.ASGITransport(app=Lanes(work, places=0))
        client = httpx.AsyncClient(transport=transport, base_url="http://t")
        async with client, anyio.create_task_group() as tg:
            for _ in range(3):
                tg.start_soon(client.get, DENSITY)

    anyio.run(day)
    assert most_inside == 3
