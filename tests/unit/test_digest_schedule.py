"""bot.digest.schedule: digest moments per local day, DST rules, exactly once, grace.

The DST change days below are checked against zoneinfo (`test_dst_days_of_2026`), so the
tables cannot drift from the tz database. The sweeps compare the module with an oracle
that knows nothing about folds or gaps: a day's digest is the first minute whose local
wall-clock time is at least that day at the digest time.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

import pytest

from bot.digest.schedule import (
    DEFAULT_GRACE,
    DigestPeriod,
    digest_period,
    is_due,
    next_digest_at,
    scheduled_at,
)

MINUTE = timedelta(minutes=1)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0,
        second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def hm(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


@cache
def transitions(zone_name: str, year: int) -> tuple[datetime, ...]:
    """Every UTC instant in `year` where the zone's offset changes, found by scanning."""
    zone = ZoneInfo(zone_name)
    found: list[datetime] = []
    moment = utc(year, 1, 1)
    while moment.year == year:
        step = moment + timedelta(hours=1)
        if moment.astimezone(zone).utcoffset() != step.astimezone(zone).utcoffset():
            minute = moment
            while minute.astimezone(zone).utcoffset() == moment.astimezone(zone).utcoffset():
                minute += MINUTE
            found.append(minute)
        moment = step
    return tuple(found)


# zone -> its 2026 offset changes (UTC) and what the clocks do locally.
DST_2026 = {
    "UTC": (),
    "Asia/Shanghai": (),
    "Europe/Madrid": (utc(2026, 3, 29, 1), utc(2026, 10, 25, 1)),  # 02:00->03:00, 03:00->02:00
    "America/New_York": (utc(2026, 3, 8, 7), utc(2026, 11, 1, 6)),  # 02->03, 02->01
    "Australia/Lord_Howe": (utc(2026, 4, 4, 15), utc(2026, 10, 3, 15, 30)),  # 02->01:30, 02->02:30
    "America/Santiago": (utc(2026, 4, 5, 3), utc(2026, 9, 6, 4)),  # 24->23, 24->01
    "America/Havana": (utc(2026, 3, 8, 5), utc(2026, 11, 1, 5)),  # 00->01, 01->00
}


@pytest.mark.parametrize("zone", list(DST_2026))
def test_dst_days_of_2026(zone: str) -> None:
    assert transitions(zone, 2026) == DST_2026[zone]


