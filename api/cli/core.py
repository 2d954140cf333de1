"""`houniao locate`, `houniao geocode`, `houniao serve`."""

from __future__ import annotations

import typer

from api.cli.output import print_json
from geo.core.config import SettingsError, security_settings
from geo.core.db import session_scope
from geo.spatial import locate as locating
from geo.spatial.crs import parse_crs


def register(app: typer.Typer) -> None:
    app.command("locate")(locate)
    app.command("serve")(serve)


def locate(
    lon: float = typer.Argument(..., help="longitude"),
    lat: float = typer.Argument(..., help="latitude"),
    crs: str = typer.Option("wgs84", help="wgs84 | cgcs2000 | gcj02 | bd09"),
) -> None:
    """Print the grid cell, community, street, district and grid worker of a point as JSON."""
    with session_scope() as session:
        print_json(locating.locate(session, lon, lat, parse_crs(crs)).as_dict())


def serve(
    host: str = typer.Option("127.0.0.1"),
    port: int = typer.Option(8000),
    workers: int = typer.Option(
        0,
        help="worker processes; 0 (default): HOUNIAO_WORKERS, else one per CPU. The scheduler"
        " still makes each pass once (the advisory-lock leader, geo/ops/leader.py)",
    ),
) -> None:
    """Serve the API and maps (uvicorn). Refuses to start, before listening, on unsafe security
    settings (development keys without HOUNIAO_ENV=development, weak keys)."""
    import os

    import uvicorn

    workers = workers or int(os.environ.get("HOUNIAO_WORKERS") or 0) or os.cpu_count() or 1

    try:
        security_settings()
    except SettingsError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(
        f"Houniao API on http://{host}:{port}  (docs: http://{host}:{port}/docs;"
        f" {workers} worker process{'es' if workers > 1 else ''})"
    )
    uvicorn.run(
        "api.app:app",
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        # X-Forwarded-* are believed from HOUNIAO_TRUSTED_PROXIES only (api/hardening.py);
        # uvicorn's own handling would trust any local process.
        proxy_headers=False,
        # The app logs each request itself (api/request_log.py: route template, never a query
        # string), so uvicorn's access line would only repeat it.
        access_log=False,
        # A worker answers the supervisor's health ping from a thread; while it imports the
        # app (numpy, pandas, shapely: the GIL held for seconds on a busy machine) it cannot,
        # and uvicorn's 5 s default killed every worker at start (seen under the test suite).
        timeout_worker_healthcheck=60,
    )
