"""What every text a caller sends must satisfy, checked once for every request body.

PostgreSQL refuses the NUL character (U+0000) in `text` and `jsonb`, so a NUL that reached a
query would be a 500 and the row half-written; it is refused at the edge instead, as a 422 that
names the field. Request bodies subclass `StrictModel`, whose validator checks every string field
(and every string inside list fields) of every subclass; parameters that are not model fields
(form fields, file cells) use `Text` or `reject_nul` directly. Query strings and paths are
checked by the request-limits middleware (`api/limits.py`).

Every string and list field of a request body also declares a cap (`max_length`), so nothing of
unbounded size is stored; `tests/security/test_input_limits.py` checks the OpenAPI document
for it.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

NUL = "\x00"
NUL_MESSAGE = "must not contain a NUL character (\\u0000)"

# Caps shared by several schemas (characters / items).
TAG_LENGTH = 30
MAX_TAGS = 20
CRS_LENGTH = 20  # "wgs84", "cgcs2000", "EPSG:4490", "高德"
# The largest id PostgreSQL's `integer` holds: a larger one is a 422 here, not a database error.
MAX_ID = 2**31 - 1


def reject_nul(value: str) -> str:
    """`value` unchanged, or a validation error when it contains a NUL character.

    >>> reject_nul("王秀英")
    '王秀英'
    """
    if NUL in value:
        raise PydanticCustomError("string_nul", NUL_MESSAGE)
    return value


def nul_in(value: Any) -> str | None:
    """Where a NUL hides in a validated field value: "" for the value itself, "item N" for an
    element of a list, None when there is none. Nested models check themselves."""
    if isinstance(value, str):
        return "" if NUL in value else None
    if isinstance(value, list | tuple | set | frozenset):
        for i, item in enumerate(value):
            if nul_in(item) is not None:
                return f"item {i}"
    return None


# A string form or query parameter: the same rule as a model's string field.
Text = Annotated[str, AfterValidator(reject_nul)]
# A tag on a resident (需求/兴趣): short labels, not notes.
Tag = Annotated[str, Field(max_length=TAG_LENGTH)]


class StrictModel(BaseModel):
    """Base of request bodies: unknown fields are a 422, so nobody can slip in `status`,
    `cell_code` or `owner` that the form did not offer (no mass assignment); a NUL in any string
    field is a 422 naming the field."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        where = nul_in(value)
        if where is not None:
            raise PydanticCustomError("string_nul", f"{where} {NUL_MESSAGE}".strip())
        return value