# (id, zone, local day, digest time, expected instant in UTC)
SCHEDULED = [
    ("utc-plain", "UTC", date(2026, 11, 27), "08:00", utc(2026, 11, 27, 8)),
    ("shanghai-morning", "Asia/Shanghai", date(2026, 11, 27), "08:00", utc(2026, 11, 27, 0)),
    ("shanghai-midnight-is-previous-utc-day", "Asia/Shanghai", date(2026, 11, 27), "00:00",
     utc(2026, 11, 26, 16)),
    ("madrid-winter", "Europe/Madrid", date(2026, 11, 27), "08:00", utc(2026, 11, 27, 7)),
    ("madrid-summer", "Europe/Madrid", date(2026, 7, 1), "08:00", utc(2026, 7, 1, 6)),
    ("madrid-spring-before-gap", "Europe/Madrid", date(2026, 3, 29), "01:59",
     utc(2026, 3, 29, 0, 59)),
    ("madrid-spring-gap-start", "Europe/Madrid", date(2026, 3, 29), "02:00", utc(2026, 3, 29, 1)),
    ("madrid-spring-gap-0230-fires-at-0300", "Europe/Madrid", date(2026, 3, 29), "02:30",
     utc(2026, 3, 29, 1)),
    ("madrid-spring-gap-end", "Europe/Madrid", date(2026, 3, 29), "03:00", utc(2026, 3, 29, 1)),
    ("madrid-spring-after", "Europe/Madrid", date(2026, 3, 29), "08:00", utc(2026, 3, 29, 6)),
    ("madrid-fall-0200-first", "Europe/Madrid", date(2026, 10, 25), "02:00", utc(2026, 10, 25, 0)),
    ("madrid-fall-0230-first", "Europe/Madrid", date(2026, 10, 25), "02:30",
     utc(2026, 10, 25, 0, 30)),
    ("madrid-fall-0300-once", "Europe/Madrid", date(2026, 10, 25), "03:00", utc(2026, 10, 25, 2)),
    ("madrid-fall-after", "Europe/Madrid", date(2026, 10, 25), "08:00", utc(2026, 10, 25, 7)),
    ("new-york-spring-gap", "America/New_York", date(2026, 3, 8), "02:30", utc(2026, 3, 8, 7)),
    ("new-york-spring-after", "America/New_York", date(2026, 3, 8), "08:00", utc(2026, 3, 8, 12)),
    ("new-york-fall-0130-first", "America/New_York", date(2026, 11, 1), "01:30",
     utc(2026, 11, 1, 5, 30)),
    ("new-york-fall-after", "America/New_York", date(2026, 11, 1), "08:00", utc(2026, 11, 1, 13)),
    ("lord-howe-spring-30min-gap", "Australia/Lord_Howe", date(2026, 10, 4), "02:15",
     utc(2026, 10, 3, 15, 30)),
    ("lord-howe-spring-gap-end", "Australia/Lord_Howe", date(2026, 10, 4), "02:30",
     utc(2026, 10, 3, 15, 30)),
    ("lord-howe-fall-0145-first", "Australia/Lord_Howe", date(2026, 4, 5), "01:45",
     utc(2026, 4, 4, 14, 45)),
    ("lord-howe-fall-after", "Australia/Lord_Howe", date(2026, 4, 5), "08:00",
     utc(2026, 4, 4, 21, 30)),
    ("santiago-fall-at-midnight-2330-first", "America/Santiago", date(2026, 4, 4), "23:30",
     utc(2026, 4, 5, 2, 30)),
    ("santiago-midnight-after-repeat", "America/Santiago", date(2026, 4, 5), "00:00",
     utc(2026, 4, 5, 4)),
    ("santiago-spring-midnight-gap", "America/Santiago", date(2026, 9, 6), "00:30",
     utc(2026, 9, 6, 4)),
    ("havana-spring-midnight-gap", "America/Havana", date(2026, 3, 8), "00:00",
     utc(2026, 3, 8, 5)),
    ("apia-skipped-day-fires-at-next-midnight", "Pacific/Apia", date(2011, 12, 30), "08:00",
     utc(2011, 12, 30, 10)),
]


@pytest.mark.parametrize(("zone", "day", "at", "expected"),
                         [case[1:] for case in SCHEDULED], ids=[case[0] for case in SCHEDULED])
def test_scheduled_at(zone: str, day: date, at: str, expected: datetime) -> None:
    moment = scheduled_at(day, hm(at), ZoneInfo(zone))
    assert moment == expected
    assert moment.tzinfo is UTC


# (id, zone, digest time, now, key, due_at, starts_at)
PERIODS = [
    ("utc-just-due", "UTC", "08:00", utc(2026, 11, 27, 8), "2026-11-27", utc(2026, 11, 27, 8),
     utc(2026, 11, 26, 8)),
    ("utc-a-minute-early-is-yesterday", "UTC", "08:00", utc(2026, 11, 27, 7, 59), "2026-11-26",
     utc(2026, 11, 26, 8), utc(2026, 11, 25, 8)),
    ("shanghai-key-is-local-date", "Asia/Shanghai", "08:00", utc(2026, 11, 27, 1), "2026-11-27",
     utc(2026, 11, 27, 0), utc(2026, 11, 26, 0)),
    ("madrid-23h-period-on-spring-day", "Europe/Madrid", "08:00", utc(2026, 3, 29, 12),
     "2026-03-29", utc(2026, 3, 29, 6), utc(2026, 3, 28, 7)),
    ("madrid-25h-period-on-fall-day", "Europe/Madrid", "08:00", utc(2026, 10, 25, 12),
     "2026-10-25", utc(2026, 10, 25, 7), utc(2026, 10, 24, 6)),
    ("madrid-gap-digest-fired", "Europe/Madrid", "02:30", utc(2026, 3, 29, 1), "2026-03-29",
     utc(2026, 3, 29, 1), utc(2026, 3, 28, 1, 30)),
    ("madrid-repeated-hour-second-pass-no-new-period", "Europe/Madrid", "02:30",
     utc(2026, 10, 25, 1, 30), "2026-10-25", utc(2026, 10, 25, 0, 30), utc(2026, 10, 24, 0, 30)),
    ("lord-howe-repeated-half-hour", "Australia/Lord_Howe", "01:45", utc(2026, 4, 4, 15, 15),
     "2026-04-05", utc(2026, 4, 4, 14, 45), utc(2026, 4, 3, 14, 45)),
    ("goose-bay-date-goes-back-after-midnight-digest", "America/Goose_Bay", "00:00",
     utc(2006, 10, 29, 3, 30), "2006-10-29", utc(2006, 10, 29, 3), utc(2006, 10, 28, 3)),
    ("new-york-evening-is-local-day", "America/New_York", "20:00", utc(2026, 11, 28, 1),
     "2026-11-27", utc(2026, 11, 28, 1), utc(2026, 11, 27, 1)),
]


