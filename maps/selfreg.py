"""Pages of the self-registration form (登记入口, `/card/register`): the form, the geocoder's
answer shown before saving, and the receipt. Server-rendered in the service card's style, phone
first; the one script is an own static file (`selfreg.js`: the phone's GPS point, WGS84), so the
pages keep the plain `script-src 'self'` policy. Takes plain values, returns HTML."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader

from maps.mobile import MATCH_LABELS, cn_day

_ENV = Environment(
    loader=FileSystemLoader(Path(__file__).with_name("templates") / "selfreg"),
    autoescape=True,
    trim_blocks=True,
    lstrip_blocks=True,
)
_ENV.filters["cn_day"] = cn_day
_ENV.globals["MATCH_LABELS"] = MATCH_LABELS


def form_page(
    *,
    values: dict[str, Any],
    token: str,
    consent_text: str,
    consent_version: str,
    today: date,
    error: str | None = None,
) -> str:
    return _ENV.get_template("form.html").render(
        title="旅居登记",
        v=values,
        token=token,
        consent_text=consent_text,
        consent_version=consent_version,
        today=today.isoformat(),
        error=error,
    )


def check_page(*, values: dict[str, Any], token: str, match: Any, consent: Any) -> str:
    return _ENV.get_template("check.html").render(
        title="确认住址", v=values, token=token, m=match, c=consent
    )


def done_page(done: dict[str, Any], values: dict[str, Any]) -> str:
    return _ENV.get_template("done.html").render(title="登记已提交", d=done, v=values)
