"""A report as a channel sends it (`ReportIn`) and as the intake uses it (`Normalized`).

`normalize` checks every field and either returns the normalised report or the reasons it is
rejected; one bad report never stops a batch. Rules: an ID number must pass GB 11643 (check digit,
date of birth, province); a phone must be a mainland mobile number; a masked number (138****5678,
2301**********1234, as riders, couriers and tickets show them) is kept as its mask, partial
evidence for linkage, when it shows the parts linkage compares; coordinates must be finite and
name their coordinate system (per report, or for the whole batch); dates must be in order; a
stated sex or birth year that contradicts the ID number is kept in the raw payload, and the
ID number's value is used.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from pydantic import Field, model_validator

from geo.access.principal import ACCOUNT_CHANNELS, Channel
from geo.core import clock
from geo.core.errors import InvalidInput
from geo.core.inputs import CRS_LENGTH, MAX_TAGS, TAG_LENGTH, StrictModel, Tag
from geo.privacy import partial
from geo.privacy.masking import mask_id_number, mask_phone, redact_text
from geo.residents import sensitive
from geo.residents.intake import persons
from geo.residents.intake.origins import Origin, parse_origin
from geo.residents.models import HOUSING_LABELS, HousingType
from geo.spatial.crs import ACCEPTED, Crs, parse_crs

MAX_BATCH = 5000
CHANNELS = ", ".join(c.value for c in ACCOUNT_CHANNELS)  # `self` comes only from its form
_HOUSING_ALIASES = {
    **{label: h for h, label in HOUSING_LABELS.items()},
    **{h.value: h for h in HousingType},
    "自有": HousingType.own,
    "自购": HousingType.own,
    "自有房": HousingType.own,
    "租房": HousingType.rental,
    "出租": HousingType.rental,
    "租赁": HousingType.rental,
    "民宿": HousingType.short_let,
    "短租房": HousingType.short_let,
    "酒店": HousingType.hotel,
    "宾馆": HousingType.hotel,
    "旅馆": HousingType.hotel,
    "亲友": HousingType.relatives,
    "亲属": HousingType.relatives,
    "投亲": HousingType.relatives,
}


# How people name coordinate systems in Chinese files: the app or vendor names its datum.
class ReportIn(StrictModel):
    """One report from a channel. Every field is optional; what is given is checked."""

    external_id: str | None = Field(
        default=None, max_length=100, description="the channel's own id; a resend is a duplicate"
    )
    reported_at: datetime | None = Field(default=None, description="when observed; default now")
    name: str | None = Field(default=None, max_length=40, examples=["王秀英", "王先生"])
    sex: str | None = Field(default=None, max_length=10, description="男/女 (M/F)")
    id_number: str | None = Field(default=None, max_length=30, description="18 characters")
    phone: str | None = Field(default=None, max_length=30, description="mainland mobile")
    birth_year: int | None = None
    age: int | None = None
    origin: str | None = Field(default=None, max_length=50, description="来源地, e.g. 广东广州")
    occupation: str | None = Field(default=None, max_length=50)
    tags: list[Tag] | None = Field(
        default=None, max_length=MAX_TAGS, description="needs, interests"
    )
    address: str | None = Field(default=None, max_length=200)
    lon: float | None = None
    lat: float | None = None
    crs: str | None = Field(
        default=None, max_length=CRS_LENGTH, description=f"crs of lon/lat: {ACCEPTED}"
    )
    arrived_on: date | None = None
    expected_departure: date | None = None
    departed_on: date | None = None
    housing_type: str | None = Field(default=None, max_length=20, description="自有住房/租住/…")
    household_size: int | None = None
    note: str | None = Field(default=None, max_length=500)


class IntakeRequest(StrictModel):
    """One report (`report`) or a batch (`reports`), from one channel."""

    channel: str = Field(max_length=30, description=f"one of: {CHANNELS}")
    crs: str | None = Field(
        default=None,
        max_length=CRS_LENGTH,
        description=f"crs of coordinates without their own: {ACCEPTED}",
    )
    report: ReportIn | None = None
    reports: list[ReportIn] | None = Field(default=None, max_length=MAX_BATCH)

    @model_validator(mode="after")
    def _one_or_many(self) -> IntakeRequest:
        if (self.report is None) == (self.reports is None):
            raise ValueError("give either `report` (one) or `reports` (a batch)")
        if self.reports is not None and not self.reports:
            raise ValueError("`reports` is empty")
        return self

    def items(self) -> list[ReportIn]:
        return [self.report] if self.report is not None else list(self.reports or [])


def parse_channel(value: str) -> Channel:
    """A channel a submission (API, file import) names: one of the six; `self` reports come
    only from the residents' own form (`geo.residents.intake.selfreg`), with their consent."""
    try:
        channel = Channel(value.strip().lower())
    except ValueError:
        raise InvalidInput(f"unknown channel {value!r}; one of: {CHANNELS}") from None
    if channel not in ACCOUNT_CHANNELS:
        raise InvalidInput(
            f"channel {channel.value!r} is the residents' own registration form (/card/register),"
            f" which records their consent; submissions name one of: {CHANNELS}"
        )
    return channel


