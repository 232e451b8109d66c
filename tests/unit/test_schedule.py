"""When feeds are polled: configured interval, adaptation, publisher hints, bounds, backoff."""

from datetime import UTC, datetime, timedelta

import pytest

from bot.feeds.schedule import (
    Bounds,
    backoff,
    jittered,
    next_interval,
    publisher_hint,
    retry_hold,
    should_flag,
    updated_gap_average,
)

NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)
M = timedelta(minutes=1)
BOUNDS = Bounds(min_interval=1 * M, max_interval=360 * M)


@pytest.mark.parametrize(("configured", "hint", "gap", "silent", "expected"), [
    pytest.param(10 * M, None, None, None, 10 * M, id="no data: configured"),
    pytest.param(10 * M, None, 4 * M, None, 2.5 * M, id="busy feed: faster, at most 4x"),
    pytest.param(10 * M, None, 12 * M, None, 6 * M, id="gap/2"),
    pytest.param(10 * M, None, 600 * M, None, 80 * M, id="quiet feed: slower, at most 8x"),
    pytest.param(10 * M, None, 12 * M, 100 * M, 50 * M, id="silent longer than usual: slower"),
    pytest.param(10 * M, 60 * M, 4 * M, None, 60 * M, id="publisher ttl is a floor"),
    pytest.param(10 * M, 24 * 60 * M, None, None, 360 * M, id="hint within max_interval"),
    pytest.param(2 * M, None, 1 * M, None, 1 * M, id="never below min_interval"),
])
def test_next_interval(configured: timedelta, hint: timedelta | None, gap: timedelta | None,
                       silent: timedelta | None, expected: timedelta) -> None:
    assert next_interval(configured, BOUNDS, hint=hint, avg_new_gap=gap,
                         since_last_new=silent) == expected


def test_gap_average_moves_toward_new_gaps() -> None:
    assert updated_gap_average(None, None, NOW) is None
    assert updated_gap_average(None, NOW - 10 * M, NOW) == 10 * M
    assert updated_gap_average(10 * M, NOW - 20 * M, NOW) == 13 * M


@pytest.mark.parametrize(("ttl", "period", "max_age", "expected"), [
    (None, None, None, None),
    (30, None, None, 30 * M),
    (5, 60 * M, 10 * M, 60 * M),
])
def test_publisher_hint_takes_the_longest(ttl: int | None, period: timedelta | None,
                                          max_age: timedelta | None,
                                          expected: timedelta | None) -> None:
    assert publisher_hint(ttl, period, max_age) == expected


def test_a_huge_hint_is_bounded() -> None:
    assert publisher_hint(99_999_999, None, None) == timedelta(days=30)
    assert publisher_hint(None, None, timedelta(seconds=2**31 - 1)) == timedelta(days=30)


def test_jitter_spreads_feeds_within_ten_percent() -> None:
    times = {jittered(NOW, 10 * M, f"https://feed/{i}") for i in range(200)}
    assert len(times) > 150
    assert all(NOW + 9 * M <= t <= NOW + 11 * M for t in times)
    assert jittered(NOW, 10 * M, "x", 1) == jittered(NOW, 10 * M, "x", 1)


@pytest.mark.parametrize(("failures", "retry_after", "expected"), [
    (1, None, 10 * M),
    (2, None, 20 * M),
    (4, None, 80 * M),
    (20, None, 360 * M),
    (1, 30 * M, 30 * M),
    pytest.param(1, 24 * 60 * M, 24 * 60 * M, id="Retry-After beyond max_interval: as asked"),
    pytest.param(1, 30 * 24 * 60 * M, 7 * 24 * 60 * M, id="Retry-After: at most a week"),
    pytest.param(1, -5 * M, 10 * M, id="Retry-After in the past: ignored"),
])
def test_backoff(failures: int, retry_after: timedelta | None, expected: timedelta) -> None:
    assert backoff(10 * M, failures, BOUNDS, retry_after) == expected


def test_backoff_spread_shortens_but_never_below_min_interval() -> None:
    assert backoff(10 * M, 2, BOUNDS, None, spread=0.85) == 17 * M
    assert backoff(1 * M, 1, BOUNDS, None, spread=0.85) == 1 * M  # not 51 s
    # the spread applies to our own backoff, not to what a server asked for
    assert backoff(10 * M, 1, BOUNDS, 30 * M, spread=0.85) == 30 * M


def test_retry_hold() -> None:
    assert retry_hold(None) is None
    assert retry_hold(timedelta(0)) is None
    assert retry_hold(90 * M) == 90 * M
    assert retry_hold(timedelta(days=400)) == timedelta(days=7)


def test_flagging_by_count_or_duration() -> None:
    day = timedelta(days=1)
    assert not should_flag(0, None, NOW, 5, day)
    assert not should_flag(4, NOW - 60 * M, NOW, 5, day)
    assert should_flag(5, NOW, NOW, 5, day)
    assert should_flag(2, NOW - day, NOW, 5, day)
