"""What every response model stands on, so OpenAPI documents what each route sends back.

Routes declare a pydantic model per answer (`response_model`, with `response_model_exclude_unset`
so a key the service leaves out stays out, as before). The models live in their domain's
`schemas.py`, beside the request bodies; the GeoJSON envelopes in `geo/spatial/schemas.py`.
`Timestamp` and `Day` serialise exactly as FastAPI's encoder did before the models existed
(`isoformat()`: `+00:00`, never `Z`), so clients see the same text.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, PlainSerializer


def _iso(value: datetime | date) -> str:
    return value.isoformat()


Timestamp = Annotated[datetime, PlainSerializer(_iso, return_type=str, when_used="json")]
Day = Annotated[date, PlainSerializer(_iso, return_type=str, when_used="json")]


class ReadModel(BaseModel):
    """A response body: every key the route sends is declared. An undeclared key is an error
    (a 500 the tests catch), never silently dropped from the answer."""

    model_config = ConfigDict(extra="forbid")


class OpenModel(ReadModel):
    """A response body whose members are genuinely open (documents, foreign GeoJSON members):
    the declared keys are documented, any other key passes through."""

    model_config = ConfigDict(extra="allow")


class Message(ReadModel):
    """A plain acknowledgement, e.g. `{"detail": "signed out"}`."""

    detail: str
