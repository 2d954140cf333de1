"""Read a road file (OpenStreetMap .osm.pbf/.osm, GeoPackage, Shapefile) into walkable lines.

The coordinate system is named like every import's (geo.spatial.boundaries.importing): the
caller's `--crs` wins over the file's label, a file with neither is refused, and either is
checked against the coordinates. OSM files are WGS84 by definition (their driver says so); their
`lines` layer is read and only ways a person walks on are kept (`WALKABLE`). A GeoPackage or
shapefile with a `highway` column is filtered the same way; without one, every line is a road.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import pyogrio
import shapely

from geo.core.errors import InvalidInput
from geo.spatial.boundaries.importing import frame_to_wgs84, read_frame
from geo.spatial.crs import Crs, parse_file_crs

MAX_FEATURES = 500_000
# OSM highway values a pedestrian uses (motorways, trunk roads, construction left out).
WALKABLE = (
    "footway",
    "path",
    "pedestrian",
    "steps",
    "living_street",
    "residential",
    "service",
    "unclassified",
    "tertiary",
    "tertiary_link",
    "secondary",
    "secondary_link",
    "primary",
    "primary_link",
    "track",
    "cycleway",
    "corridor",
)
NAME_COLUMNS = ("name", "名称", "道路名称")


@dataclass(frozen=True)
class RoadLines:
    """Walkable lines in WGS84, with their highway kind and name where the file has them."""

    lines: list[shapely.Geometry]
    highway: list[str | None]
    name: list[str | None]
    crs_label: str  # the coordinate system the file was read in, as named


def is_osm(path: Path) -> bool:
    return path.name.lower().endswith((".osm.pbf", ".pbf", ".osm"))


def read_roads(path: Path, crs: str | None = None, layer: str | None = None) -> RoadLines:
    """The walkable lines of `path` in WGS84, or InvalidInput saying what is wrong."""
    if not path.exists():
        raise InvalidInput(f"no such file: {path}")
    frame = _read_osm(path) if is_osm(path) else read_frame(path, layer)
    if len(frame) > MAX_FEATURES:
        raise InvalidInput(
            f"{len(frame)} features is more than the {MAX_FEATURES} one import takes"
        )
    frame = frame[frame.geometry.notna() & ~frame.geometry.is_empty]
    kinds = frame.geometry.geom_type
    frame = frame[kinds.isin(["LineString", "MultiLineString"])]
    if frame.empty:
        raise InvalidInput(f"{path.name} has no line features (roads are lines)")
    label = _label(crs, frame)
    frame = frame_to_wgs84(frame, crs, path)
    highway = _column(frame, ("highway",))
    if highway is not None:
        frame = frame[frame[highway].isin(WALKABLE)]
        if frame.empty:
            raise InvalidInput(
                f"{path.name} has no walkable roads (highway one of {', '.join(WALKABLE)})"
            )
    name = _column(frame, NAME_COLUMNS)
    return RoadLines(
        lines=list(frame.geometry),
        highway=[_text(v) for v in frame[highway]] if highway else [None] * len(frame),
        name=[_text(v) for v in frame[name]] if name else [None] * len(frame),
        crs_label=label,
    )


def _read_osm(path: Path) -> gpd.GeoDataFrame:
    """The ways of an OSM file with a highway tag (its `lines` layer)."""
    kinds = ", ".join(f"'{k}'" for k in WALKABLE)  # constants, not input
    try:
        return gpd.read_file(
            path,
            engine="pyogrio",
            layer="lines",
            columns=["highway", "name"],
            where=f"highway IN ({kinds})",
        )
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as exc:
        raise InvalidInput(f"cannot read {path.name} as an OpenStreetMap file: {exc}") from None


def _label(crs: str | None, frame: gpd.GeoDataFrame) -> str:
    """The system the file was read in: as the caller named it, else the file's own label."""
    if crs is not None:
        named = parse_file_crs(crs)
        return named.value if isinstance(named, Crs) else f"EPSG:{named.to_epsg()}"
    if frame.crs is None:
        return "none"  # refused by frame_to_wgs84 before it is recorded
    epsg = frame.crs.to_epsg()
    return f"EPSG:{epsg} (the file's label)" if epsg else f"{frame.crs.name} (the file's label)"


def _column(frame: gpd.GeoDataFrame, names: tuple[str, ...]) -> str | None:
    lower = {str(c).lower(): str(c) for c in frame.columns if c != frame.geometry.name}
    return next((lower[n.lower()] for n in names if n.lower() in lower), None)


def _text(value: object) -> str | None:
    return None if value is None or value != value else str(value)[:200]
