"""GeoPackage export of registered collections: one layer per collection, EPSG:4326, UTF-8.

Writes through pyogrio (GDAL), the same library GIS tools read GeoPackages with. Names stay in
Chinese (GeoPackage text is UTF-8); each layer carries its Chinese title as the GeoPackage
identifier and the boundary release it was read from in its metadata.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import shapely
from sqlalchemy import LargeBinary, func
from sqlalchemy.orm import Session

from geo.core.errors import InvalidInput, NotFound
from geo.spatial.boundaries.releases import resolve_release
from geo.spatial.features import registry
from geo.spatial.features.registry import Viewer
from geo.spatial.features.source import source_query

# The public boundary package: the hierarchy from district down to cell, and the service areas.
BOUNDARY_LAYERS = ("districts", "streets", "communities", "cells", "service_areas")

MEDIA_TYPE = "application/geopackage+sqlite3"


def active_release(session: Session) -> int:
    """The boundary release an export reads by default (NotFound when none is active)."""
    return resolve_release(session, None)


def collection_frame(
    session: Session,
    collection_id: str,
    *,
    viewer: Viewer | None = None,
    release: int | None = None,
) -> tuple[gpd.GeoDataFrame, int | None]:
    """The rows of one collection as a GeoDataFrame in EPSG:4326 (ordered by id), and the
    boundary release they were read from (None for unversioned collections)."""
    collection = registry.get(collection_id, viewer)
    if not collection.export:
        raise NotFound(f"collection {collection_id!r} is not exported")
    query = source_query(session, collection, viewer, release)
    statement = query.select(
        *query.attributes(), func.ST_AsBinary(query.geom, type_=LargeBinary).label("wkb")
    ).order_by(query.col(collection.id_column))
    result = session.execute(statement)
    frame = pd.DataFrame(result.fetchall(), columns=list(result.keys()))
    geometry = shapely.from_wkb(frame.pop("wkb").map(bytes).to_numpy()) if len(frame) else []
    for f in collection.fields:
        if f.type == "integer":
            frame[f.name] = frame[f.name].astype("Int64")
        elif f.type == "number":
            frame[f.name] = frame[f.name].astype("Float64")
    if collection.id_type == "integer" and collection.id_column in frame:
        frame[collection.id_column] = frame[collection.id_column].astype("Int64")
    gdf = gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geometry, crs="EPSG:4326"))
    return gdf, query.release


def _check_target(path: Path) -> None:
    """Refuse, before anything is written, a path GDAL would fail on halfway or misname."""
    if path.suffix.lower() != ".gpkg":
        raise InvalidInput(f"{path.name}: a GeoPackage file name ends in .gpkg")
    if not path.parent.is_dir():
        raise InvalidInput(f"folder {path.parent} does not exist; create it first")
    if path.is_dir():
        raise InvalidInput(f"{path} is a folder; name a .gpkg file")


def write_geopackage(
    session: Session,
    path: Path | str,
    collection_ids: Sequence[str] = BOUNDARY_LAYERS,
    *,
    viewer: Viewer | None = None,
    release: int | None = None,
) -> dict[str, int]:
    """Write each collection as a layer of a new GeoPackage at `path`; returns rows per layer.

    An existing file at `path` is replaced. Raises NotFound for an unknown collection before
    anything is written.
    """
    collections = [registry.get(cid, viewer) for cid in collection_ids]
    path = Path(path)
    _check_target(path)
    path.unlink(missing_ok=True)
    written: dict[str, int] = {}
    now = datetime.now(UTC).isoformat(timespec="seconds")
    for collection in collections:
        gdf, rid = collection_frame(session, collection.id, viewer=viewer, release=release)
        metadata = {"title_en": collection.title_en, "exported_at": now, "crs": "EPSG:4326"}
        if rid is not None:
            metadata["boundary_release"] = str(rid)
        pyogrio.write_dataframe(
            gdf,
            path,
            layer=collection.id,
            driver="GPKG",
            geometry_type=collection.geometry_type,
            # GeoPackage 1.2: what QGIS and GDAL 3.x read without a version warning.
            dataset_options={"VERSION": "1.2"},
            layer_options={
                "IDENTIFIER": f"{collection.title} {collection.title_en}",
                "DESCRIPTION": collection.description,
                "FID": "fid",
            },
            layer_metadata=metadata,
        )
        written[collection.id] = len(gdf)
    return written