@pytest.mark.parametrize(("zone", "at", "now", "key", "due_at", "starts_at"),
                         [case[1:] for case in PERIODS], ids=[case[0] for case in PERIODS])
def test_digest_period(zone: str, at: str, now: datetime, key: str, due_at: datetime,
                       starts_at: datetime) -> None:
    period = digest_period(now, hm(at), ZoneInfo(zone))
    assert period == DigestPeriod(key=key, due_at=due_at, starts_at=starts_at)


def test_digest_period_accepts_any_aware_now() -> None:
    madrid_now = datetime(2026, 11, 27, 9, 0, tzinfo=ZoneInfo("Europe/Madrid"))
    assert digest_period(madrid_now, time(8), ZoneInfo("Europe/Madrid")) == digest_period(
        utc(2026, 11, 27, 8), time(8), ZoneInfo("Europe/Madrid"))


def test_digest_period_off_the_calendar_is_none() -> None:
    assert digest_period(datetime.min.replace(tzinfo=UTC), time(8), ZoneInfo("UTC")) is None


# (id, zone, digest time, now, next)
NEXT = [
    ("utc-strictly-after", "UTC", "08:00", utc(2026, 11, 27, 8), utc(2026, 11, 28, 8)),
    ("utc-later-today", "UTC", "08:00", utc(2026, 11, 27, 7, 59, 59), utc(2026, 11, 27, 8)),
    ("madrid-into-gap", "Europe/Madrid", "02:30", utc(2026, 3, 28, 12), utc(2026, 3, 29, 1)),
    ("madrid-over-repeated-hour", "Europe/Madrid", "02:30", utc(2026, 10, 25, 0, 30),
     utc(2026, 10, 26, 1, 30)),
    ("new-york-gap", "America/New_York", "02:30", utc(2026, 3, 7, 20), utc(2026, 3, 8, 7)),
    ("lord-howe-gap", "Australia/Lord_Howe", "02:15", utc(2026, 10, 3, 0),
     utc(2026, 10, 3, 15, 30)),
    ("shanghai-crosses-utc-day", "Asia/Shanghai", "08:00", utc(2026, 11, 27, 0, 1),
     utc(2026, 11, 28, 0)),
]


@pytest.mark.parametrize(("zone", "at", "now", "expected"),
                         [case[1:] for case in NEXT], ids=[case[0] for case in NEXT])
def test_next_digest_at(zone: str, at: str, now: datetime, expected: datetime) -> None:
    assert next_digest_at(now, hm(at), ZoneInfo(zone)) == expected


@pytest.mark.parametrize("call", [
    lambda: digest_period(datetime(2026, 11, 27, 8), time(8), ZoneInfo("UTC")),
    lambda: next_digest_at(datetime(2026, 11, 27, 8), time(8), ZoneInfo("UTC")),
    lambda: scheduled_at(date(2026, 11, 27), time(8, tzinfo=UTC), ZoneInfo("UTC")),
], ids=["naive-now-period", "naive-now-next", "aware-digest-time"])
def test_rejects_ambiguous_inputs(call: Callable[[], object]) -> None:
    with pytest.raises(ValueError, match=r"aware|wall-clock"):
        call()


# ---- exactly once: 3-day sweeps in 1-minute ticks around every 2026 transition --------

# Digest times worth sweeping per zone: in, at the edges of and around each gap or repeat.
SWEEP_TIMES = {
    "UTC": ["00:00", "08:00"],
    "Asia/Shanghai": ["00:00", "08:00"],
    "Europe/Madrid": ["01:59", "02:00", "02:30", "03:00", "08:00"],
    "America/New_York": ["00:59", "01:30", "02:00", "02:30", "08:00"],
    "Australia/Lord_Howe": ["01:30", "01:45", "02:00", "02:15", "02:30", "08:00"],
    "America/Santiago": ["23:00", "23:30", "00:00", "00:30", "08:00"],
    "America/Havana": ["00:00", "00:30", "01:00", "08:00"],
}
SWEEPS = [(zone, moment, at) for zone, moments in DST_2026.items() for moment in moments
          for at in SWEEP_TIMES[zone]]
