"""Reply templates of the case panel (FixMyStreet's response templates): per workflow step and
case category, kept in data/reply_templates.json so a city edits wording without code.

A step's templates are its category's first, then those for every category ('*'); {编号} and
{地址} are filled in from the case. The file is checked when first read: unknown steps, empty or
over-long texts stop the API from starting rather than showing a broken form.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from geo.cases.workflow import ACTIONS

TEMPLATES_FILE = Path(__file__).resolve().parents[2] / "data" / "reply_templates.json"
MAX_TEMPLATE = 500  # characters; the note itself takes 2,000


@cache
def load_templates() -> dict[str, dict[str, list[str]]]:
    raw: dict[str, Any] = json.loads(TEMPLATES_FILE.read_text(encoding="utf-8"))
    raw.pop("_comment", None)
    for action, by_category in raw.items():
        if action not in ACTIONS:
            raise ValueError(f"{TEMPLATES_FILE.name}: {action!r} is not a workflow step")
        for category, texts in by_category.items():
            for t in texts:
                if not isinstance(t, str) or not t.strip() or len(t) > MAX_TEMPLATE:
                    raise ValueError(
                        f"{TEMPLATES_FILE.name}: {action}/{category}: a template must be text of"
                        f" 1-{MAX_TEMPLATE} characters"
                    )
    return raw


def templates_for(action: str, category: str, *, public_id: str, address: str | None) -> list[str]:
    """The templates offered for `action` on a case of `category`, filled in from the case."""
    by_category = load_templates().get(action, {})
    texts = [*by_category.get(category, []), *by_category.get("*", [])]
    fill = {"{编号}": public_id, "{地址}": address or "（未填写地址）"}
    out = []
    for t in texts:
        for key, value in fill.items():
            t = t.replace(key, value)
        out.append(t)
    return out
