from datetime import UTC, datetime, timedelta

import pytest

from bot.feeds.fetch import parse_max_age, parse_retry_after

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(("value", "expected"), [
    ("120", timedelta(seconds=120)),
    ("Fri, 27 Nov 2026 12:05:00 GMT", timedelta(minutes=5)),
    ("Fri, 27 Nov 2026 11:00:00 GMT", timedelta(0)),  # in the past: retry now
    ("soon", None),
    ("", None),
    (None, None),
    ("9" * 30, timedelta(seconds=2**31 - 1)),
])
def test_retry_after(value: str | None, expected: timedelta | None) -> None:
    assert parse_retry_after(value, NOW) == expected


@pytest.mark.parametrize(("value", "expected"), [
    ("public, max-age=600", timedelta(minutes=10)),
    ("no-cache", None),
    ("max-age=abc", None),
    (None, None),
    ("max-age=" + "9" * 30, timedelta(seconds=2**31 - 1)),  # "never", not an OverflowError
    ("max-age=\u00b2", None),  # a digit to str.isdigit, not to int()
])
def test_max_age(value: str | None, expected: timedelta | None) -> None:
    assert parse_max_age(value) == expected
