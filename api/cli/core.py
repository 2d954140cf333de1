"""`houniao locate`, `houniao geocode`, `houniao serve`."""

from __future__ import annotations

import typer

from api.cli.output import print_json
from geo import locate as locating
from geo.crs import parse_crs
from geo.db import session_scope


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
    workers: int = typer.Option(1),
) -> None:
    """Serve the API and maps (uvicorn)."""
    import uvicorn

    typer.echo(f"Houniao API on http://{host}:{port}  (docs: http://{host}:{port}/docs)")
    uvicorn.run("api.app:app", host=host, port=port, workers=workers, log_level="info")
