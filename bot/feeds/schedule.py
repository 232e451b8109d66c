"""PURE: when to poll a feed next.

The interval comes from three sources, in this order:
1. the configured interval (per feed, else `[polling] interval`);
2. adaptation: a feed whose new items arrive every G is polled every G/2, so a
   busy feed is checked more often and a silent one less, but never further than
   4x below or 8x above the configured interval;
3. the publisher's hint (`<ttl>`, `sy:updatePeriod`, `Cache-Control: max-age`):
   polling more often than the publisher asks is impolite, so it is a floor.
Everything is then clamped to `[min_interval, max_interval]`, and spread by a
per-feed jitter so 5,000 feeds added together do not stay in lockstep.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

GAP_SMOOTHING = 0.3  # weight of the newest gap in the moving average
ADAPT_FASTEST = 4  # at most 4x more often than configured
ADAPT_SLOWEST = 8  # at most 8x less often than configured
JITTER = 0.1  # +-10%
RETRY_AFTER_LIMIT = timedelta(days=7)
LONGEST_HINT = timedelta(days=30)  # <ttl>99999999</ttl> is 190 years
LONGEST_HINT_MINUTES = int(LONGEST_HINT.total_seconds() // 60)


@dataclass(frozen=True, slots=True)
class Bounds:
    min_interval: timedelta
    max_interval: timedelta

    def clamp(self, value: timedelta) -> timedelta:
        return min(max(value, self.min_interval), self.max_interval)


def next_interval(configured: timedelta, bounds: Bounds, *, hint: timedelta | None,
                  avg_new_gap: timedelta | None, since_last_new: timedelta | None
                  ) -> timedelta:
    """The interval to the next poll after a successful one."""
    interval = configured
    if avg_new_gap is not None:
        # A feed silent for longer than its usual gap is treated as slower now.
        gap = max(avg_new_gap, since_last_new or timedelta(0))
        interval = min(max(gap / 2, configured / ADAPT_FASTEST), configured * ADAPT_SLOWEST)
    if hint is not None:
        interval = max(interval, hint)
    return bounds.clamp(interval)


def updated_gap_average(previous: timedelta | None, last_new_at: datetime | None,
                        now: datetime) -> timedelta | None:
    """Call when a poll found new items: fold the time since the last new items in."""
    if last_new_at is None:
        return previous
    gap = max(now - last_new_at, timedelta(0))
    if previous is None:
        return gap
    return previous * (1 - GAP_SMOOTHING) + gap * GAP_SMOOTHING


def publisher_hint(ttl_minutes: int | None, update_period: timedelta | None,
                   max_age: timedelta | None) -> timedelta | None:
    """The longest interval the publisher asked for in a document and its headers."""
    ttl = timedelta(minutes=min(ttl_minutes, LONGEST_HINT_MINUTES)) if ttl_minutes else None
    return longest_hint(ttl, update_period, max_age)


def longest_hint(*hints: timedelta | None) -> timedelta | None:
    """The longest of the hints given (None when there are none), at most
    `LONGEST_HINT`: max_interval bounds it anyway, and a feed's row stores it."""
    given = [h for h in hints if h]
    return min(max(given), LONGEST_HINT) if given else None


def jittered(now: datetime, interval: timedelta, key: str, salt: int = 0) -> datetime:
    """now + interval, spread by up to +-10% by a stable hash of the feed (and
    the poll count, so the offset wanders instead of locking two feeds together)."""
    digest = hashlib.blake2b(f"{key}:{salt}".encode(), digest_size=8).digest()
    fraction = int.from_bytes(digest, "big") / 2**64  # [0, 1)
    return now + interval * (1 - JITTER + 2 * JITTER * fraction)


def backoff(interval: timedelta, failures: int, bounds: Bounds,
            retry_after: timedelta | None, spread: float = 1.0) -> timedelta:
    """After `failures` consecutive failures: double each time, up to max_interval,
    times `spread` (the caller's random 0.85-1.0, so feeds that failed together, say a
    host that went down, do not retry together), never below min_interval. A server's
    Retry-After wins when it asks for longer, even beyond max_interval (it asked), up to
    `RETRY_AFTER_LIMIT`."""
    delay: timedelta = min(interval * 2 ** min(failures - 1, 16), bounds.max_interval) * spread
    delay = max(delay, bounds.min_interval)
    hold = retry_hold(retry_after)
    return delay if hold is None else max(delay, hold)


def retry_hold(retry_after: timedelta | None) -> timedelta | None:
    """How long a server's Retry-After keeps us away: as asked, up to a week (a longer
    value is more likely a broken header than a plan)."""
    if retry_after is None or retry_after <= timedelta(0):
        return None
    return min(retry_after, RETRY_AFTER_LIMIT)


def should_flag(failures: int, failing_since: datetime | None, now: datetime,
                max_failures: int, max_failing: timedelta) -> bool:
    """A feed is flagged to admins after N failures in a row or after failing for too long."""
    if failures <= 0:
        return False
    if failures >= max_failures:
        return True
    return failing_since is not None and now - failing_since >= max_failing
