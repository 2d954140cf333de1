"""Sign in (OAuth2 password flow), refresh, sign out, who am I, change my password."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request, Response
from fastapi.security import OAuth2PasswordRequestForm

from api.auth import CurrentUser, authenticated, client_addr, public
from api.deps import SessionDep
from api.responses import returns
from geo.access.principal import ROLE_LABELS, Role
from geo.accounts import login, tokens
from geo.accounts import service as accounts
from geo.accounts.schemas import MeRead, PasswordChange, RefreshRequest, TokenPairRead
from geo.core.inputs import Text
from geo.core.outputs import Message

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}  # RFC 6749 5.1


class PasswordForm(OAuth2PasswordRequestForm):
    """OAuth2's password form (RFC 6749 4.3), every field capped and checked like a body's."""

    def __init__(
        self,
        *,
        grant_type: Annotated[Text | None, Form(pattern="^password$", max_length=8)] = None,
        username: Annotated[Text, Form(max_length=100)],
        password: Annotated[Text, Form(max_length=256, json_schema_extra={"format": "password"})],
        scope: Annotated[Text, Form(max_length=200)] = "",
        client_id: Annotated[Text | None, Form(max_length=100)] = None,
        client_secret: Annotated[
            Text | None, Form(max_length=256, json_schema_extra={"format": "password"})
        ] = None,
    ) -> None:
        super().__init__(
            grant_type=grant_type,
            username=username,
            password=password,
            scope=scope,
            client_id=client_id,
            client_secret=client_secret,
        )


@router.post(
    "/token",
    summary="Sign in with name and password (OAuth2 password flow)",
    **returns(TokenPairRead),
    **public(),
)
def token(
    request: Request,
    response: Response,
    session: SessionDep,
    form: Annotated[PasswordForm, Depends()],
) -> dict[str, Any]:
    pair = login.authenticate(
        session,
        form.username,
        form.password,
        client_addr=client_addr(request),
        user_agent=request.headers.get("user-agent"),
    )
    response.headers.update(NO_STORE)
    return pair.as_dict()


@router.post(
    "/refresh",
    summary="A new token pair for a refresh token (which is then spent)",
    **returns(TokenPairRead),
    **public(),
)
def refresh(
    request: Request, response: Response, session: SessionDep, body: RefreshRequest
) -> dict[str, Any]:
    pair = tokens.refresh(session, body.refresh_token, client_addr=client_addr(request))
    response.headers.update(NO_STORE)
    return pair.as_dict()


@router.post(
    "/logout",
    summary="Revoke this access token and its login session",
    **returns(Message),
    **authenticated(),
)
def logout(session: SessionDep, me: CurrentUser) -> dict[str, str]:
    tokens.logout(session, me)
    return {"detail": "signed out"}


@router.get(
    "/me", summary="The caller's account, role and scope", **returns(MeRead), **authenticated()
)
def me(me: CurrentUser) -> dict[str, Any]:
    return {
        "name": me.name,
        "role": me.role,
        "role_label": ROLE_LABELS.get(Role(me.role), me.role),
        "scope": me.scope(),
        "via": me.via,
    }


@router.post(
    "/password",
    summary="Change my password (every session of mine ends)",
    **returns(Message),
    **authenticated(),
)
def change_password(session: SessionDep, me: CurrentUser, body: PasswordChange) -> dict[str, str]:
    accounts.change_own_password(session, me, body.current_password, body.new_password)
    return {"detail": "password changed; sign in again"}
