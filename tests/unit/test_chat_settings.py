"""Validating what users type for their chat's settings."""

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.chat_settings import (
    QuietHours,
    SettingError,
    is_muted,
    parse_clock,
    parse_mute,
    parse_pause,
    parse_quiet_hours,
    parse_timezone,
)


@pytest.mark.parametrize(("text", "zone"), [
    ("Europe/Madrid", "Europe/Madrid"),
    ("europe/madrid", "Europe/Madrid"),
    ("America/New York", "America/New_York"),
    ("UTC", "UTC"),
])
def test_timezones(text: str, zone: str) -> None:
    assert parse_timezone(text) == zone


@pytest.mark.parametrize(("text", "suggestion"), [
    ("Europe/Madird", "Europe/Madrid"),
    ("Madrid", "Europe/Madrid"),
    ("Asia/Shangai", "Asia/Shanghai"),
])
def test_timezone_near_misses_get_suggestions(text: str, suggestion: str) -> None:
    with pytest.raises(SettingError, match=f"Did you mean .*{suggestion}"):
        parse_timezone(text)


def test_nonsense_timezone_gets_examples() -> None:
    with pytest.raises(SettingError, match="Europe/Madrid"):
        parse_timezone("<script>" * 20)


@pytest.mark.parametrize(("text", "expected"), [("08:00", time(8)), ("7:05", time(7, 5)),
                                                ("23:59", time(23, 59))])
def test_clock(text: str, expected: time) -> None:
    assert parse_clock(text) == expected


@pytest.mark.parametrize("text", ["24:00", "8", "08:60", "noon", ""])
def test_bad_clock(text: str) -> None:
    with pytest.raises(SettingError, match="HH:MM"):
        parse_clock(text)


def test_quiet_hours_across_midnight() -> None:
    quiet = parse_quiet_hours("23:00-07:00")
    assert str(quiet) == "23:00-07:00"
    assert quiet.contains(time(23, 30)) and quiet.contains(time(3))
    assert not quiet.contains(time(7)) and not quiet.contains(time(12))
    zone = ZoneInfo("Europe/Madrid")
    now = datetime(2026, 11, 27, 23, 30, tzinfo=UTC)  # 00:30 in Madrid
    assert quiet.end_after(now, zone) == datetime(2026, 11, 28, 7, tzinfo=zone)


def test_quiet_hours_same_day() -> None:
    quiet = QuietHours(time(13), time(14))
    assert quiet.contains(time(13, 30)) and not quiet.contains(time(14))


@pytest.mark.parametrize("text", ["23:00", "23:00-23:00", "a-b", "1-2-3"])
def test_bad_quiet_hours(text: str) -> None:
    with pytest.raises(SettingError):
        parse_quiet_hours(text)


def test_pause_bounds() -> None:
    assert parse_pause("2h") == timedelta(hours=2)
    for bad in ("0m", "31d", "forever", "-1h"):
        with pytest.raises(SettingError):
            parse_pause(bad)


@pytest.mark.parametrize(("terms", "title", "expected"), [
    (("bitcoin",), "Bitcoin rallies on tariff news", "bitcoin"),
    (("bitcoin",), "Bitcoiners rally", None),  # whole words in spaced scripts
    (("elon musk",), "Tariffs: Elon  Musk says", "elon musk"),
    (("稀土",), "中国限制稀土出口", "稀土"),
    (("ﬁnance",), "Finance ministers meet", "finance"),  # NFKC ligature, case-folded
    ((), "anything", None),
])
def test_mutes(terms: tuple[str, ...], title: str, expected: str | None) -> None:
    normalised = tuple(parse_mute(t) for t in terms)
    assert is_muted(title, "", normalised) == expected


def test_mute_needs_a_term() -> None:
    with pytest.raises(SettingError):
        parse_mute(" x ")
    assert parse_mute('"Rare  Earth"') == "rare earth"
    assert len(parse_mute("y" * 500)) == 100
