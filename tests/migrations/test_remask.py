"""Revision 0006intake masks the ID and phone numbers that earlier intakes left raw in stored
payloads (headers the old redaction did not know, free text), and backfills what each channel
was told; downgrade removes the column again."""

from __future__ import annotations

import json

from sqlalchemy import create_engine, inspect, text

from geo.core import migrate
from tests.db import recreate_database, test_database_url
from tests.security.test_privacy_responses import ID_NUMBER, MOBILE

ROWS = [
    (
        "review",
        None,
        {
            "姓名": "上官秀梅",
            "公民身份号码": "440106195503126118",
            "联系方式": "135-6666-7777",
            "身份证号码（必填）": "44010619550312611X",
            "备注": "子女电话13800001234",
            "同住人数": 2,
            "紧急联系": 13912345678,
            "经度": 128.9,
        },
        "儿子 138 0000 1111",
        ["联系人13600002222", "书法"],
    ),
    (
        "rejected",
        "too little to identify a person: give a full name",
        {"name": "王先生"},
        None,
        None,
    ),
    (
        "rejected",
        "no location: cannot place a new person",
        {"证件号码": "440106195503126118"},
        None,
        None,
    ),
    (
        "rejected",
        "check digit of 440106********6118 is wrong",
        {"phone": "13712345678"},
        None,
        None,
    ),
]
INSERT = text(
    "INSERT INTO intake_report (channel, submitted_by_name, received_at, reported_at, season,"
    " payload, payload_enc, decision, reject_reason, note, tags, decided_at, decided_by)"
    " VALUES ('police', 't', now(), now(), 2026, CAST(:payload AS jsonb), 'x', :decision,"
    " :reason, :note, :tags, now(), 'intake')"
)


def test_0006intake_masks_stored_payloads_and_records_answers():
    url = test_database_url("_remask")
    recreate_database(url)
    dsn = url.render_as_string(hide_password=False)
    engine = create_engine(url)
    try:
        migrate.upgrade("0004residents", dsn)
        with engine.begin() as conn:
            conn.execute(text("SELECT set_config('houniao.role', 'system', true)"))
            for decision, reason, payload, note, tags in ROWS:
                conn.execute(
                    INSERT,
                    {
                        "payload": json.dumps(payload, ensure_ascii=False),
                        "decision": decision,
                        "reason": reason,
                        "note": note,
                        "tags": tags,
                    },
                )
        migrate.upgrade("0006intake", dsn)
        with engine.begin() as conn:
            conn.execute(text("SELECT set_config('houniao.role', 'system', true)"))
            stored = conn.execute(
                text("SELECT payload, note, tags, answer FROM intake_report ORDER BY id")
            ).all()
        first = stored[0].payload
        assert first["公民身份号码"] == "440106********6118"
        assert first["身份证号码（必填）"] == "440106********611X"
        assert first["联系方式"] == "135******7777"
        assert first["备注"] == "子女电话138****1234" and first["紧急联系"] == "139****5678"
        assert first["同住人数"] == 2 and first["经度"] == 128.9 and first["姓名"] == "上官秀梅"
        assert stored[0].note == "儿子 138 **** 1111"
        assert stored[0].tags == ["联系人136****2222", "书法"]
        assert stored[2].payload == {"证件号码": "440106********6118"}
        assert stored[3].payload == {"phone": "137****5678"}
        everything = " ".join(f"{r.payload} {r.note} {r.tags}" for r in stored)
        assert not ID_NUMBER.search(everything) and not MOBILE.search(everything)
        # Told 'rejected' only for a fault of the report itself.
        assert [r.answer for r in stored] == ["received", "received", "received", "rejected"]

        migrate.downgrade("0004residents", dsn)
        columns = {c["name"] for c in inspect(engine).get_columns("intake_report")}
        assert "answer" not in columns and "payload" in columns
    finally:
        engine.dispose()
