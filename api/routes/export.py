"""Downloads for GIS tools: the public boundaries and service areas as one GeoPackage."""

from __future__ import annotations

import os
import tempfile

from fastapi import APIRouter
from fastapi.responses import FileResponse
from starlette.background import BackgroundTask

from api.auth import public
from api.deps import SessionDep
from geo.spatial.features import export

router = APIRouter(prefix="/api/v1/export", tags=["GIS: export"])


@router.get(
    "/boundaries.gpkg",
    response_class=FileResponse,
    responses={200: {"content": {export.MEDIA_TYPE: {}}, "description": "a GeoPackage"}},
    summary="Districts, streets, communities, grid cells and service areas as one GeoPackage",
    description=(
        "One layer per level (districts, streets, communities, cells) plus service_areas, in "
        "EPSG:4326, names in Chinese, read from the active boundary release (its id is in each "
        "layer's metadata and the file name)."
    ),
    **public(),
)
def boundaries_gpkg(session: SessionDep) -> FileResponse:
    handle, path = tempfile.mkstemp(prefix="houniao-", suffix=".gpkg")
    os.close(handle)
    try:
        export.write_geopackage(session, path, export.BOUNDARY_LAYERS)
        release = export.active_release(session)
    except BaseException:
        os.unlink(path)
        raise
    return FileResponse(
        path,
        media_type=export.MEDIA_TYPE,
        filename=f"houniao-boundaries-r{release}.gpkg",
        background=BackgroundTask(os.unlink, path),
    )
