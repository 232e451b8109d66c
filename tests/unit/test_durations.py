from datetime import timedelta

import pytest

from bot.durations import format_duration, parse_duration


@pytest.mark.parametrize(("text", "expected"), [
    ("30s", timedelta(seconds=30)),
    ("5m", timedelta(minutes=5)),
    ("1h", timedelta(hours=1)),
    ("1h30m", timedelta(minutes=90)),
    ("3d", timedelta(days=3)),
    ("2w", timedelta(weeks=2)),
    (" 10M ", timedelta(minutes=10)),
], ids=str)
def test_parse(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected
    assert parse_duration(format_duration(expected)) == expected


@pytest.mark.parametrize("text", ["", "5", "m5", "5 minutes", "-5m", "1.5h", "5x"])
def test_parse_rejects_with_a_hint(text: str) -> None:
    with pytest.raises(ValueError, match=r"use e\.g\."):
        parse_duration(text)