SWEEPS += [(zone, utc(2026, 3, 29, 1), at) for zone in ("UTC", "Asia/Shanghai")
           for at in SWEEP_TIMES[zone]]
# History: Goose Bay fell back from 00:01 to 23:01 the day before (1987-2010), so a local
# date can repeat after the next day's midnight digest has fired.
SWEEPS += [("America/Goose_Bay", utc(2006, 10, 29, 3, 1), at) for at in ("00:00", "23:30")]


@cache
def sweep_walls(zone_name: str, centre: datetime) -> tuple[list[datetime], list[datetime]]:
    """Minute ticks from 2.5 days before `centre` to 3 days after, with their local
    wall-clock times (naive). The first and last days are only there for the oracle."""
    zone = ZoneInfo(zone_name)
    start = centre - timedelta(hours=60)
    ticks = [start + i * MINUTE for i in range(int(timedelta(hours=132) / MINUTE) + 1)]
    return ticks, [t.astimezone(zone).replace(tzinfo=None) for t in ticks]


def oracle_fires(ticks: list[datetime], walls: list[datetime], at: time) -> dict[date, datetime]:
    """For each local day: the first tick whose wall-clock time reaches that day at `at`."""
    days = sorted({w.date() for w in walls})
    fires: dict[date, datetime] = {}
    for day in [days[0] - timedelta(days=1), *days]:
        target = datetime.combine(day, at)
        first = next((t for t, w in zip(ticks, walls, strict=True) if w >= target), None)
        if first is not None and first > ticks[0]:
            fires[day] = first
    return fires


@pytest.mark.parametrize(("zone", "centre", "at"), SWEEPS,
                         ids=[f"{z}-{c:%m%d}-{a}" for z, c, a in SWEEPS])
def test_sweep_sends_each_local_day_exactly_once(zone: str, centre: datetime, at: str) -> None:
    clock, tz = hm(at), ZoneInfo(zone)
    ticks, walls = sweep_walls(zone, centre)
    fires = oracle_fires(ticks, walls, clock)
    window_start = centre - timedelta(hours=36)  # 3 days around the transition
    window = [t for t in ticks if window_start <= t <= centre + timedelta(hours=36)]
    expected = [(day.isoformat(), moment) for day, moment in sorted(fires.items())
                if window[0] < moment <= window[-1]]
    fire_times = sorted(fires.values())

    first = digest_period(window[0], clock, tz)
    assert first is not None
    last_sent: str | None = first.key  # the bot sent that one before the sweep began
    sent: list[tuple[str, datetime]] = []
    for now in window[1:]:
        period = digest_period(now, clock, tz)
        assert period is not None
        if is_due(period, now, last_sent):
            assert period.due_at == now  # ticking every minute, never late
            sent.append((period.key, now))
            last_sent = period.key
        upcoming = fire_times[bisect.bisect_right(fire_times, now)]
        assert next_digest_at(now, clock, tz) == upcoming

    assert sent == expected
    days = [date.fromisoformat(key) for key, _ in sent]
    assert days == [days[0] + timedelta(days=i) for i in range(len(days))], "a day skipped"
    assert len(days) >= 3


def test_sweep_over_a_skipped_calendar_day() -> None:
    """Pacific/Apia skipped 2011-12-30: the 08:00 digest of that day comes at the next
    valid instant (midnight of the 31st), then the 31st's own at 08:00."""
    tz, clock = ZoneInfo("Pacific/Apia"), time(8)
    now, last_sent = utc(2011, 12, 29, 0), "2011-12-28"
    sent = []
    while now <= utc(2011, 12, 31, 20):
        period = digest_period(now, clock, tz)
        assert period is not None
        if is_due(period, now, last_sent):
            sent.append((period.key, now))
            last_sent = period.key
        now += MINUTE
    assert sent == [("2011-12-29", utc(2011, 12, 29, 18)), ("2011-12-30", utc(2011, 12, 30, 10)),
                    ("2011-12-31", utc(2011, 12, 30, 18)), ("2012-01-01", utc(2011, 12, 31, 18))]


# ---- is_due: exactly once, grace after downtime ------------------------------------------

