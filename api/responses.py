"""How a route declares its answer: `@router.get(..., **returns(Model))`.

`response_model_exclude_unset` keeps the JSON what the service built: a key the service leaves
out (an optional member) stays out instead of appearing as null.
"""

from __future__ import annotations

from typing import Any


def returns(model: Any) -> dict[str, Any]:
    return {"response_model": model, "response_model_exclude_unset": True}
