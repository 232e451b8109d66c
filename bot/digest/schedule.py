"""When a chat's daily digest is due: periods, next fire times and the exactly-once test.

Owns the calendar arithmetic of the digest: which local day a digest belongs to (its key,
"2026-11-27"), the instant it falls due in the chat's zone, the span of time it covers,
the next instant to wake up for, and whether a period still has to be sent.

DST rules, per local day D and wall-clock time `at` in the chat's zone:
- a time that exists once fires at that instant;
- a time that occurs twice (clocks go back) fires once, at the first occurrence (fold=0);
- a time that does not exist (clocks jump forward over it) fires once, at the first
  valid instant after the gap, which is the transition itself (Europe/Madrid on
  2026-03-29: 02:30 fires at 03:00 CEST = 01:00 UTC).
Put together: D's digest fires at the first instant whose local wall-clock time is at
least D + `at`. Every local day has exactly one digest moment and the moments are strictly
increasing, so a tick every minute (or a timer set to `next_digest_at`) that sends when
`is_due` says so sends each day's digest exactly once.

PURE: `now` is a parameter (aware; compared in UTC), no clock, no I/O, no environment.
Must not know about stores, schedulers or Telegram; recording the last sent key is the
caller's job.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

__all__ = [
    "DEFAULT_GRACE", "DigestPeriod", "digest_period", "is_due", "next_digest_at",
    "scheduled_at",
]

# A bot that was down at digest time still sends the missed digest (once) if it comes
# back within this long; later than that the day is skipped rather than arriving stale.
DEFAULT_GRACE = timedelta(hours=6)


@dataclass(frozen=True, slots=True)
class DigestPeriod:
    """One day's digest: it covers stories first seen in (starts_at, due_at].

    `key` is the local date it belongs to, ISO format, so keys of one chat sort in time
    order; `due_at` and `starts_at` (the previous day's `due_at`) are aware UTC.
    """

    key: str
    due_at: datetime
    starts_at: datetime

    @property
    def day(self) -> date:
        return date.fromisoformat(self.key)


def _require_aware(now: datetime) -> None:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"now must be an aware datetime, got naive {now!r}")


def _wall_time(at: time) -> time:
    if at.tzinfo is not None:
        raise ValueError(f"the digest time is a wall-clock time in the chat's zone: {at!r}")
    return at.replace(fold=0)


def _transition_after(earliest: datetime, latest: datetime, zone: ZoneInfo) -> datetime:
    """The instant in (earliest, latest] where the zone's offset changes to latest's.

    Transitions in the tz database fall on whole seconds: bisect on POSIX seconds.
    """
    low = math.floor(earliest.timestamp())
    high = math.ceil(latest.timestamp())
    target = datetime.fromtimestamp(high, zone).utcoffset()
    while high - low > 1:
        middle = (low + high) // 2
        if datetime.fromtimestamp(middle, zone).utcoffset() == target:
            high = middle
        else:
            low = middle
    return datetime.fromtimestamp(high, UTC)


@lru_cache(maxsize=4096)
def scheduled_at(day: date, at: time, zone: ZoneInfo) -> datetime:
    """The instant (aware UTC) of local `day`'s digest at wall-clock `at` (DST rules above).

    Raises OverflowError for days at the very ends of the calendar. Cached: a scheduler
    ticking every minute for many chats asks about the same few days over and over.
    """
    wall = datetime.combine(day, _wall_time(at))
    instant = wall.replace(tzinfo=zone).astimezone(UTC)  # fold=0: first of two occurrences
    if instant.astimezone(zone).replace(tzinfo=None) == wall:
        return instant
    # `wall` falls in a gap. fold=0 reads it with the offset before the jump and fold=1
    # with the offset after, so the jump lies between the two readings.
    after_jump = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
    return _transition_after(min(instant, after_jump), max(instant, after_jump), zone)


def digest_period(now: datetime, at: time, zone: ZoneInfo) -> DigestPeriod | None:
    """The most recent digest moment <= now for a chat with digests at `at` in `zone`.

    None only when the dates involved fall off the calendar (year 1 or 9999).
    """
    _require_aware(now)
    try:
        local_day = now.astimezone(zone).date()
        # The day after is a candidate too: a fall-back across midnight (America/Santiago)
        # shows yesterday's date again after today's midnight digest has fired.
        due_day = next(
            (day for day in (local_day + timedelta(days=offset) for offset in (1, 0, -1, -2))
             if scheduled_at(day, at, zone) <= now),
            None,
        )
        if due_day is None:
            return None
        due_at = scheduled_at(due_day, at, zone)
        previous = due_day - timedelta(days=1)
        starts_at = scheduled_at(previous, at, zone)
        # A day skipped outright (Pacific/Apia, 2011-12-30) can share its moment with the
        # next day's midnight digest; cover from the last distinct moment before.
        while starts_at >= due_at:
            previous -= timedelta(days=1)
            starts_at = scheduled_at(previous, at, zone)
    except OverflowError:
        return None
    return DigestPeriod(key=due_day.isoformat(), due_at=due_at, starts_at=starts_at)


def next_digest_at(now: datetime, at: time, zone: ZoneInfo) -> datetime:
    """The first digest moment strictly after `now`, aware UTC."""
    _require_aware(now)
    local_day = now.astimezone(zone).date()
    candidates = (
        scheduled_at(local_day + timedelta(days=offset), at, zone) for offset in range(-1, 3)
    )
    return min(moment for moment in candidates if moment > now)


def is_due(period: DigestPeriod, now: datetime, last_sent_key: str | None,
           grace: timedelta = DEFAULT_GRACE) -> bool:
    """Whether `period`'s digest should be sent now: it is not the one sent last, it has
    fallen due, and it is at most `grace` late.

    Keys are ISO dates, so "not the one sent last" is read as "later than the one sent
    last": after a chat moves its time zone west, the day before the last digest can fall
    due again and would repeat stories the chat already had.
    """
    _require_aware(now)
    if last_sent_key is not None and period.key <= last_sent_key:
        return False
    late = now - period.due_at
    return timedelta(0) <= late <= grace
