"""`houniao export gpkg OUT`: boundaries and service areas as one GeoPackage."""

from __future__ import annotations

from pathlib import Path

import typer

from api.cli.output import err, print_json
from geo.core.db import session_scope

app = typer.Typer(help="Export data for GIS tools.", no_args_is_help=True)


@app.command("gpkg")
def gpkg(
    out: Path = typer.Argument(..., help="the GeoPackage to write (replaced if it exists)"),
    layer: list[str] | None = typer.Option(
        None,
        "--layer",
        "-l",
        help="a collection to export; repeat for several (default: all boundary layers)",
    ),
    release: int | None = typer.Option(None, help="boundary release id; default: the active one"),
) -> None:
    """Write districts, streets, communities, cells and service areas (EPSG:4326, Chinese names)
    as layers of one GeoPackage; prints the rows per layer as JSON."""
    from geo.spatial.features import export  # GeoPandas: loaded for this command only

    layers = layer or list(export.BOUNDARY_LAYERS)
    with session_scope() as session:
        counts = export.write_geopackage(session, out, layers, release=release)
    err.print(f"Wrote {sum(counts.values()):,} features in {len(counts)} layers to {out}.")
    print_json(counts)
