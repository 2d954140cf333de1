"""Self-registration (登记入口): a seasonal resident registers their own stay on the service
card's public form, as the intake's channel `self`. Session in (the intake's system session),
never commits.

What the resident gives: name, mobile number, where they stay (a GPS point, WGS84, or an address
the geocoder placed and showed them first), arrival and expected departure, and their consent to
the text of version `CONSENT_VERSION` (stored on the report). What happens: the same intake as
the six channels (checked, placed, scored by linkage, stored with the phone encrypted, hashed and
masked), but an unverified registration never links or founds an archive by itself: it waits in
the review queue of the cell's grid worker (`geo.residents.intake.routing`), who decides link /
new with the evidence, as for any review. The resident is told only that it was received (never
whether they are known). No account: at most `LIMIT` registrations an hour per client address,
counted in the database by a keyed hash of it. Every registration writes an audit row.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from pydantic import Field
from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.access.principal import PUBLIC, Channel, Principal
from geo.core import lock_waits
from geo.core.errors import Forbidden, InvalidInput, RateLimited
from geo.core.inputs import CRS_LENGTH, StrictModel
from geo.privacy import crypto, ids, masking
from geo.residents.intake import submissions
from geo.residents.intake.pipeline import Intake
from geo.residents.intake.reports import Item, Submission

CONSENT_VERSION = "2026-11-30"
CONSENT_TEXT = (
    "我同意伊春市候鸟服务平台收集并使用我填写的姓名、手机号、住址（或手机定位）和居住日期，"
    "仅用于旅居期间的社区服务、网格员联系核实和安全应急；手机号加密保存，页面只显示部分号码；"
    "信息由所在社区和网格员按权限查看，每次查看完整号码均有记录；离开后超过规定的季节数，"
    "个人信息按保留期限匿名化处理。我可以向网格员或社区申请查询、更正或删除。"
)
CONSENT_MISSING = (
    "请阅读《个人信息使用说明》并勾选“我已阅读并同意”后再提交：未经您同意，我们不保存任何信息。"
    " (consent is required: tick the consent box to register)"
)
LIMIT = 5
WINDOW = timedelta(hours=1)
MAX_STAY = timedelta(days=366)
SUBMITTED_BY = "本人登记"


class SelfRegistration(StrictModel):
    """The public form's fields (checked again here, whatever the page did)."""

    name: str = Field(min_length=1, max_length=40)
    phone: str = Field(min_length=1, max_length=30)
    address: str | None = Field(default=None, max_length=200)
    lon: float | None = None
    lat: float | None = None
    crs: str | None = Field(default=None, max_length=CRS_LENGTH)
    arrived_on: date
    expected_departure: date
    consent: bool = False
    consent_version: str | None = Field(default=None, max_length=20)


def client_key(client_addr: str | None) -> str:
    return crypto.lookup_hash(client_addr or "unknown", kind="client_addr")


def check_consent(data: SelfRegistration) -> None:
    """InvalidInput (422) unless the box was ticked on the current consent text."""
    if not data.consent:
        raise InvalidInput(CONSENT_MISSING)
    if data.consent_version != CONSENT_VERSION:
        raise InvalidInput(
            "《个人信息使用说明》已更新，请重新阅读并勾选同意后提交。"
            f" (the consent text is now version {CONSENT_VERSION}; agree to it again)"
        )


def check_fields(data: SelfRegistration, today: date) -> dict[str, Any]:
    """The report for the intake, or InvalidInput (422) with a message the resident can read."""
    try:
        phone = ids.validate_mobile(data.phone)
    except InvalidInput:
        raise InvalidInput(
            "手机号应为 11 位中国大陆手机号，如 13812345678。 (phone: an 11-digit mainland mobile)"
        ) from None
    if data.expected_departure < data.arrived_on:
        raise InvalidInput(
            "预计离开日期不能早于到达日期。 (expected_departure is before arrived_on)"
        )
    if data.expected_departure - data.arrived_on > MAX_STAY:
        raise InvalidInput("一次登记的居住时间最长一年。 (a stay registers at most a year)")
    if data.expected_departure < today:
        raise InvalidInput("预计离开日期已过，请登记当前或即将开始的旅居。 (that stay is over)")
    report: dict[str, Any] = {
        "name": data.name.strip(),
        "phone": phone,
        "arrived_on": data.arrived_on,
        "expected_departure": data.expected_departure,
    }
    if data.lon is not None and data.lat is not None:
        report.update(lon=data.lon, lat=data.lat, crs=data.crs or "wgs84")
    elif data.address and data.address.strip():
        report["address"] = data.address.strip()
    else:
        raise InvalidInput(
            "请给出住处：用手机定位，或填写地址。 (give a GPS point or the address you stay at)"
        )
    return report


def _check_rate(session: Session, key: str, at: datetime) -> None:
    """RateLimited (429, Retry-After) past LIMIT registrations in WINDOW from one address.

    Counted in the database (every API process agrees), under a transaction lock per address,
    so a burst from one address cannot slip under the limit."""
    with lock_waits.waiting("self_registration_rate"):
        session.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 15))"), {"k": key})
    n, oldest = session.execute(
        text(
            "SELECT count(*), min(received_at) FROM intake_report"
            " WHERE client_key = :k AND received_at > :since"
        ),
        {"k": key, "since": at - WINDOW},
    ).one()
    if n >= LIMIT:
        wait = max(1, int((oldest + WINDOW - at).total_seconds()) + 1)
        raise RateLimited(
            f"此网络一小时内的登记已达 {LIMIT} 次，请 {wait} 秒后再试，或请网格员代为登记。"
            f" (too many registrations from this address: {LIMIT} an hour without an account;"
            f" try again in {wait} s)",
            retry_after=wait,
        )


def register(
    session: Session, me: Principal, data: SelfRegistration, *, at: datetime, today: date
) -> dict[str, Any]:
    """Take one self-registration into the intake (in `session`, the system's). Raises
    InvalidInput (no consent, a bad field, a place outside the covered area), RateLimited."""
    if me.role != PUBLIC:  # the form is always anonymous: a cookie never speaks for it
        raise Forbidden("self-registration is the residents' own form, without an account")
    check_consent(data)
    report = check_fields(data, today)
    key = client_key(me.client_addr)
    _check_rate(session, key, at)
    sub = Submission(
        channel=Channel.self_registration,
        submitted_by_name=SUBMITTED_BY,
        source="api",
        consent_version=CONSENT_VERSION,
        client_key=key,
    )
    batch_id, outcomes = Intake(session).submit(sub, [Item(report)], received_at=at)
    (one,) = outcomes
    if one.decision == "rejected":
        raise InvalidInput(_reason_zh(one.reject_reason or ""))
    submissions.record(
        session,
        me,
        "intake.self_register",
        outcomes,
        object_type="intake_report",
        object_ids=[one.report_id],
        detail={"batch_id": batch_id, "channel": sub.channel.value, "consent": CONSENT_VERSION},
    )
    placed = one.geocode or {}
    return {
        "status": "received",
        "phone": masking.mask_phone(report["phone"]),
        "arrived_on": data.arrived_on,
        "expected_departure": data.expected_departure,
        "cell_code": placed.get("cell_code"),
        "consent_version": CONSENT_VERSION,
    }


def _reason_zh(reason: str) -> str:
    if "outside" in reason:
        return f"这个位置不在伊春市的服务网格内，请检查定位或地址。 ({reason})"
    if "address" in reason or "location" in reason:
        return f"未能按这个地址定位，请写得更具体（小区、楼号），或用手机定位。 ({reason})"
    return f"登记未被接收，请检查填写的内容。 ({reason})"
