"""Read a boundary file (GeoJSON, GeoPackage, Shapefile...) into staged rows in WGS84.

The CRS comes from the file or from the caller; a file with neither is refused, never guessed.
A caller-named CRS wins over the file's label, because Chinese data is often GCJ-02 labelled as
WGS84; either is checked against the coordinates (degrees under a projected label, or metres
under a lon/lat one, are refused). A file of several layers needs the layer named. GBK
shapefiles without a .cpg are detected and re-read as GBK.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import shapely

from geo.core.errors import InvalidInput
from geo.spatial.boundaries.levels import LEVELS, Level, level_of
from geo.spatial.boundaries.releases import StagedBoundary
from geo.spatial.crs import (
    FILE_ACCEPTED,
    Crs,
    check_units,
    file_crs_label,
    parse_file_crs,
    to_wgs84,
)

CODE_COLUMNS = ("code", "编码", "网格编码", "社区编码", "街道编码", "区划代码", "adcode")
NAME_COLUMNS = ("name", "名称", "网格名称", "社区名称", "街道名称")
MAX_FEATURES = 200_000


def read_boundaries(
    path: Path,
    level_name: str,
    crs: str | None = None,
    code_col: str | None = None,
    name_col: str | None = None,
    layer: str | None = None,
) -> list[StagedBoundary]:
    """Rows of `path` (its `layer`, needed when it has several) as staged boundaries of
    `level_name`, converted to WGS84."""
    level = level_of(level_name)
    if not path.exists():
        raise InvalidInput(f"no such file: {path}")
    frame = read_frame(path, layer)
    if len(frame) > MAX_FEATURES:
        raise InvalidInput(
            f"{len(frame)} features is more than the {MAX_FEATURES} one import takes"
        )
    frame = frame_to_wgs84(frame, crs, path)
    code_col = code_col or _pick(frame, CODE_COLUMNS, "code", path)
    name_col = name_col or _pick(frame, NAME_COLUMNS, "name", path)
    return [
        _row(level, i + 1, str(code).strip(), str(name).strip(), geom)
        for i, (code, name, geom) in enumerate(
            zip(frame[code_col], frame[name_col], frame.geometry, strict=True)
        )
    ]


def read_frame(path: Path, layer: str | None) -> gpd.GeoDataFrame:
    """The file's features (its `layer`, needed when it has several), or InvalidInput."""
    try:
        layer = _layer(path, layer)
        frame = gpd.read_file(path, engine="pyogrio", layer=layer)
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as exc:
        raise InvalidInput(f"cannot read {path.name} as a GIS file: {exc}") from None
    if path.suffix.lower() == ".shp" and not path.with_suffix(".cpg").exists() and _mojibake(frame):
        frame = gpd.read_file(path, engine="pyogrio", encoding="gbk")
    return frame


def _layer(path: Path, wanted: str | None) -> str | None:
    """The layer to read: the one named, or the only one; never a guess among several."""
    names = [str(name) for name, _ in pyogrio.list_layers(path)]
    if wanted is not None:
        if wanted not in names:
            raise InvalidInput(
                f"{path.name} has no layer {wanted!r}; its layers: {', '.join(names)}"
            )
        return wanted
    if len(names) > 1:
        raise InvalidInput(
            f"{path.name} has {len(names)} layers ({', '.join(names)}); name one with --layer"
        )
    return None


def _mojibake(frame: gpd.GeoDataFrame) -> bool:
    """GBK bytes read as Latin-1 show up as characters in U+0080..U+00FF."""
    for column in frame.columns.drop(frame.geometry.name):
        for value in frame[column].head(50):
            if isinstance(value, str) and any(0x80 <= ord(ch) <= 0xFF for ch in value):
                return True
    return False


def frame_to_wgs84(frame: gpd.GeoDataFrame, crs: str | None, path: Path) -> gpd.GeoDataFrame:
    """The frame in WGS84, from the caller's `crs` or else the file's label (neither: refused)."""
    if crs is None and frame.crs is None:
        raise InvalidInput(
            f"{path.name} declares no coordinate system; name it with --crs ({FILE_ACCEPTED})"
        )
    named = parse_file_crs(crs) if crs is not None else file_crs_label(frame.crs)
    check_units(frame.total_bounds, named, path.name)
    if not isinstance(named, Crs):
        return frame.set_crs(named, allow_override=True).to_crs(4326)
    if named in (Crs.gcj02, Crs.bd09):
        frame = frame.copy()
        frame["geometry"] = shapely.transform(
            frame.geometry.values,
            lambda c: np.column_stack(to_wgs84(c[:, 0], c[:, 1], named)),
        )
    return frame.set_crs(4326, allow_override=True)


def _pick(frame: gpd.GeoDataFrame, candidates: tuple[str, ...], what: str, path: Path) -> str:
    lower = {str(c).lower(): str(c) for c in frame.columns}
    for name in candidates:
        if name.lower() in lower:
            return lower[name.lower()]
    raise InvalidInput(
        f"{path.name} has no {what} column; expected one of {', '.join(candidates)}"
        f" (or name it with --{what}-col); columns are {', '.join(map(str, frame.columns))}"
    )


def _row(
    level: Level, row_no: int, code: str, name: str, geom: shapely.Geometry | None
) -> StagedBoundary:
    if (
        level.name == "grid"
        and geom is not None
        and geom.geom_type == "MultiPolygon"
        and len(geom.geoms) == 1
    ):
        geom = geom.geoms[0]  # cells are single polygons; unwrap the common one-part multi
    parent = code[: LEVELS[level.parent].code_digits] if level.parent else None
    return StagedBoundary(level.name, code, name, geom, parent, None, row_no)