PERIOD = DigestPeriod(key="2026-11-27", due_at=utc(2026, 11, 27, 8),
                      starts_at=utc(2026, 11, 26, 8))

# (id, now, last sent key, grace, due?)
DUE = [
    ("on-time", utc(2026, 11, 27, 8), "2026-11-26", DEFAULT_GRACE, True),
    ("never-sent-before", utc(2026, 11, 27, 8), None, DEFAULT_GRACE, True),
    ("already-sent", utc(2026, 11, 27, 8, 1), "2026-11-27", DEFAULT_GRACE, False),
    ("newer-already-sent-after-zone-change", utc(2026, 11, 27, 9), "2026-11-28", DEFAULT_GRACE,
     False),
    ("missed-by-5h59-catches-up", utc(2026, 11, 27, 13, 59), "2026-11-26", DEFAULT_GRACE, True),
    ("missed-by-exactly-grace", utc(2026, 11, 27, 14), "2026-11-26", DEFAULT_GRACE, True),
    ("missed-beyond-grace-skips", utc(2026, 11, 27, 14, 0, 1), "2026-11-26", DEFAULT_GRACE, False),
    ("shorter-grace", utc(2026, 11, 27, 9), "2026-11-26", timedelta(minutes=30), False),
    ("not-yet-due", utc(2026, 11, 27, 7, 59), "2026-11-26", DEFAULT_GRACE, False),
]


@pytest.mark.parametrize(("now", "last_sent", "grace", "due"), [case[1:] for case in DUE],
                         ids=[case[0] for case in DUE])
def test_is_due(now: datetime, last_sent: str | None, grace: timedelta, due: bool) -> None:
    assert is_due(PERIOD, now, last_sent, grace) is due


def run_ticks(zone: str, at: str, down: tuple[datetime, datetime], until: datetime,
              last_sent: str) -> list[tuple[str, datetime]]:
    """Tick every minute from a day before the downtime, sending what is due; no ticks
    while the bot is down."""
    tz, clock = ZoneInfo(zone), hm(at)
    now = down[0] - timedelta(hours=30)
    sent = []
    while now <= until:
        if not down[0] <= now < down[1]:
            period = digest_period(now, clock, tz)
            assert period is not None
            if is_due(period, now, last_sent):
                sent.append((period.key, now))
                last_sent = period.key
        now += MINUTE
    return sent


# (id, zone, digest time, downtime, expected sends)
DOWNTIME = [
    ("back-within-grace-sends-once-on-restart", "Europe/Madrid", "08:00",
     (utc(2026, 11, 27, 6), utc(2026, 11, 27, 10, 30)),
     [("2026-11-26", utc(2026, 11, 26, 7)), ("2026-11-27", utc(2026, 11, 27, 10, 30)),
      ("2026-11-28", utc(2026, 11, 28, 7))]),
    ("back-after-grace-skips-that-day", "Europe/Madrid", "08:00",
     (utc(2026, 11, 27, 6), utc(2026, 11, 27, 13, 1)),
     [("2026-11-26", utc(2026, 11, 26, 7)), ("2026-11-28", utc(2026, 11, 28, 7))]),
    ("down-across-the-gap-digest", "Europe/Madrid", "02:30",
     (utc(2026, 3, 29, 0), utc(2026, 3, 29, 2)),
     [("2026-03-28", utc(2026, 3, 28, 1, 30)), ("2026-03-29", utc(2026, 3, 29, 2)),
      ("2026-03-30", utc(2026, 3, 30, 0, 30))]),
    ("restart-in-repeated-hour-does-not-resend", "America/New_York", "01:30",
     (utc(2026, 11, 1, 5, 45), utc(2026, 11, 1, 6, 15)),
     [("2026-10-31", utc(2026, 10, 31, 5, 30)), ("2026-11-01", utc(2026, 11, 1, 5, 30)),
      ("2026-11-02", utc(2026, 11, 2, 6, 30))]),
]


@pytest.mark.parametrize(("zone", "at", "down", "expected"), [case[1:] for case in DOWNTIME],
                         ids=[case[0] for case in DOWNTIME])
def test_downtime(zone: str, at: str, down: tuple[datetime, datetime],
                  expected: list[tuple[str, datetime]]) -> None:
    first_key = date.fromisoformat(expected[0][0]) - timedelta(days=1)
    assert run_ticks(zone, at, down, down[1] + timedelta(days=1, hours=1),
                     first_key.isoformat()) == expected
