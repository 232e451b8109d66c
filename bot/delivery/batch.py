"""PURE: several alerts for one chat as one compact message (a burst of 200 new
items, or what quiet hours held back, becomes a few messages, not 200).

Each line: topic badge, linked bold title, source and time. Escaped and split
like any alert (bot.delivery.render).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import tzinfo

from bot.delivery.render import (
    ENGLISH,
    MAX_SOURCE_CHARS,
    Labels,
    escape,
    format_time,
    line_field,
    link_url,
    split_html,
    split_text,
)
from bot.model import Alert

BATCH_TITLE_CHARS = 200
HEADER = "🗞 {count} new alerts"


def _title(alert: Alert, labels: Labels) -> str:
    return line_field(alert.title, BATCH_TITLE_CHARS) or labels.untitled


def _meta(alert: Alert, tz: tzinfo, labels: Labels) -> str:
    source = line_field(alert.source, MAX_SOURCE_CHARS)
    return labels.meta_separator.join(p for p in (source, format_time(alert.published_at, tz,
                                                                       labels)) if p)


def render_batch(alerts: Sequence[Alert], tz: tzinfo, labels: Labels = ENGLISH) -> list[str]:
    lines = [f"<b>{escape(HEADER.format(count=len(alerts)))}</b>"]
    for alert in alerts:
        title = escape(_title(alert, labels))
        if url := link_url(alert.url):
            title = f'<a href="{escape(url)}">{title}</a>'
        badge = escape(labels.topic_separator.join(alert.topics[:3]))
        lines.append(f"• <b>{title}</b>\n  <i>{badge} · {escape(_meta(alert, tz, labels))}</i>")
    return split_html("\n".join(lines))


def render_batch_plain(alerts: Sequence[Alert], tz: tzinfo,
                       labels: Labels = ENGLISH) -> list[str]:
    lines = [HEADER.format(count=len(alerts))]
    for alert in alerts:
        lines.append(f"• {_title(alert, labels)}\n  {' · '.join(alert.topics[:3])} · "
                     f"{_meta(alert, tz, labels)}" + (f"\n  {alert.url}" if alert.url else ""))
    return split_text("\n".join(lines))
