"""Digests to Telegram messages: HTML chunks split at topic boundaries, and plain text.

Owns the digest layout and its fixed words (`DigestLabels`, one table so it can be
translated), and the packing of topic sections into messages. Layout:

    📰 Your daily digest · Fri 27 Nov
    (blank line)
    <b>Tariffs</b>                                        one heading per topic
    • <a href="URL">Title</a> · 4 outlets · 27 Nov 14:05 CET
    • Title · Reuters · 27 Nov 09:10 CET                  one outlet: its name
    +3 more — /latest tariffs                             when the topic had more

Titles, names and sources are cleaned, bounded (the same bounds as alerts) and escaped;
a title is linked only when its URL is http(s) (`bot.delivery.render`'s rule). Sections
are packed whole into messages of at most 4096 UTF-16 units of visible text, so a topic
never straddles two messages unless it alone is too long, in which case
`split_html`/`split_text` cut it (preferring line breaks, so between stories).

PURE: the time zone is a parameter; no I/O, no clock. Must not rank or filter stories
(`bot.digest.build` does) or send anything.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from bot.delivery.render import (
    MAX_NAME_CHARS,
    MAX_SOURCE_CHARS,
    MAX_TITLE_CHARS,
    format_time,
    line_field,
)
from bot.delivery.render import link_url as linkable_url
from bot.delivery.telegram_html import (
    MAX_MESSAGE_UTF16,
    escape,
    split_html,
    split_text,
    utf16_len,
)
from bot.digest.build import DigestSection, DigestStory, outlet_count, story_time
from bot.digest.schedule import DigestPeriod

__all__ = [
    "DIGEST_ENGLISH", "DigestLabels", "format_period", "render_digest", "render_digest_plain",
]

_BLOCK_SEPARATOR = "\n\n"


@dataclass(frozen=True, slots=True)
class DigestLabels:
    """Every fixed word of the digest layout."""

    header: str = "📰 Your daily digest · {period}"
    quiet_day: str = "☕ A quiet day: nothing new on your topics."
    bullet: str = "• "
    separator: str = " · "
    outlets: str = "{count} outlets"
    more: str = "+{count} more — /latest {slug}"
    untitled: str = "(untitled)"
    url_indent: str = "  "
    weekdays: tuple[str, ...] = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
    months: tuple[str, ...] = (
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    )


DIGEST_ENGLISH = DigestLabels()


def format_period(period: DigestPeriod, labels: DigestLabels = DIGEST_ENGLISH) -> str:
    """"Fri 27 Nov": the local day the digest belongs to (its key, not its due instant,
    which a DST gap can push past midnight)."""
    day = period.day
    return f"{labels.weekdays[day.weekday()]} {day.day} {labels.months[day.month - 1]}"


@dataclass(frozen=True, slots=True)
class _Block:
    """A header or one topic section, in both forms. `visible` is the HTML's text as
    Telegram displays it (what its length limit counts)."""

    html: str
    visible: str
    plain: str


def _story_lines(story: DigestStory, tz: ZoneInfo, labels: DigestLabels
                 ) -> tuple[str, str, str]:
    title = line_field(story.title, MAX_TITLE_CHARS) or labels.untitled
    outlets = outlet_count(story)
    coverage = (labels.outlets.format(count=outlets) if outlets > 1
                else line_field(story.source, MAX_SOURCE_CHARS))
    meta = [part for part in (coverage, format_time(story_time(story), tz)) if part]
    tail = "".join(labels.separator + part for part in meta)
    url = linkable_url(story.url)
    linked = f'<a href="{escape(url)}">{escape(title)}</a>' if url else escape(title)
    visible = labels.bullet + title + tail
    plain = visible + (f"\n{labels.url_indent}{url}" if url else "")
    return escape(labels.bullet) + linked + escape(tail), visible, plain


def _section_block(section: DigestSection, tz: ZoneInfo, labels: DigestLabels) -> _Block:
    name = line_field(section.name, MAX_NAME_CHARS) or line_field(section.slug, MAX_NAME_CHARS)
    html, visible, plain = [f"<b>{escape(name)}</b>"], [name], [name]
    for story in section.stories:
        story_html, story_visible, story_plain = _story_lines(story, tz, labels)
        html.append(story_html)
        visible.append(story_visible)
        plain.append(story_plain)
    if section.more > 0:
        hint = labels.more.format(count=section.more, slug=line_field(section.slug, MAX_NAME_CHARS))
        html.append(escape(hint))
        visible.append(hint)
        plain.append(hint)
    return _Block("\n".join(html), "\n".join(visible), "\n".join(plain))


def _blocks(sections: Sequence[DigestSection], label: str, tz: ZoneInfo,
            labels: DigestLabels) -> list[_Block]:
    body = [_section_block(s, tz, labels) for s in sections if s.stories or s.more > 0]
    if not body:
        return []
    header = labels.header.format(period=line_field(label, MAX_NAME_CHARS))
    return [_Block(escape(header), header, header), *body]


def _pack(blocks: list[tuple[str, int]], limit: int,
          split: Callable[[str, int], list[str]]) -> list[str]:
    """Greedily fill messages with whole blocks ((markup, visible length) pairs, the first
    one the header). A block too long for any message is cut by `split`, together with
    the header when that is all the message holds so far."""
    messages: list[str] = []
    current: list[str] = []
    length = 0
    only_header = False
    gap = len(_BLOCK_SEPARATOR)
    for index, (markup, size) in enumerate(blocks):
        if current and length + gap + size <= limit:
            current.append(markup)
            length += gap + size
            only_header = False
            continue
        if size > limit:
            head = current if only_header else []
            if current and not only_header:
                messages.append(_BLOCK_SEPARATOR.join(current))
            messages.extend(split(_BLOCK_SEPARATOR.join([*head, markup]), limit))
            current, length, only_header = [], 0, False
            continue
        if current:
            messages.append(_BLOCK_SEPARATOR.join(current))
        current, length, only_header = [markup], size, index == 0
    if current:
        messages.append(_BLOCK_SEPARATOR.join(current))
    # A guard, not a path: packing counted the visible text, so this is a no-op unless
    # the count and Telegram's disagree, in which case a cut beats a rejected message.
    return [chunk for message in messages for chunk in split(message, limit)]


def render_digest(sections: Sequence[DigestSection], period_label: str, tz: ZoneInfo,
                  quiet_day_line: bool, *, labels: DigestLabels = DIGEST_ENGLISH,
                  limit: int = MAX_MESSAGE_UTF16) -> list[str]:
    """Telegram HTML messages for one digest, each valid on its own and within `limit`
    UTF-16 units. No sections: the quiet-day line if the chat wants it, else []."""
    blocks = _blocks(sections, period_label, tz, labels)
    if not blocks:
        return [escape(labels.quiet_day)] if quiet_day_line else []
    return _pack([(b.html, utf16_len(b.visible)) for b in blocks], limit, split_html)


def render_digest_plain(sections: Sequence[DigestSection], period_label: str, tz: ZoneInfo,
                        quiet_day_line: bool, *, labels: DigestLabels = DIGEST_ENGLISH,
                        limit: int = MAX_MESSAGE_UTF16) -> list[str]:
    """The same digest without markup (the console, or a resend after "can't parse
    entities"): each link's URL on its own line under the story."""
    blocks = _blocks(sections, period_label, tz, labels)
    if not blocks:
        return [labels.quiet_day] if quiet_day_line else []
    return _pack([(b.plain, utf16_len(b.plain)) for b in blocks], limit, split_text)
