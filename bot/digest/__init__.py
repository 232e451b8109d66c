"""The daily digest, PURE: when it is due, what goes into it, how it reads.

- `schedule`: periods per local day, next fire times, exactly-once test (DST rules).
- `build`: stories grouped by topic, ranked by importance, mutes applied.
- `render`: Telegram HTML (and plain) messages split at topic boundaries.

Nothing here does I/O, reads the clock or the environment: `now` is a parameter (aware
UTC). The scheduler, the store and the outbox (the I/O shell) call these and record what
was sent.
"""

from bot.digest.build import (
    DEFAULT_PER_TOPIC,
    DigestSection,
    DigestStory,
    build_digest,
    importance,
    outlet_count,
    story_time,
)
from bot.digest.render import (
    DIGEST_ENGLISH,
    DigestLabels,
    format_period,
    render_digest,
    render_digest_plain,
)
from bot.digest.schedule import (
    DEFAULT_GRACE,
    DigestPeriod,
    digest_period,
    is_due,
    next_digest_at,
    scheduled_at,
)

__all__ = [
    "DEFAULT_GRACE", "DEFAULT_PER_TOPIC", "DIGEST_ENGLISH", "DigestLabels", "DigestPeriod",
    "DigestSection", "DigestStory", "build_digest", "digest_period", "format_period",
    "importance", "is_due", "next_digest_at", "outlet_count", "render_digest",
    "render_digest_plain", "scheduled_at", "story_time",
]
