"""Plain HTML pages around the maps (sign-in)."""

from __future__ import annotations

from html import escape
from pathlib import Path
from string import Template

_TEMPLATES = Path(__file__).with_name("templates")
_LOGIN = Template((_TEMPLATES / "login.html").read_text(encoding="utf-8"))
_WRONG = '<p style="color:#b00">用户名或密码错误 / wrong name or password</p>'


def login_page(next_path: str, failed: bool) -> str:
    return _LOGIN.substitute(next=escape(next_path), message=_WRONG if failed else "")
