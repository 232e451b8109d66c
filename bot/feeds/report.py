"""PURE: the operator's table of feeds (`newsbot feeds`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from bot.durations import format_duration
from bot.store.feeds import FeedState

HEADERS = ("feed", "last success", "last status", "items", "errors", "next poll",
           "new items every")


def _ago(when: datetime | None, now: datetime) -> str:
    if when is None:
        return "never"
    delta = now - when
    if delta < timedelta(0):
        return f"in {format_duration(-delta)}"
    return f"{format_duration(delta)} ago"


def feed_rows(states: Sequence[FeedState], now: datetime) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    for s in states:
        status = s.last_status or "-"
        if s.disabled_reason:
            status = f"disabled: {s.disabled_reason}"
        elif s.last_error and s.last_status == "failed":
            status = f"failed: {s.last_error[:60]}"
        next_poll = "now" if s.next_poll_at is None or s.next_poll_at <= now else _ago(
            s.next_poll_at, now)
        rows.append((s.name[:40], _ago(s.last_success_at, now), status, str(s.item_count),
                     str(s.consecutive_failures),
                     "-" if s.disabled_reason else next_poll,
                     format_duration(s.avg_new_gap) if s.avg_new_gap else "-"))
    return rows


def format_table(rows: Sequence[tuple[str, ...]], headers: tuple[str, ...] = HEADERS) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
              for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
              for r in rows]
    return "\n".join(lines)
