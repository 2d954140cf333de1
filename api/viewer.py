"""Who is reading a GIS layer (vector tiles, OGC API features), for scoped collections.

Public collections (boundaries, service areas) ignore the viewer. Scoped ones (open cases) hand
it to their `scope` (see `geo.spatial.features.registry`): the caller's
`geo.access.principal.Principal`, which is ``Principal.anonymous()`` (role ``public``) without
credentials, so scoped collections stay hidden (404) from anonymous callers. Resolving the caller
also sets the row-level-security settings of the request's transaction
(`api.auth.optional_principal`).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from api.auth import MaybeUser
from geo.access.principal import Principal


def current_viewer(me: MaybeUser) -> Principal:
    """The caller of a GIS route (anonymous without credentials; bad credentials are a 401)."""
    return me


ViewerDep = Annotated[Principal, Depends(current_viewer)]


def viewer_of(request: Request, me: Principal) -> Principal:
    """`current_viewer` for a handler that resolves its own caller (api/tile_cache.py), with the
    same override (tests)."""
    provider = request.app.dependency_overrides.get(current_viewer)
    return provider() if provider is not None else current_viewer(me)


def cache_control(public: bool) -> str:
    """Public layers may be cached by browsers and proxies for a minute; scoped ones never."""
    return "public, max-age=60" if public else "private, no-store"
