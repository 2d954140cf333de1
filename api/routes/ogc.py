"""OGC API - Features, Part 1: Core (GeoJSON, OpenAPI 3.0 conformance classes) at ``/ogc``.

Clients: GDAL's ``OAPIF:`` driver (ogrinfo, ogr2ogr), QGIS ("WFS / OGC API - Features"),
pygeoapi-style browsers. Coordinates are WGS84 longitude, latitude (CRS84), GeoJSON RFC 7946.
Items page with ``limit``/``offset`` and ``next``/``prev`` links, ordered by feature id, so
following ``next`` from the first page reads every feature exactly once.

As the standard asks, a malformed query parameter (bbox, limit, an unknown parameter) is a 400
with an OGC exception body ``{"code", "description"}`` (plus ``detail``, as elsewhere in the API).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from api.auth import public
from api.params import bbox_query
from api.reads import ReadSessionDep
from api.responses import GEOJSON, GeoJSONResponse, returns
from api.routes.spatial import geojson_response
from api.viewer import ViewerDep, cache_control
from geo.core.errors import InvalidInput
from geo.spatial.features import items as features
from geo.spatial.features import registry
from geo.spatial.features.registry import Collection
from geo.spatial.schemas import (
    OgcCollectionDoc,
    OgcCollections,
    OgcConformance,
    OgcFeature,
    OgcItems,
    OgcLanding,
)

JSON = "application/json"
OPENAPI = "application/vnd.oai.openapi+json;version=3.0"
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
]
DEFAULT_LIMIT = 100
MAX_LIMIT = 10_000  # a larger limit is not an error: the page holds MAX_LIMIT features
_ITEMS_PARAMS = {"f", "bbox", "limit", "offset", "bbox-crs", "crs"}


class OgcRoute(APIRoute):
    """Answer malformed parameters with 400 and an OGC exception body (the API elsewhere: 422)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as exc:
                parts = [
                    f"{'.'.join(str(x) for x in e.get('loc', ())[1:])}: {e.get('msg')}"
                    for e in exc.errors()
                ]
                return _bad_request("; ".join(parts))
            except InvalidInput as exc:
                return _bad_request(exc.detail)

        return route


def _bad_request(message: str) -> JSONResponse:
    body = {"code": "InvalidParameterValue", "description": message, "detail": message}
    return JSONResponse(body, status_code=400)


router = APIRouter(prefix="/ogc", tags=["GIS: OGC API - Features"], route_class=OgcRoute)

Format = Annotated[
    str | None, Query(description="response format: json (GeoJSON for features); the only one")
]
CollectionId = Annotated[str, Path(description="collection id, e.g. cells")]


def _json_only(f: str | None, *accepted: str) -> None:
    if f is not None and f.lower() not in {"json", *accepted}:
        raise InvalidInput(f"f={f!r} is not offered; use f=json (or leave f out)")


def _link(href: str, rel: str, type_: str, title: str) -> dict[str, str]:
    return {"href": href, "rel": rel, "type": type_, "title": title}


def _url(request: Request, name: str, **params: Any) -> str:
    return str(request.url_for(name, **params))


@router.get(
    "",
    name="ogc_landing",
    summary="Landing page of the OGC API - Features service",
    **returns(OgcLanding),
    **public(),
)
def landing(request: Request, f: Format = None) -> dict[str, Any]:
    _json_only(f)
    return {
        "title": "Houniao 候鸟 OGC API - Features",
        "description": (
            "伊春市候鸟网格管理的公开边界与服务区数据：区县、街道、社区、网格、候鸟服务区。"
            " Public boundaries and service areas of Yichun's seasonal-resident grid management."
        ),
        "links": [
            _link(_url(request, "ogc_landing"), "self", JSON, "this document"),
            _link(_url(request, "openapi"), "service-desc", OPENAPI, "the API definition"),
            _link(
                _url(request, "swagger_ui_html"), "service-doc", "text/html", "API documentation"
            ),
            _link(_url(request, "ogc_conformance"), "conformance", JSON, "conformance classes"),
            _link(_url(request, "ogc_collections"), "data", JSON, "the feature collections"),
        ],
    }


@router.get(
    "/conformance",
    name="ogc_conformance",
    summary="Conformance classes implemented",
    **returns(OgcConformance),
    **public(),
)
def conformance(f: Format = None) -> dict[str, Any]:
    _json_only(f)
    return {"conformsTo": CONFORMANCE}


def _collection_doc(request: Request, session: Any, c: Collection, viewer: Any) -> dict[str, Any]:
    bbox = features.extent(session, c.id, viewer=viewer)
    doc: dict[str, Any] = {
        "id": c.id,
        "title": f"{c.title} {c.title_en}",
        "description": c.description,
        "itemType": "feature",
        "crs": [CRS84],
        "storageCrs": CRS84,
        "links": [
            _link(_url(request, "ogc_collection", collection_id=c.id), "self", JSON, c.title),
            _link(
                _url(request, "ogc_items", collection_id=c.id), "items", GEOJSON, f"{c.title} 要素"
            ),
        ],
    }
    if bbox is not None:
        doc["extent"] = {"spatial": {"bbox": [[round(v, 7) for v in bbox]], "crs": CRS84}}
    return doc


