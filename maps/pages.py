"""Plain HTML pages around the maps: sign-in, a signed-in person's home page, error pages."""

from __future__ import annotations

from html import escape
from pathlib import Path
from string import Template
from typing import Any

from jinja2 import Environment, FileSystemLoader

_TEMPLATES = Path(__file__).with_name("templates")
_LOGIN = Template((_TEMPLATES / "login.html").read_text(encoding="utf-8"))
_WRONG = '<p style="color:#b00">用户名或密码错误 / wrong name or password</p>'
_ENV = Environment(
    loader=FileSystemLoader(_TEMPLATES), autoescape=True, trim_blocks=True, lstrip_blocks=True
)


def login_page(next_path: str, failed: bool) -> str:
    return _LOGIN.substitute(next=escape(next_path), message=_WRONG if failed else "")


def home_page(name: str, role_label: str, links: list[tuple[str, str]]) -> str:
    """What a signed-in person may open, as links (their own pages first)."""
    return _ENV.get_template("home.html").render(name=name, role=role_label, links=links)


def error_page(
    status: int,
    title_zh: str,
    title_en: str,
    hint_zh: str,
    detail: str,
    links: list[tuple[str, str]],
) -> str:
    """A readable error page in Chinese (English beside it), with links onward."""
    return _ENV.get_template("error.html").render(
        status=status,
        title_zh=title_zh,
        title_en=title_en,
        hint=hint_zh,
        detail=detail,
        links=links,
    )


def density_table_page(table: Any, threshold: int, csv_url: str) -> str:
    """The planner's density as a table (geo.planning.density_table.DensityTable): the map's
    numbers, a hidden count written "少于N", the peak month's column marked."""
    return _ENV.get_template("planner/density_table.html").render(
        table=table, threshold=threshold, peak=table.peak, csv_url=csv_url
    )