def parse_crs_name(value: str | None) -> Crs | None:
    """A crs as written in a file or request (Chinese names too); None when not given."""
    if value is None or not str(value).strip():
        return None
    return parse_crs(str(value))


@dataclass
class Normalized:
    """A report after checking: what the intake links and stores."""

    raw: dict[str, Any]  # as received
    reported_at: datetime
    season: int
    fields: dict[str, Any] = field(default_factory=dict)  # English keys
    external_id: str | None = None
    name: persons.PersonName | None = None
    sex: str | None = None
    birth_year: int | None = None
    birth_exact: bool = False
    birth_date: date | None = None
    age: int | None = None
    id_number: sensitive.Protected | None = None
    phone: sensitive.Protected | None = None
    masked_id_number: str | None = None  # given masked (2301**********1234): only the mask
    masked_phone: str | None = None  # given masked (138****5678)
    origin: Origin | None = None
    occupation: str | None = None
    tags: list[str] | None = None
    note: str | None = None
    address: str | None = None
    lon: float | None = None  # as given, in `crs`
    lat: float | None = None
    crs: Crs | None = None
    arrived_on: date | None = None
    expected_departure: date | None = None
    departed_on: date | None = None
    housing_type: str | None = None
    household_size: int | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def id_mask(self) -> str | None:
        """What the ID number shows masked, whether it was given in full or masked."""
        return self.id_number.masked if self.id_number else self.masked_id_number

    @property
    def phone_mask(self) -> str | None:
        return self.phone.masked if self.phone else self.masked_phone

    @property
    def has_point(self) -> bool:
        return self.lon is not None and self.lat is not None

    def fingerprint(self) -> str:
        """Same content, same fingerprint: finds duplicate rows in one file."""
        parts = {k: v for k, v in self.fields.items() if k not in ("external_id", "row")}
        return json.dumps(parts, sort_keys=True, ensure_ascii=False, default=str)