@router.get(
    "/collections",
    name="ogc_collections",
    summary="The feature collections offered",
    **returns(OgcCollections),
    **public(),
)
def list_collections(
    request: Request,
    session: ReadSessionDep,
    viewer: ViewerDep,
    response: Response,
    f: Format = None,
) -> dict[str, Any]:
    _json_only(f)
    offered = [c for c in registry.collections() if c.ogc and c.visible_to(viewer)]
    response.headers["Cache-Control"] = cache_control(all(c.public for c in offered))
    return {
        "links": [
            _link(_url(request, "ogc_collections"), "self", JSON, "the feature collections"),
        ],
        "collections": [_collection_doc(request, session, c, viewer) for c in offered],
    }


@router.get(
    "/collections/{collection_id}",
    name="ogc_collection",
    summary="One feature collection",
    **returns(OgcCollectionDoc),
    **public(),
)
def get_collection(
    request: Request,
    session: ReadSessionDep,
    viewer: ViewerDep,
    response: Response,
    collection_id: CollectionId,
    f: Format = None,
) -> dict[str, Any]:
    _json_only(f)
    collection = features.offered(collection_id, viewer)
    response.headers["Cache-Control"] = cache_control(collection.public)
    return _collection_doc(request, session, collection, viewer)


@router.get(
    "/collections/{collection_id}/items",
    name="ogc_items",
    response_class=GeoJSONResponse,
    summary="Features of a collection: bbox filter, paging by limit/offset with next links",
    **returns(OgcItems),
    **public(),
)
def get_items(
    request: Request,
    session: ReadSessionDep,
    viewer: ViewerDep,
    collection_id: CollectionId,
    bbox: Annotated[
        str | None,
        Query(
            description="minLon,minLat,maxLon,maxLat (CRS84)",
            examples=["128.86,47.7,128.95,47.76"],
        ),
    ] = None,
    limit: Annotated[
        int,
        Query(
            ge=1,
            description=f"features per page, 1-{MAX_LIMIT} (larger values give {MAX_LIMIT})",
            json_schema_extra={"maximum": MAX_LIMIT},
        ),
    ] = DEFAULT_LIMIT,
    offset: Annotated[int, Query(ge=0, description="features to skip")] = 0,
    f: Format = None,
) -> Response:
    _json_only(f, "geojson")
    collection = features.offered(collection_id, viewer)
    properties = _property_filters(request, collection)
    limit = min(limit, MAX_LIMIT)
    page = features.items(
        session,
        collection.id,
        viewer=viewer,
        bbox=bbox_query(bbox),
        properties=properties,
        limit=limit,
        offset=offset,
    )
    links = [
        _link(str(request.url), "self", GEOJSON, "this page"),
        _link(
            _url(request, "ogc_collection", collection_id=collection.id),
            "collection",
            JSON,
            collection.title,
        ),
    ]
    if offset + len(page.features) < page.matched:
        next_url = request.url.include_query_params(offset=offset + limit, limit=limit)
        links.append(_link(str(next_url), "next", GEOJSON, "next page"))
    if offset > 0:
        prev_url = request.url.include_query_params(offset=max(0, offset - limit), limit=limit)
        links.append(_link(str(prev_url), "prev", GEOJSON, "previous page"))
    body = {
        "type": "FeatureCollection",
        "features": page.features,
        "numberMatched": page.matched,
        "numberReturned": len(page.features),
        "timeStamp": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "links": links,
    }
    return _geojson(body, collection)


def _property_filters(request: Request, collection: Collection) -> dict[str, str]:
    """Equality filters on queryable properties; any other unknown parameter is a 400."""
    filters: dict[str, str] = {}
    for name, value in request.query_params.multi_items():
        if name in ("crs", "bbox-crs"):
            if value != CRS84:
                raise InvalidInput(f"{name}: only {CRS84} is offered")
        elif name in collection.queryables:
            filters[name] = value
        elif name not in _ITEMS_PARAMS:
            allowed = sorted(_ITEMS_PARAMS | set(collection.queryables))
            raise InvalidInput(f"unknown query parameter {name!r}; known: {', '.join(allowed)}")
    return filters


@router.get(
    "/collections/{collection_id}/items/{feature_id}",
    name="ogc_item",
    response_class=GeoJSONResponse,
    summary="One feature",
    **returns(OgcFeature),
    **public(),
)
def get_item(
    request: Request,
    session: ReadSessionDep,
    viewer: ViewerDep,
    collection_id: CollectionId,
    feature_id: Annotated[str, Path(description="feature id (the code of a boundary)")],
    f: Format = None,
) -> Response:
    _json_only(f, "geojson")
    collection = features.offered(collection_id, viewer)
    found = features.item(session, collection.id, feature_id, viewer=viewer)
    found["links"] = [
        _link(str(request.url), "self", GEOJSON, "this feature"),
        _link(
            _url(request, "ogc_collection", collection_id=collection.id),
            "collection",
            JSON,
            collection.title,
        ),
    ]
    return _geojson(found, collection)


def _geojson(body: dict[str, Any], collection: Collection) -> Response:
    """Features as PostGIS wrote them, sent without validating them against the response model
    (api/routes/spatial.py says why): a page holds up to 10,000 features."""
    return geojson_response(body, {"Cache-Control": cache_control(collection.public)})
