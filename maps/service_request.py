"""The service card's request form (在线申请服务) and its answer page: server-rendered, no script,
phone-sized, in the card's style. Takes plain dicts, returns HTML. The markup and style are Jinja
templates in maps/templates/service_request/ (autoescaped), as the card's and the login page's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader

from geo.core.clock import as_city

_ENV = Environment(
    loader=FileSystemLoader(Path(__file__).with_name("templates") / "service_request"),
    autoescape=True,
    trim_blocks=True,
    lstrip_blocks=True,
)


def form_page(
    *,
    lon: str,
    lat: str,
    crs: str,
    categories: list[dict[str, Any]],
    chosen: str | None = None,
    error: str | None = None,
) -> str:
    return _ENV.get_template("form.html").render(
        title="在线申请服务",
        lon=lon,
        lat=lat,
        crs=crs,
        categories=categories,
        chosen=chosen,
        error=error,
    )


def done_page(request: dict[str, Any]) -> str:
    due = request["due_at"]
    return _ENV.get_template("done.html").render(
        title="申请已提交", r=request, due=f"{as_city(due):%m月%d日 %H:%M}"
    )
