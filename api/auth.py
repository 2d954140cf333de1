"""Authentication dependencies and the declared access policy of every route.

    @router.get("/residents/{id}", **access(Role.grid_worker, Role.community_staff,
                                            Role.street_staff, scope="cell"))
    def get_resident(id: int, session: SessionDep, me: CurrentUser) -> dict: ...

    @router.get("/card", **public())                 # anyone, no credentials needed
    def card(...): ...

    @router.post("/cases", **public())               # anyone; behaves per caller
    def create_case(..., me: MaybeUser): ...          # Principal.anonymous() when no credentials

`access(...)` both enforces the roles (a dependency: 401 without credentials, 403 for another
role) and declares them in the OpenAPI document (`x-roles`, `x-scope`), from which
tests/security/test_route_matrix.py calls every route as every role. A route with no declared
policy fails that test. Credentials: `Authorization: Bearer <access token>` (POST
/api/v1/auth/token) or, for channel accounts, `X-API-Key`. Resolving them also sets the
`houniao.*` session settings that row-level security reads (`geo.access.principal.apply_rls`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import Cookie, Depends, FastAPI, Request, Security
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.security import APIKeyHeader, OAuth2PasswordBearer
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from api.deps import SessionDep, session_for
from geo.access.principal import ALL_ROLES, PUBLIC, Principal, Role, apply_rls
from geo.accounts import apikeys, tokens
from geo.audit import service as audit
from geo.core.errors import AccessDenied, Unauthorized
from geo.core.inputs import StrictModel

__all__ = [
    "Credentials",
    "CurrentUser",
    "MaybeUser",
    "RequestCredentials",
    "StrictModel",
    "access",
    "public",
    "require_roles",
    "declare_public_routes",
    "route_policies",
]

TOKEN_URL = "/api/v1/auth/token"
MAP_COOKIE = "houniao_token"  # access token of a browser signed in at /maps/login
NOT_AUTHENTICATED = "not authenticated: send a bearer token (or X-API-Key for channels)"
oauth2_scheme = OAuth2PasswordBearer(tokenUrl=TOKEN_URL, auto_error=False)
api_key_scheme = APIKeyHeader(
    name="X-API-Key", auto_error=False, description="channel accounts (六联同治 reporting systems)"
)


def client_addr(request: Request) -> str | None:
    return request.client.host if request.client else None


@dataclass(frozen=True)
class Credentials:
    """What a request authenticates with, kept so that a long-lived response (an event stream)
    can check it again: a logout, a disabled account, a revoked key or an expired token ends it.
    """

    bearer: str | None = None
    api_key: str | None = None
    client_addr: str | None = None

    def principal(self, session: Session, *, with_rls: bool = False) -> Principal:
        """The caller now (Unauthorized when these credentials no longer hold); `with_rls`:
        and this transaction's row-level-security settings set to the caller's (for a token,
        by the statement that checks it)."""
        if self.bearer:
            return tokens.principal_from_access_token(
                session, self.bearer, client_addr=self.client_addr, with_rls=with_rls
            )
        if self.api_key:
            me = apikeys.principal_from_api_key(session, self.api_key, client_addr=self.client_addr)
        else:
            me = Principal.anonymous(self.client_addr)
        if with_rls:
            apply_rls(session, me)
        return me

    def for_public_answer(self) -> Credentials:
        """For an answer that is the same for everyone (a public layer's tile): a bearer token's
        signature and expiry checked here (Unauthorized otherwise, as ever: bad credentials are
        never silently anonymous), nothing looked up, and anonymous credentials back. A revoked
        but unexpired token then gets what anyone gets, and nothing more. An API key cannot be
        checked without the database: it is kept, for `principal` to check."""
        if self.api_key:
            return self
        if self.bearer:
            tokens.decode_access_token(self.bearer)
        return Credentials(client_addr=self.client_addr)

    def expires_at(self) -> datetime | None:
        """When a bearer token runs out (API keys have no built-in end)."""
        return tokens.access_token_expiry(self.bearer) if self.bearer else None


async def request_credentials(
    request: Request,
    bearer: Annotated[str | None, Depends(oauth2_scheme)] = None,
    api_key: Annotated[str | None, Security(api_key_scheme)] = None,
    cookie: Annotated[str | None, Cookie(alias=MAP_COOKIE, include_in_schema=False)] = None,
) -> Credentials:
    """Browsers showing the maps send the access token as a cookie (set by /maps/login); it is
    honoured for reads only (GET/HEAD), so a forged cross-site form cannot change anything,
    and for a change only where `api.csrf.csrf_guard` checked the page's CSRF token first."""
    writable = getattr(request.state, "csrf_verified", False)  # set by api.csrf.csrf_guard
    if not bearer and cookie and (request.method in ("GET", "HEAD") or writable):
        bearer = cookie
    if bearer and api_key:
        raise Unauthorized("send either a bearer token or an API key, not both")
    return Credentials(bearer, api_key, client_addr(request))


RequestCredentials = Annotated[Credentials, Depends(request_credentials)]


def resolve_caller(
    request: Request, session: Session, credentials: Credentials, *, with_rls: bool = True
) -> Principal:
    """`optional_principal` for a handler that opens its own session (`api.deps.session_for`);
    `with_rls=False`: the caller only (a lookup that reads no scoped row)."""
    me = credentials.principal(session, with_rls=with_rls)
    request.state.account_id = me.account_id  # for the request log line (api/request_log.py)
    request.state.principal = me  # for error pages that link the caller's own page (api/pages)
    return me


def optional_principal(
    request: Request, session: SessionDep, credentials: RequestCredentials
) -> Principal:
    """The caller: from a bearer token, an API key, or anonymous. Bad credentials are a 401
    (never silently anonymous). Sets the row-level-security settings for this transaction."""
    return resolve_caller(request, session, credentials)


async def current_principal(me: Annotated[Principal, Depends(optional_principal)]) -> Principal:
    if not me.is_authenticated:
        raise Unauthorized(NOT_AUTHENTICATED)
    return me


CurrentUser = Annotated[Principal, Depends(current_principal)]
MaybeUser = Annotated[Principal, Depends(optional_principal)]


def require_roles(*roles: str) -> Callable[..., Awaitable[Principal]]:
    """A dependency admitting only these roles (all account roles when none are given).

    Dependencies that do no I/O are `async def`, so FastAPI runs them on the event loop: each
    sync one is a hop to a worker thread and back (audit.record only queues the event)."""
    allowed = allowed_roles(*roles)

    async def dependency(session: SessionDep, me: CurrentUser, request: Request) -> Principal:
        return check_role(request, session, me, allowed)

    dependency.allowed_roles = allowed  # type: ignore[attr-defined]
    return dependency


def allowed_roles(*roles: str) -> frozenset[str]:
    return frozenset(str(r) for r in (roles or ALL_ROLES))


def check_role(
    request: Request, session: Session, me: Principal, allowed: frozenset[str]
) -> Principal:
    """Unauthorized for an anonymous caller; AccessDenied, audited, for a role not `allowed`."""
    if not me.is_authenticated:
        raise Unauthorized(NOT_AUTHENTICATED)
    if me.role not in allowed:
        audit.record(
            session,
            me,
            "access.denied",
            outcome="denied",
            detail={"route": f"{request.method} {request.url.path}", "allowed": sorted(allowed)},
        )
        raise AccessDenied(f"role {me.role} may not use this endpoint")
    return me


def access(*roles: str, scope: str | None = None) -> dict[str, Any]:
    """Decorator keywords: enforce `roles` and declare them (and the scope kind) in OpenAPI.

    `scope` names what limits the rows a role sees ("cell", "own", ...): the route matrix then
    expects 404 for the same object seen from another scope.
    """
    return {
        "dependencies": [Depends(require_roles(*roles))],
        **declared_access(*roles, scope=scope),
    }


def access_in_handler(*roles: str, scope: str | None = None) -> dict[str, Any]:
    """`access` for a handler that checks the caller in its own thread (api/unit_of_work.py
    `in_one_thread(..., roles=)`): declared alike, and refused alike before the body is read
    (`refuse_early`), so a caller without access learns nothing from a 422."""
    early = Depends(refuse_early(allowed_roles(*roles)))
    return {"dependencies": [early], **declared_access(*roles, scope=scope)}


def refuse_early(allowed: frozenset[str]) -> Callable[..., Awaitable[None]]:
    """A dependency on the event loop: 401 without credentials, and for a token whose signed
    role is not `allowed` the full refusal (`check_role`: revoked 401, else an audited 403) in a
    worker thread. A token of an allowed role passes without a round trip: its handler checks
    it against the database."""

    async def dependency(request: Request, credentials: RequestCredentials) -> None:
        if not credentials.bearer and not credentials.api_key:
            raise Unauthorized(NOT_AUTHENTICATED)
        if (
            credentials.bearer
            and tokens.decode_access_token(credentials.bearer).get("role") in allowed
        ):
            return
        await run_in_threadpool(_refuse, request, credentials, allowed)

    return dependency


def _refuse(request: Request, credentials: Credentials, allowed: frozenset[str]) -> None:
    with session_for(request) as session:  # an audited refusal commits (keep_writes)
        check_role(request, session, resolve_caller(request, session, credentials), allowed)


def declared_access(*roles: str, scope: str | None = None) -> dict[str, Any]:
    """`access` declared in OpenAPI only."""
    names = sorted(allowed_roles(*roles))
    for name in names:
        Role(name)
    extra: dict[str, Any] = {"x-roles": names}
    if scope:
        extra["x-scope"] = scope
    return {"openapi_extra": extra}


def authenticated() -> dict[str, Any]:
    """Any signed-in account, whatever its role."""
    return access(*ALL_ROLES)


def public() -> dict[str, Any]:
    """Anyone, with or without credentials."""
    return {"openapi_extra": {"x-roles": [PUBLIC]}}


# Routes of the spatial core, public by design (boundaries and service areas are public
# information; a grid worker's work phone and WeChat id are on the public service card).
PUBLIC_PATHS = frozenset(
    {
        "/healthz",
        "/api/v1/locate",
        "/api/v1/geocode",
        "/api/v1/cells",
        "/api/v1/cells/{code}",
        "/api/v1/communities",
        "/api/v1/districts",
        "/api/v1/service-areas/nearest",
    }
)


def declare_public_routes(app: FastAPI, paths: Iterable[str] = PUBLIC_PATHS) -> None:
    """Declare `x-roles: [public]` in the OpenAPI document for the listed paths' operations that
    declare nothing themselves (routes written before policies were declared per route)."""
    wanted = frozenset(paths)
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = build()
        for path, operations in schema.get("paths", {}).items():
            if path in wanted:
                for operation in operations.values():
                    operation.setdefault("x-roles", [PUBLIC])
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
    app.state.public_paths = wanted


def route_policies(app: FastAPI) -> list[tuple[str, str, list[str] | None]]:
    """(method, path, declared roles or None) of every API route, in the schema or hidden."""
    public_paths: frozenset[str] = getattr(app.state, "public_paths", frozenset())
    out: list[tuple[str, str, list[str] | None]] = []
    for ctx in iter_route_contexts(app.routes):
        if not isinstance(ctx.original_route, APIRoute):
            continue
        roles = (ctx.openapi_extra or {}).get("x-roles")
        if roles is None and ctx.path_format in public_paths:
            roles = [PUBLIC]
        for method in sorted(ctx.methods or ()):
            out.append((method, str(ctx.path_format), None if roles is None else list(roles)))
    return out
