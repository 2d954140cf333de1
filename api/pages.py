"""Pages for people in browsers: where each role lands after signing in, what its home page
lists, and readable error pages for the HTML routes (API clients keep their JSON errors).

A request gets an HTML error page when it asks for HTML (``Accept: text/html``, as a browser's
navigation does) of an HTML route (`HTML_PREFIXES`); a script on a map page fetching
/maps/refresh, or any API client, keeps ``{"detail": ...}``.
"""

from __future__ import annotations

from urllib.parse import quote, urlsplit

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session
from starlette.routing import compile_path

from api.auth import route_policies
from geo.access.principal import PUBLIC, ROLE_LABELS, Principal, Role
from geo.spatial.cellview import cells_in_scope
from maps import pages

HTML_PREFIXES = ("/maps/", "/card", "/console", "/m/")
HOME = "/maps/"
LOGIN = "/maps/login"

# (status) -> Chinese title, English title, what the person can do about it
_ERRORS = {
    401: ("请先登录", "Sign in first", "此页面需要登录。"),
    403: ("无权打开此页面", "Not allowed", "您的账号角色不能打开此页面。"),
    404: ("页面不存在", "Not found", "此页面不存在，或不在您的管理范围内。"),
    405: ("不支持此操作", "Method not allowed", "请从页面上的链接进入。"),
    422: ("请求有误", "Invalid request", "地址中的参数有误。"),
}


def wants_html(request: Request) -> bool:
    """A browser navigating to an HTML route (not a script, not an API client)."""
    path = request.url.path
    html_route = path == "/maps" or path.startswith(HTML_PREFIXES)
    return html_route and "text/html" in request.headers.get("accept", "")


def local_path(target: str | None) -> str | None:
    """`target` when it is a path on this site, else None: `next=` is never an open redirect.

    >>> [local_path(t) for t in ("/maps/density?x=1", "//evil.example", "/\\\\evil.example",
    ...                          "https://evil.example/", "javascript:alert(1)", "maps", "")]
    ['/maps/density?x=1', None, None, None, None, None, None]
    """
    if not target or not target.startswith("/") or target.startswith("//"):
        return None
    if "\\" in target or not target.isprintable():
        return None  # browsers read "\" as "/" ("/\host" is "//host"); no control characters
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else None


def may_open(app: FastAPI, path: str, me: Principal) -> bool:
    """Whether `me`'s role may GET `path` by the route's declared roles (`x-roles`); a path no
    route declares is left to answer for itself."""
    target = urlsplit(path).path
    for method, path_format, roles in route_policies(app):
        if method == "GET" and compile_path(path_format)[0].match(target):
            return roles is not None and (PUBLIC in roles or me.role in roles)
    return True


def after_sign_in(app: FastAPI, wanted: str | None, me: Principal) -> str:
    """Back to the page asked for when the role may open it, else the role's own page (a
    planner sent to sign in from the dispatch map lands on the density map, not on a 403)."""
    return wanted if wanted and may_open(app, wanted, me) else landing(me)


def landing(me: Principal) -> str:
    """The page a role opens after signing in: its own map, else the home page."""
    match me.role:
        case Role.dispatcher:
            return "/maps/dispatch"
        case Role.planner:
            return "/maps/density"
        case Role.grid_worker:
            return "/m/"  # the phone app: their cells' map and today's work
        case Role.department:
            return "/console/inbox"  # the summonses awaiting 报到 or 反馈
        case Role.centre_staff:
            return "/console/bookings"  # the day's bookings of their centre's spaces
    return HOME  # a community or street, or a role without a map of its own


def home_links(session: Session, me: Principal) -> list[tuple[str, str]]:
    """(href, label) of what `me` may open in a browser, its own pages first."""
    links: list[tuple[str, str]] = []
    match me.role:
        case Role.dispatcher:
            links.append(("/console", "指挥中心工作台：办理未办结事件 Dispatcher console"))
            links.append(("/maps/dispatch", "指挥中心地图：全市未办结诉求 Live map of open cases"))
        case Role.planner:
            links.append(("/maps/density", "候鸟密度地图（汇总数据）Seasonal density map"))
            links.append(("/maps/coverage", "服务覆盖、候选点与事件热点 Coverage and hot spots"))
        case Role.department:
            links.append(("/console/inbox", "部门待办：吹哨报到与反馈 Department inbox"))
        case Role.centre_staff:
            links.append(("/console/bookings", "服务中心：今日活动空间预约 Bookings of the day"))
        case Role.grid_worker | Role.community_staff | Role.street_staff:
            if me.role == Role.grid_worker:
                links.append(("/m/", "网格员手机端：今日工作（可离线）Phone app"))
            else:
                links.append(("/console", "事件工作台（本辖区）Case console of my area"))
            links += [
                (f"/maps/cell/{code}", f"网格地图 {name}（{code}）")
                for code, name in cells_in_scope(session, me)
            ]
    links += [
        ("/docs", "接口文档 API docs (Swagger UI)"),
        ("/redoc", "接口说明 API reference (ReDoc)"),
        ("/card", "候鸟服务卡（公开）Public service card: /card?lon=&lat=&crs="),
    ]
    return links


def home_page(session: Session, me: Principal) -> str:
    return pages.home_page(me.name, _role_label(me), home_links(session, me))


def _role_label(me: Principal) -> str:
    return ROLE_LABELS.get(Role(me.role), me.role) if me.role in set(Role) else me.role


def error_response(request: Request, status: int, detail: str) -> HTMLResponse:
    """The HTML page of an error on an HTML route, with the way on: sign in, or go home."""
    title_zh, title_en, hint = _ERRORS.get(status, ("出错了", "Error", "请稍后再试。"))
    me: Principal | None = getattr(request.state, "principal", None)
    signed_in = me is not None and me.is_authenticated
    sign_in = f"{LOGIN}?next={quote(request.url.path)}"
    links = [(sign_in, "登录 Sign in")]
    if signed_in:
        assert me is not None
        hint += f" 当前账号：{me.name}（{_role_label(me)}）。"
        links = [
            (landing(me), "回到我的页面 My page"),
            (HOME, "我可以打开的页面 What I may open"),
            (sign_in, "换个账号登录 Sign in as someone else"),
        ]
    return HTMLResponse(
        pages.error_page(status, title_zh, title_en, hint, detail, links), status_code=status
    )
