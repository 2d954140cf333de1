"""ID numbers (GB 11643), mobile numbers, masking, redaction, suppression: unit tests, and the
422 a bad value gets through the API."""

from __future__ import annotations

from datetime import date

import pytest

from geo.core.errors import InvalidInput
from geo.privacy import ids, masking

VALID = "11010519491231002X"  # the standard's own example
VALID_DIGIT = "230702199001011233"


def test_valid_numbers_and_normalisation():
    assert ids.validate_id_number(VALID.lower()) == VALID
    assert ids.validate_id_number("110105 19491231 002X") == VALID
    assert ids.check_digit(VALID_DIGIT[:17]) == VALID_DIGIT[17]
    assert ids.validate_id_number(VALID_DIGIT) == VALID_DIGIT
    assert ids.sex(VALID) == "F" and ids.birth_date(VALID) == date(1949, 12, 31)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("11010519491231002", "18 characters, got 17"),
        ("1101051949123100211", "18 characters, got 19"),
        ("11010519491231002Y", "17 digits followed by a digit or X"),
        ("X10105194912310021", "17 digits followed by a digit or X"),
        ("110105194912310021", "should be X"),  # wrong check digit
        ("230702199001011234", "should be 3"),
        ("990105194912310021", "no province code"),
        ("110105194902300021", "no valid date of birth"),
        ("110105189912310021", "outside 1900 to today"),
    ],
)
def test_invalid_id_numbers_say_why_without_echoing_the_number(value, message):
    with pytest.raises(InvalidInput) as exc:
        ids.validate_id_number(value)
    assert message in exc.value.detail
    assert value not in exc.value.detail


def test_future_birth_date_is_refused():
    with pytest.raises(InvalidInput):
        ids.validate_id_number("110105203001010010", today=date(2026, 11, 26))


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("13812345678", "13812345678"),
        ("+86 138-1234-5678", "13812345678"),
        ("008613812345678", "13812345678"),
        ("8619912345678", "19912345678"),
    ],
)
def test_mobile_numbers(raw, expected):
    assert ids.validate_mobile(raw) == expected


@pytest.mark.parametrize(
    "raw", ["12812345678", "1381234567", "138123456789", "0451-8888888", "1381234567a", ""]
)
def test_bad_mobile_numbers(raw):
    with pytest.raises(InvalidInput, match="mobile number"):
        ids.validate_mobile(raw)


def test_masks():
    assert masking.mask_id_number("230702199001011234") == "230702********1234"
    assert masking.mask_phone("13856785678") == "138****5678"
    assert masking.mask_name("王秀英") == "王**" and masking.mask_name("李") == "李*"
    assert masking.mask_phone(None) is None and masking.mask_id_number("") == ""


def test_redact_text_masks_numbers_in_free_text():
    text = f"老人 {VALID} 电话13812345678, 订单号 1234567890123456789012"
    out = masking.redact_text(text)
    assert VALID not in out and "13812345678" not in out
    assert "110105********002X" in out and "138****5678" in out
    assert "1234567890123456789012" in out  # longer digit runs are not numbers we know


def test_shape_uses_allow_lists_and_suppression():
    row = {"id": 1, "name": "王秀英", "phone_enc": "v1:k:x", "cell_code": "230717001001001"}
    allow = {"grid_worker": {"id", "name", "cell_code"}, "planner": set()}
    assert masking.shape(row, "grid_worker", allow) == {
        "id": 1,
        "name": "王秀英",
        "cell_code": "230717001001001",
    }
    assert masking.shape(row, "planner", allow) == {}
    assert masking.shape(row, "dispatcher", allow) == {}  # unlisted role: nothing
    assert masking.suppress_small(9, 10) is None and masking.suppress_small(10, 10) == 10
    assert masking.suppress_small(0, 10) == 0


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("id_number", "110105194912310021", "check digit (GB 11643) is wrong"),
        ("id_number", "1101051949", "18 characters"),
        ("phone", "12345", "mobile number must be 11 digits"),
        ("phone", 13812345678, "must be a string"),
    ],
)
def test_api_answers_422_with_a_clear_message(session, app_client, callers, field, value, message):
    from tests.security.conftest import bearer

    admin = next(c for c in callers if c.role == "admin" and c.own)
    headers = bearer(session, admin.account)
    client = app_client()
    body = {"name": "new-staff", "role": "planner", field: value}
    response = client.post("/api/v1/admin/users", json=body, headers=headers)
    assert response.status_code == 422, response.text
    assert message in response.json()["detail"]
    assert field in response.json()["detail"]
    assert str(value) not in response.text  # the rejected number is not echoed back


def test_request_bodies_reject_unknown_fields(session, app_client, callers):
    from tests.security.conftest import bearer

    admin = next(c for c in callers if c.role == "admin" and c.own)
    client = app_client()
    response = client.patch(
        "/api/v1/admin/users/t-planner-own",
        headers=bearer(session, admin.account),
        json={"display_name": "x", "token_version": 0},
    )
    assert response.status_code == 422
    assert "token_version" in response.json()["detail"]
