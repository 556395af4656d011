"""Parsing hostile text: ids, whole numbers, money and keyset cursors answer None or a ValueError, never crash."""
import base64
import datetime as dt
import json

import pytest

from covet.money import MAX_AMOUNT, parse_money
from covet.web.converters import MAX_ID
from covet.web.cursors import cursor_datetime, cursor_int, decode_pair, encode_pair
from covet.web.params import parse_id, parse_ids, parse_int_or_none, parse_whole

HOSTILE = ["", " ", "0", "-1", "²", "٣", "１２", "1_000", "1e3", "12.0", "0x10", str(MAX_ID + 1), str(2**63),
           "9" * 5000, "1\x00", "nan", None, True, 1.5, [], {}]


@pytest.mark.parametrize("value", HOSTILE)
def test_parse_id_refuses_everything_but_a_record_id(value):
    assert parse_id(value) is None


@pytest.mark.parametrize("value, expected", [("1", 1), (" 42 ", 42), ("007", 7), (str(MAX_ID), MAX_ID), (5, 5)])
def test_parse_id_accepts_ascii_ids_in_range(value, expected):
    assert parse_id(value) == expected


def test_parse_ids_keeps_valid_ids_in_order_once_and_caps_the_list():
    assert parse_ids(["3", "²", "1", "3", str(2**40), "2"]) == [3, 1, 2]
    assert parse_ids(["1", "2", "3"], limit=2) == [1, 2]
    assert parse_ids(None) == []


@pytest.mark.parametrize("text", ["²", "٣", "1_000", "1e3", "12.5", "abc", "1\x00", "", "--1"])
def test_parse_whole_says_enter_a_whole_number(text):
    with pytest.raises(ValueError, match="Enter a whole number"):
        parse_whole(text)


@pytest.mark.parametrize("text", [str(2**31), "9" * 5000, "-1"])
def test_parse_whole_names_the_range(text):
    with pytest.raises(ValueError, match="Enter a number from 0 to 2,147,483,647"):
        parse_whole(text)


def test_parse_whole_and_int_or_none_in_range():
    assert parse_whole(" +12 ") == 12
    assert parse_whole("-3", low=-10) == -3
    assert parse_int_or_none("5", 1, 20) == 5
    assert parse_int_or_none("21", 1, 20) is None
    assert parse_int_or_none(True) is None


@pytest.mark.parametrize("text", ["1e400", "1E5", "inf", "nan", "²", "١٢٣", "１２", "12\x00", "0x10", "--5", "1.2.3"])
def test_parse_money_refuses_what_no_till_takes(text):
    with pytest.raises(ValueError, match="is not an amount"):
        parse_money(text, "eur")


@pytest.mark.parametrize("text", ["1" * 16, "9" * 400, str(MAX_AMOUNT), "21474837", "99999999999999"])
def test_parse_money_bounds_amounts(text):
    with pytest.raises(ValueError, match="too large"):
        parse_money(text, "eur")


def test_parse_money_still_reads_what_people_type():
    assert parse_money("1,290.50", "eur") == 129050
    assert parse_money("€ 12", "eur") == 1200
    assert parse_money(".5", "eur") == 50
    assert parse_money("21474836.47", "eur") == MAX_AMOUNT
    assert parse_money("1200", "jpy") == 1200
    with pytest.raises(ValueError, match="negative"):
        parse_money("-5", "eur")
    with pytest.raises(ValueError, match="decimal places"):
        parse_money("1.234", "eur")


def _forged(value) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


@pytest.mark.parametrize("cursor", [
    "", "%%%", "not base64 at all!", "é", "A" * 1000, _forged("x"), _forged([1]), _forged([1, 2, 3]),
    _forged(["2026-12-01T00:00:00+00:00", MAX_ID + 1]), _forged(["2026-12-01T00:00:00+00:00", 0]),
    _forged(["2026-12-01T00:00:00+00:00", "12"]), _forged(["2026-12-01T00:00:00+00:00", True]),
    _forged(["2026-12-01T00:00:00+00:00", 1.5]), _forged({"a": 1}),
    base64.urlsafe_b64encode(b"[1e400, 1e400]").decode(), base64.urlsafe_b64encode(b"[" * 100000).decode()[:400],
    base64.urlsafe_b64encode(b"\xff\xfe").decode()])
def test_forged_cursors_decode_to_nothing(cursor):
    assert decode_pair(cursor) is None


@pytest.mark.parametrize("value", ["2026-12-01T00:00:00", "2026-12-01", 1e400, 12, None, ["x"],
                                   "9999-12-31T23:59:59+00:00", "x" * 100])
def test_cursor_datetimes_must_be_aware_iso_text(value):
    assert cursor_datetime(value) is None


def test_cursors_round_trip():
    moment = dt.datetime(2026, 12, 1, 10, 30, tzinfo=dt.UTC)
    value, record_id = decode_pair(encode_pair(moment, 7))
    assert (cursor_datetime(value), record_id) == (moment, 7)
    assert cursor_int(decode_pair(encode_pair(2500, 9))[0]) == 2500
    assert cursor_int(2**40) is None and cursor_int(True) is None and cursor_int(1e400) is None