def _clean(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    text = str(value).strip()
    return text or None


def normalize(
    raw: dict[str, Any],
    *,
    default_crs: Crs | None,
    received_at: datetime,
    today: date,
    as_received: dict[str, Any] | None = None,
    identify: bool = True,
) -> Normalized:
    """Check and normalise one report (English keys, as `ReportIn`); problems are collected.

    `as_received` is the report as the channel sent it (a file row under its own headers), kept
    as the raw payload; default `raw` itself.
    """
    at = raw.get("reported_at") or received_at
    if isinstance(at, str):
        at = datetime.fromisoformat(at)
    at = clock.as_city(at)  # a naive time is the city's wall-clock time
    local_day = at.date()
    n = Normalized(
        raw=as_received if as_received is not None else raw,
        reported_at=at,
        season=clock.season_of(local_day),
    )
    n.fields = raw
    p = n.problems
    n.external_id = _clean(raw.get("external_id"))
    if at.astimezone(UTC) > received_at.astimezone(UTC) + timedelta(minutes=10):
        p.append("reported_at is in the future")
    _identity(n, raw, today)
    _place(n, raw, default_crs)
    _dates(n, raw, local_day)
    n.origin = parse_origin(_clean(raw.get("origin")))
    n.occupation = _clean(raw.get("occupation"))
    n.note = _clean(raw.get("note"))
    tags = raw.get("tags")
    if isinstance(tags, str):
        tags = [t for t in tags.replace("，", ",").replace("、", ",").split(",")]
    n.tags = sorted({t.strip() for t in tags if t and t.strip()}) if tags else None
    if n.tags and (len(n.tags) > MAX_TAGS or max(map(len, n.tags)) > TAG_LENGTH):
        p.append(f"at most {MAX_TAGS} tags of at most {TAG_LENGTH} characters each")
        n.tags = None
    housing = _clean(raw.get("housing_type"))
    if housing is not None:
        h = _HOUSING_ALIASES.get(housing) or _HOUSING_ALIASES.get(housing.lower())
        if h is None:
            p.append(f"住房类型 {housing!r} is not one of {'、'.join(HOUSING_LABELS.values())}")
        else:
            n.housing_type = h.value
    size = raw.get("household_size")
    if size is not None and str(size).strip():
        try:
            household = _whole(size)
        except ValueError:
            p.append(f"household_size {size!r} is not a number")
        else:
            if 1 <= household <= 20:
                n.household_size = household
            else:  # not kept, even on a rejected report: it would not fit its column
                p.append("household_size must be between 1 and 20")
    if identify and n.name is None and n.id_number is None and not p:
        p.append("no name and no ID number: nothing says who this is")
    return n


def _whole(value: Any) -> int:
    """A count or year as written ("3", "3.0", 3): ValueError for text, NaN, infinity and
    numbers past a float (a 400-digit integer)."""
    try:
        number = float(value)
    except OverflowError:
        raise ValueError(value) from None
    if not math.isfinite(number):
        raise ValueError(value)
    return int(number)


def _identity(n: Normalized, raw: dict[str, Any], today: date) -> None:
    p = n.problems
    try:
        n.name = persons.parse_name(_clean(raw.get("name")))
    except InvalidInput as e:
        p.append(e.detail)
    try:
        n.sex = persons.parse_sex(_clean(raw.get("sex")))
    except InvalidInput as e:
        p.append(e.detail)
    if n.sex is None and n.name is not None:
        n.sex = n.name.sex_hint
    id_text = persons.normalize_id_text(_clean(raw.get("id_number")))
    if partial.is_masked(id_text):  # a ticket's 2301**********1234: partial evidence
        try:
            n.masked_id_number = sensitive.masked_id_number(id_text or "")
        except InvalidInput as e:
            p.append(e.detail)
        else:
            n.sex = partial.masked_sex(n.masked_id_number or "") or n.sex
    elif id_text:
        try:
            number = sensitive.valid_id_number(id_text)
        except InvalidInput as e:
            p.append(e.detail)
        else:
            n.id_number = sensitive.protect_id_number(number, "intake_report")
            n.birth_date = persons.id_birth_date(number)
            n.birth_year, n.birth_exact = n.birth_date.year, True
            n.sex = persons.id_sex(number)
    phone = persons.normalize_phone_text(_clean(raw.get("phone")))
    if partial.is_masked(phone):  # a rider's 138****5678: partial evidence
        try:
            n.masked_phone = sensitive.masked_mobile(phone or "")
        except InvalidInput as e:
            p.append(e.detail)
    elif phone:
        try:
            n.phone = sensitive.protect_phone(sensitive.valid_mobile(phone), "intake_report")
        except InvalidInput as e:
            p.append(e.detail)
    year, age = raw.get("birth_year"), raw.get("age")
    if year is not None and str(year).strip():
        try:
            y = _whole(year)
        except ValueError:
            p.append(f"birth year {year!r} is not a number")
        else:
            if not 1900 <= y <= today.year:
                p.append(f"birth year {y} is outside 1900-{today.year}")
            elif n.birth_year is None:
                n.birth_year, n.birth_exact = y, True
    if age is not None and str(age).strip():
        try:
            a = _whole(age)
        except ValueError:
            p.append(f"age {age!r} is not a number")
        else:
            if not 0 <= a <= 120:
                p.append(f"age {a} is outside 0-120")
            else:
                n.age = a
                if n.birth_year is None:
                    n.birth_year = clock.city_date(n.reported_at).year - a


def _place(n: Normalized, raw: dict[str, Any], default_crs: Crs | None) -> None:
    p = n.problems
    n.address = _clean(raw.get("address"))
    lon, lat = raw.get("lon"), raw.get("lat")
    given = [v for v in (lon, lat) if v is not None and str(v).strip() != ""]
    if not given:
        return
    if len(given) == 1:
        p.append("give both lon (经度) and lat (纬度), or neither")
        return
    try:
        x, y = float(lon), float(lat)  # type: ignore[arg-type]
    except ValueError:
        p.append("lon and lat must be numbers")
        return
    if not (math.isfinite(x) and math.isfinite(y)):
        p.append("lon and lat must be finite numbers (got NaN or infinity)")
        return
    if not (-180 <= x <= 180 and -90 <= y <= 90):
        hint = " (did you swap lon and lat?)" if -90 <= x <= 90 else ""
        p.append(f"lon/lat ({x}, {y}) out of range{hint}")
        return
    try:
        crs = parse_crs_name(raw.get("crs")) or default_crs
    except InvalidInput as e:
        p.append(e.detail)
        return
    if crs is None:
        p.append(f"coordinates without a coordinate system: name it ({ACCEPTED})")
        return
    n.lon, n.lat, n.crs = x, y, crs


def _dates(n: Normalized, raw: dict[str, Any], day: date) -> None:
    p = n.problems
    for key in ("arrived_on", "expected_departure", "departed_on"):
        value = raw.get(key)
        if value is None or value == "":
            continue
        if isinstance(value, datetime):
            value = value.date()
        if isinstance(value, str):
            try:
                value = date.fromisoformat(value)
            except ValueError:
                p.append(f"{key} {value!r} is not a date (YYYY-MM-DD)")
                continue
        setattr(n, key, value)
    if n.arrived_on:
        n.season = clock.season_of(n.arrived_on)
        if n.arrived_on > day + timedelta(days=1):
            p.append("arrived_on is after the report was made")
    for key in ("expected_departure", "departed_on"):
        value = getattr(n, key)
        if value and n.arrived_on and value < n.arrived_on:
            p.append(f"{key} is before arrived_on")
    # A departure is something that happened: not after the (city) day of the report, on every
    # path (channel reports, imports, edits, confirmed departures); one to come is
    # expected_departure. An arrival may be announced a day ahead (the stay is "arriving").
    if n.departed_on and n.departed_on > day:
        p.append(
            f"departed_on {n.departed_on} is after the day of the report ({day}); a"
            " departure still to come is expected_departure"
        )


def redacted(raw: dict[str, Any], field_of: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The payload with ID and phone numbers masked (the full payload is stored encrypted).

    A value read as an ID or phone number is masked whole, whatever its header said
    (`field_of`: payload key -> field, e.g. 公民身份号码 -> id_number; default: the key is the
    field); every other string, list item or number is run through the free-text redactor, so
    a phone in 备注 is masked too.

    >>> redacted({"联系方式": "13812345678", "备注": "子女电话13900001234"}, {"联系方式": "phone"})
    {'联系方式': '138****5678', '备注': '子女电话139****1234'}
    """
    field_of = field_of or {}
    out: dict[str, Any] = {}
    for k, v in raw.items():
        kind = field_of.get(k, k)
        if v is None or (isinstance(v, float) and math.isnan(v)):
            out[k] = None if v is None else "NaN"
        elif kind == "id_number":
            out[k] = mask_id_number(str(v))
        elif kind == "phone":
            out[k] = mask_phone(str(v))
        else:
            out[k] = _scrubbed(v)
    return out


def _scrubbed(v: Any) -> Any:
    """A payload value with any ID or phone number inside it masked."""
    if isinstance(v, str):
        return redact_text(v)
    if isinstance(v, list | tuple):
        return [_scrubbed(x) for x in v]
    if isinstance(v, dict):
        return {k: _scrubbed(x) for k, x in v.items()}
    if isinstance(v, date | datetime):
        return v.isoformat()
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)
    if isinstance(v, int) and not isinstance(v, bool):
        text = redact_text(str(v))  # a number typed into a free-text cell
        return v if text == str(v) else text
    return v
