"""CSRF tokens for pages that change things with the sign-in cookie (the dispatcher console).

The map cookie (`houniao_token`, set at /maps/login) is honoured for reads only
(`api.auth.request_credentials`). A router that lets browsers write with it installs
`csrf_guard` as a router dependency, which FastAPI runs before the route's own (role) check:
for an unsafe method sent with the cookie and without a bearer token, the request must carry
this login session's CSRF token, in the `X-CSRF-Token` header (htmx sends it from the page's
`hx-headers`) or the `csrf_token` form field (a form posted without JavaScript). Only then does
the cookie count as the caller's credentials; otherwise the answer is 403 and nothing runs.

The token is session-bound and stateless: an HMAC of the login session's id (the `sid` claim of
the access token, kept across the 15-minute renewals) under the server's secret key, so it
survives token renewal, dies with the session (sign-out), and cannot be computed from the
cookie by a page on another site (which cannot read the cookie anyway). Bearer-token callers
(API clients, scripts) are not sent credentials by a browser on their own and need no token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from fastapi import Request

from api.auth import MAP_COOKIE
from geo.access.principal import Principal
from geo.accounts import tokens
from geo.core.config import security_settings
from geo.core.errors import Forbidden, InvalidInput

CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")
VERIFIED = "csrf_verified"  # request.state flag read by api.auth.request_credentials


class CsrfRefused(Forbidden):
    """A cookie-authenticated change without this session's CSRF token."""


def token_for_session(session_id: str, key: str | None = None) -> str:
    """The CSRF token of one login session (under the signing key, or a former `key`)."""
    secret = (key or security_settings().secret_key).encode()
    mac = hmac.new(secret, b"houniao-csrf|" + session_id.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def token_for(me: Principal) -> str:
    """The CSRF token to put in the pages `me` is shown ("" for callers without a session)."""
    return token_for_session(me.session_id) if me.session_id else ""


async def _sent_token(request: Request) -> str | None:
    header = request.headers.get(CSRF_HEADER)
    if header:
        return header
    if request.headers.get("content-type", "").startswith(_FORMS):
        value = (await request.form()).get(CSRF_FIELD)  # parsed once; the route reuses it
        return value if isinstance(value, str) else None
    return None


async def csrf_guard(request: Request) -> None:
    """Router dependency: admit the sign-in cookie for a change only with the CSRF token."""
    if request.method in SAFE_METHODS or request.headers.get("authorization"):
        return
    cookie = request.cookies.get(MAP_COOKIE)
    if not cookie:
        return  # no credentials at all: the role check answers 401
    claims = tokens.decode_access_token(cookie)  # expired or forged: 401, as for a read
    sent = await _sent_token(request)
    if not sent:
        raise CsrfRefused(
            "缺少 CSRF 令牌，请求被拒绝：请刷新页面后重试。"
            f" (CSRF token missing: a change signed in by cookie must send {CSRF_HEADER}"
            f" or the {CSRF_FIELD} form field of the page; reload the page)"
        )
    sid = str(claims["sid"])
    if not any(  # a page served before a key rotation still posts with its token
        hmac.compare_digest(sent, token_for_session(sid, key)) for key in tokens.verification_keys()
    ):
        raise CsrfRefused(
            "CSRF 令牌无效，请求被拒绝：请刷新页面后重试。"
            " (CSRF token invalid: it belongs to another or an ended session; reload the page)"
        )
    setattr(request.state, VERIFIED, True)


# --- public forms (no account): a signed, dated form token ----------------------------------------
# A public form changes nothing on anyone's behalf (it never reads the sign-in cookie), so the
# login-session token above does not apply. It still carries a token the server issued with the
# page (an HMAC of the time it was issued, valid FORM_TOKEN_HOURS), and a cross-site `Origin` is
# refused: a form posted from another site, or by a script that never loaded the page, is a 403.

FORM_TOKEN_HOURS = 12


def form_token(issued: int) -> str:
    """The token of a public form issued at `issued` (Unix seconds)."""
    return _form_token_under(issued, security_settings().secret_key)


def check_public_form(request: Request, token: str | None, now: int) -> None:
    """CsrfRefused (403) for a public form posted from another site or with a stale or forged
    token; InvalidInput (422) without one."""
    origin = request.headers.get("origin")
    host = request.headers.get("host", "")
    if origin and origin != "null" and origin.split("://", 1)[-1] != host:
        raise CsrfRefused("请求来自其他网站，已拒绝。 (cross-site form post refused)")
    if not token:  # a form field missing, as any other: 422 (a wrong one is refused below)
        raise InvalidInput(
            "表单缺少令牌：请从服务卡页面打开表单后再提交。"
            " (form_token missing: open the form from the card's page)"
        )
    refused = CsrfRefused(
        "表单已失效，请刷新页面后重新填写提交。"
        f" (form token expired or not ours: reload the page; it is valid {FORM_TOKEN_HOURS} h)"
    )
    if "." not in token:
        raise refused
    issued_raw = token.split(".", 1)[0]
    if not issued_raw.isdigit():
        raise refused
    issued = int(issued_raw)
    if not 0 <= now - issued <= FORM_TOKEN_HOURS * 3600:
        raise refused
    if not any(
        hmac.compare_digest(token, _form_token_under(issued, key))
        for key in tokens.verification_keys()
    ):
        raise refused


def _form_token_under(issued: int, key: str) -> str:
    mac = hmac.new(key.encode(), b"houniao-form|" + str(issued).encode(), hashlib.sha256).digest()
    return f"{issued}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"
