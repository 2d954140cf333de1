"""intake: re-mask ID and phone numbers in stored report payloads; what a channel was told

Revision ID: 0006intake
Revises: 0005clock
Create Date: 2026-11-29 19:30:00

Reports stored before this revision had their payload masked by header text only (身份证 / 手机 /
电话), so values under 公民身份号码, 证件号码, 联系方式 ... and numbers in free text (备注:
"子女电话138...") were kept raw in `payload`, `note` and `tags`. This revision masks them in
place: a value under any header the importer reads as an ID or phone number is masked whole,
and every other string is run through the free-text redactor. The rules are frozen here (this
file imports no live code); the full payload stays encrypted in `payload_enc`, so downgrade
leaves the masked copies as they are.

It also adds `intake_report.answer`: what the submitting channel is told ('rejected' only for
problems of the report itself, 'received' whatever linkage found), backfilled from the stored
rejection reasons.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0006intake"
down_revision: str | None = "0005clock"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 5000

# The importer's headers for ID and phone numbers at this revision, and its header cleaning.
ID_HEADERS = {
    "id_number",
    "身份证号",
    "身份证号码",
    "身份证",
    "证件号码",
    "公民身份号码",
    "身份证件号码",
}
PHONE_HEADERS = {"phone", "手机号", "手机号码", "联系电话", "电话", "手机", "联系方式"}
_BRACKETED = re.compile(r"[(（\[【].*?[)）\]】]")
_NOISE = re.compile(r"[\s*:：]")
# The free-text redactor at this revision (geo.privacy.masking.redact_text).
_ID_IN_TEXT = re.compile(
    r"(?<![0-9])([1-9][0-9]{5})([- ]?)[0-9]{8}([- ]?)([0-9]{3}[0-9Xx])(?![0-9])"
)
_MOBILE_IN_TEXT = re.compile(
    r"(?<![0-9])((?:\+?86[- ]?)?1[3-9][0-9])([- ]?)[0-9]{4}([- ]?)([0-9]{4})(?![0-9])"
)
# Rejections that depend on which archives exist (a channel was told 'received' for them).
LINKAGE_REJECTIONS = (
    "too little to identify a person%",
    "%: cannot place a new person",
    "rejected on review by %",
)


def _kind(key: str) -> str | None:
    text = _NOISE.sub("", _BRACKETED.sub("", unicodedata.normalize("NFKC", key))).lower()
    if text in ID_HEADERS:
        return "id_number"
    if text in PHONE_HEADERS:
        return "phone"
    return None


def _mask_id_number(value: str) -> str:
    return "*" * len(value) if len(value) < 10 else value[:6] + "*" * (len(value) - 10) + value[-4:]


def _mask_phone(value: str) -> str:
    return "*" * len(value) if len(value) < 8 else value[:3] + "*" * (len(value) - 7) + value[-4:]


def _redact(text: str) -> str:
    text = _ID_IN_TEXT.sub(lambda m: f"{m[1]}{m[2]}********{m[3]}{m[4]}", text)
    return _MOBILE_IN_TEXT.sub(lambda m: f"{m[1]}{m[2]}****{m[3]}{m[4]}", text)


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return _redact(value)
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    if isinstance(value, dict):
        return {k: _scrub(v) for k, v in value.items()}
    if isinstance(value, int) and not isinstance(value, bool):
        text = _redact(str(value))
        return value if text == str(value) else text
    return value


def _masked_payload(payload: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in payload.items():
        kind = _kind(key)  # masking is idempotent: what is masked already stays as it is
        if value is None or kind is None:
            out[key] = _scrub(value)
        elif kind == "id_number":
            out[key] = _mask_id_number(str(value))
        else:
            out[key] = _mask_phone(str(value))
    return out


def _remask(conn: sa.Connection) -> None:
    last = 0
    while True:
        rows = conn.execute(
            sa.text(
                "SELECT id, payload, note, tags FROM intake_report WHERE id > :last"
                " ORDER BY id LIMIT :n"
            ),
            {"last": last, "n": BATCH},
        ).all()
        if not rows:
            return
        changed = []
        for report_id, payload, note, tags in rows:
            new = (
                _masked_payload(payload or {}),
                _redact(note) if note else note,
                [_redact(t) for t in tags] if tags else tags,
            )
            if new != (payload or {}, note, tags):
                changed.append(
                    {
                        "id": report_id,
                        "payload": json.dumps(new[0], ensure_ascii=False),
                        "note": new[1],
                        "tags": new[2],
                    }
                )
        if changed:
            conn.execute(
                sa.text(
                    "UPDATE intake_report SET payload = CAST(:payload AS jsonb), note = :note,"
                    " tags = :tags WHERE id = :id"
                ),
                changed,
            )
        last = rows[-1][0]


def upgrade() -> None:
    # The table is under FORCE ROW LEVEL SECURITY: the owner sees its rows as the system only.
    op.execute("SELECT set_config('houniao.role', 'system', true)")
    op.add_column(
        "intake_report",
        sa.Column(
            "answer", sa.String(length=10), server_default=sa.text("'received'"), nullable=False
        ),
    )
    op.create_check_constraint(
        op.f("ck_intake_report_answer_known"), "intake_report", "answer IN ('received', 'rejected')"
    )
    linkage = " OR ".join(f"reject_reason LIKE '{p}'" for p in LINKAGE_REJECTIONS)
    op.execute(
        f"UPDATE intake_report SET answer = 'rejected' WHERE decision = 'rejected'"
        f" AND NOT ({linkage})"
    )
    _remask(op.get_bind())


def downgrade() -> None:
    op.drop_constraint(op.f("ck_intake_report_answer_known"), "intake_report", type_="check")
    op.drop_column("intake_report", "answer")
