"""`houniao geocode IN OUT`: points (or addresses) of a CSV or GeoPackage to grid cells.

The options live here and the work in `api/cli/geocode_file.py`, which loads pandas, GeoPandas
and the cell index: only when this command runs, not with every `houniao` command."""

from __future__ import annotations

from pathlib import Path

import typer

from geo.spatial.crs import ACCEPTED


def register(app: typer.Typer) -> None:
    app.command("geocode")(geocode)


def geocode(
    input: Path = typer.Argument(..., help="CSV or GeoPackage (.gpkg) to read"),
    output: Path = typer.Argument(..., help="CSV or GeoPackage to write, chosen by the suffix"),
    lon_col: str = typer.Option("lon", help="longitude column (GeoPackage: else point geometry)"),
    lat_col: str = typer.Option("lat", help="latitude column"),
    address_col: str | None = typer.Option(
        None, help="address column, geocoded for rows whose coordinates give no cell"
    ),
    crs: str = typer.Option("wgs84", help=f"the coordinates' system: {ACCEPTED}"),
    release: int | None = typer.Option(None, help="boundary release id; default the active one"),
    encoding: str = typer.Option(
        "utf-8-sig", help="CSV text encoding, e.g. gb18030 for files saved by Chinese Excel"
    ),
    chunk_size: int = typer.Option(100_000, min=1, help="rows per chunk"),
) -> None:
    """Add cell, community, street and district (codes and names) to every row of a file, and a
    `reason` where a row gets no cell (outside the covered area, swapped lon/lat, no or bad
    coordinates, an address that is ambiguous or unknown). With --address-col also `match`
    (coordinates, exact, fuzzy, community, none) and `match_score`."""
    from api.cli import geocode_file

    geocode_file.run(
        input, output, lon_col, lat_col, address_col, crs, release, encoding, chunk_size
    )
