"""Mapbox vector tiles of the registered collections (through the process's tile cache,
api/tile_cache.py; ETag and 304), and a TileJSON per layer."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Request, Response

from api import tile_cache
from api.auth import RequestCredentials, public
from api.reads import ReadSessionDep
from api.responses import returns
from api.viewer import ViewerDep, cache_control
from geo.spatial.features import tiles as mvt
from geo.spatial.schemas import TileJSON

router = APIRouter(prefix="/tiles", tags=["GIS: vector tiles"])

Layer = Annotated[str, Path(description="collection id, e.g. cells, communities, service_areas")]


@router.get(
    "/{layer}/{z}/{x}/{y}.mvt",
    response_class=Response,
    responses={
        200: {"content": {mvt.MEDIA_TYPE: {}}, "description": "a Mapbox vector tile"},
        204: {"description": "no feature in this tile"},
        304: {"description": "the tile is unchanged since the ETag sent in If-None-Match"},
        404: {"description": "unknown layer"},
        422: {"description": "z/x/y outside the tile pyramid"},
    },
    summary="A Mapbox vector tile (XYZ, Web Mercator) of one layer, made by PostGIS ST_AsMVT",
    **public(),  # public layers for anyone; scoped layers per caller (api/viewer.py)
)
async def get_tile(
    request: Request,
    credentials: RequestCredentials,
    layer: Layer,
    z: Annotated[int, Path(description=f"zoom, 0-{mvt.MAX_ZOOM}")],
    x: Annotated[int, Path(description="column, 0 .. 2^z - 1")],
    y: Annotated[int, Path(description="row from the top, 0 .. 2^z - 1")],
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    # async: a cached tile is answered without a thread or a session (api/tile_cache.answer)
    served = await tile_cache.answer(request, credentials, layer, z, x, y)
    headers = {"Cache-Control": cache_control(served.public)}
    if served.etag is None:
        return Response(status_code=204, headers=headers)
    headers["ETag"] = served.etag  # a digest of the bytes: the same from the cache or not
    if if_none_match and served.etag in (t.strip() for t in if_none_match.split(",")):
        return Response(status_code=304, headers=headers)
    return Response(served.data, media_type=mvt.MEDIA_TYPE, headers=headers)


@router.get(
    "/{layer}.json",
    summary="TileJSON 3.0 of one vector-tile layer",
    **returns(TileJSON),
    **public(),
)
def get_tilejson(
    request: Request, session: ReadSessionDep, viewer: ViewerDep, layer: Layer
) -> dict[str, Any]:
    template = str(request.url_for("get_tile", layer=layer, z="{z}", x="{x}", y="{y}"))
    template = template.replace("%7B", "{").replace("%7D", "}")
    return mvt.tilejson(session, layer, tiles_url=template, viewer=viewer)
