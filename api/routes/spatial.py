"""Spatial core routes: locate, geocode, cells, communities, districts, nearest service areas."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from api.deps import SessionDep, session_for
from api.params import (
    BboxParam,
    CrsParam,
    Lat,
    Lon,
    openapi_parameter,
    query_crs,
    query_float,
    query_int,
)
from api.responses import GEOJSON, GeoJSONResponse, returns
from geo.spatial import locate as locating
from geo.spatial.addresses import geocode as geocoding
from geo.spatial.boundaries import queries
from geo.spatial.crs import ACCEPTED, Crs
from geo.spatial.geojson import feature, feature_collection
from geo.spatial.locate_memory import LocateCache
from geo.spatial.places import service as places
from geo.spatial.schemas import (
    AddressMatchFeature,
    CellCollection,
    CellFeature,
    CommunityCollection,
    DistrictCollection,
    LocationRead,
    ServiceAreaCollection,
)

router = APIRouter(prefix="/api/v1", tags=["spatial"])
Release = Annotated[int | None, Query(description="boundary release id; default: the active one")]


def geojson_response(body: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    """Boundaries as PostGIS wrote them, serialised once (orjson, the same JSON). A route that
    returns a Response keeps its `response_model` for the OpenAPI document and skips validating
    it: on a page of polygons that costs ~100x the serialising (the tests hold the answers to
    the models instead)."""
    return Response(orjson.dumps(body), media_type=GEOJSON, headers=headers)


_LOCATE_PARAMETERS = [
    openapi_parameter(
        "lon", "number", "longitude, in the named crs", required=True, example=128.905
    ),
    openapi_parameter("lat", "number", "latitude, in the named crs", required=True, example=47.728),
    openapi_parameter("crs", "string", f"coordinate system of lon/lat: {ACCEPTED}"),
    openapi_parameter("release", "integer", "boundary release id; default: the active one"),
]


@router.get(
    "/locate",
    summary="Which grid cell is this point in, and who is its grid worker",
    **returns(LocationRead),
    openapi_extra={"parameters": _LOCATE_PARAMETERS},
)
async def locate(request: Request) -> Response:
    # The hot path: the query read by hand (api/params.py says why), the answer from memory
    # (geo/spatial/locate_memory.py) on the event loop; the database, in a worker thread, only
    # to load a release or while the cache is not live.
    lon, lat = query_float(request, "lon"), query_float(request, "lat")
    crs, release = query_crs(request), query_int(request, "release")
    cache: LocateCache = request.app.state.locate_cache
    answer = cache.lookup(lon, lat, crs, release)
    if answer is None:
        answer = await run_in_threadpool(_locate_from_db, request, cache, lon, lat, crs, release)
    # orjson: 1 us where json.dumps takes ~25 (a twentieth of a cached answer); same JSON.
    return Response(orjson.dumps(answer.as_dict()), media_type="application/json")


def _locate_from_db(
    request: Request,
    cache: LocateCache,
    lon: float,
    lat: float,
    crs: Crs,
    release: int | None,
) -> locating.Location:
    with session_for(request) as session:
        if cache.live:
            cache.load(session, release)
            answer = cache.lookup(lon, lat, crs, release)
            if answer is not None:
                return answer
        return locating.locate(session, lon, lat, crs, release)


@router.get(
    "/geocode",
    response_class=GeoJSONResponse,
    **returns(AddressMatchFeature),
    summary="Which grid cell is this address in; says how it matched (exact/fuzzy/community/none)",
    description=(
        "A GeoJSON Feature: the matched point, or geometry null when the address was not placed."
        " Match 'none' is a 200 (a valid question without an answer): the note says why and"
        " `candidates` lists the places the address might mean. An empty address, or one over"
        " 200 characters, is a 422."
    ),
)
def geocode(
    session: SessionDep,
    address: Annotated[
        str,
        Query(
            description="a Yichun address as written",
            examples=["伊美区红升街道建设社区桦林华庭3栋2单元501"],
        ),
    ],
    release: Release = None,
    min_score: Annotated[
        float, Query(ge=0, le=1, description="lowest score a fuzzy compound match may have")
    ] = geocoding.DEFAULT_MIN_SCORE,
) -> dict[str, Any]:
    match = geocoding.geocode_address(session, address, release=release, min_score=min_score)
    return match.as_feature()


@router.get(
    "/cells/{code}",
    response_class=GeoJSONResponse,
    summary="One grid cell as a GeoJSON Feature",
    **returns(CellFeature),
)
def get_cell(session: SessionDep, code: str, release: Release = None) -> Response:
    return geojson_response(feature(queries.cell(session, code, release), id_key="code"))


@router.get(
    "/cells",
    response_class=GeoJSONResponse,
    summary="Grid cells, paged, optionally in a bbox",
    **returns(CellCollection),
)
def list_cells(
    request: Request,
    session: SessionDep,
    bbox: BboxParam,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
    release: Release = None,
) -> Response:
    rows, total = queries.cells(session, bbox=bbox, limit=limit, offset=offset, release=release)
    links = []
    if offset + len(rows) < total:
        links.append(
            {
                "rel": "next",
                "type": GEOJSON,
                "href": str(request.url.include_query_params(offset=offset + limit, limit=limit)),
            }
        )
    return geojson_response(
        feature_collection(
            rows, id_key="code", numberMatched=total, numberReturned=len(rows), links=links
        )
    )


@router.get(
    "/communities",
    response_class=GeoJSONResponse,
    summary="All communities (社区)",
    **returns(CommunityCollection),
)
def list_communities(session: SessionDep, release: Release = None) -> Response:
    return geojson_response(
        feature_collection(queries.communities(session, release), id_key="code")
    )


@router.get(
    "/districts",
    response_class=GeoJSONResponse,
    summary="County-level divisions (区县)",
    **returns(DistrictCollection),
)
def list_districts(session: SessionDep, release: Release = None) -> Response:
    return geojson_response(feature_collection(queries.districts(session, release), id_key="code"))


@router.get(
    "/service-areas/nearest",
    response_class=GeoJSONResponse,
    summary="The k nearest service areas (候鸟服务区), distance in metres on the ellipsoid",
    **returns(ServiceAreaCollection),
)
def nearest_service_areas(
    session: SessionDep,
    lon: Lon,
    lat: Lat,
    crs: CrsParam,
    k: Annotated[int, Query(description="how many, 1-20")] = 1,
) -> dict[str, Any]:
    rows = places.nearest_service_areas(session, lon, lat, crs, k)
    for r in rows:
        r["geometry"] = {"type": "Point", "coordinates": [r.pop("lon"), r.pop("lat")]}
        r["distance_m"] = round(r["distance_m"], 1)
    return feature_collection(rows, id_key="id")
