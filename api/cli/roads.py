"""`houniao import roads FILE [--crs ...] [--name ...]`: a walking network for coverage."""

from __future__ import annotations

from pathlib import Path

import typer

from api.cli.output import err, print_json, progress_bar
from geo.core.db import session_scope
from geo.spatial.crs import FILE_ACCEPTED


def import_roads(
    file: Path = typer.Argument(..., help=".osm.pbf / .osm, GeoPackage or Shapefile"),
    crs: str | None = typer.Option(
        None, help=f"overrides the file's label (a file without one needs it): {FILE_ACCEPTED}"
    ),
    layer: str | None = typer.Option(None, help="the layer of a multi-layer GeoPackage"),
    name: str | None = typer.Option(None, help="the network's name (default: the file's name)"),
    activate: bool = typer.Option(True, help="make it the network coverage walks"),
) -> None:
    """Read the walkable roads and paths of FILE, node them into a routable network (pgRouting)
    and load it, replacing a network of the same name."""
    from geo.spatial.roads import importing, network  # geopandas: for this command only

    with progress_bar() as bar:
        task = bar.add_task(f"reading {file.name}", total=4)
        roads = importing.read_roads(file, crs, layer)
        bar.update(task, advance=1, description=f"noding {len(roads.lines):,} lines")
        topology = network.build_topology(roads.lines, roads.highway, roads.name)
        bar.update(task, advance=1, description=f"writing {len(topology.edges):,} edges")

        def step(description: str, rows: int) -> None:
            bar.update(task, advance=1, description=f"{description} ({rows:,})")

        with session_scope() as session:
            network_id = network.write_network(
                session,
                name=name or file.name,
                source=str(file),
                source_crs=roads.crs_label,
                topology=topology,
                activate=activate,
                progress=step,
            )
    print_json(
        {
            "network": network_id,
            "name": name or file.name,
            "source_crs": roads.crs_label,
            "lines": len(roads.lines),
            "edges": len(topology.edges),
            "vertices": len(topology.vertices),
            "active": activate,
        }
    )
    if not activate:
        err.print("Loaded inactive; coverage walks the active network.")
