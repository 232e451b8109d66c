"""Alerts to Telegram messages: HTML chunks, and a plain-text fallback.

Owns the alert layout, the fixed words of it (`Labels`, one table so it can be translated),
the bounds on every field, highlighting of matched terms, and the splitting of the result
into messages Telegram accepts (via `bot.delivery.telegram_html`). Layout:

    🏷 Tariffs · Export controls              topic badges (at most 5 names, then +K)
    <b><a href="URL">Title</a></b>            linked only for http(s) URLs; title <= 300
    <i>Reuters · 27 Nov 14:05 CET</i>         source and time in the chat's zone
    (blank line)
    Summary with <b>matched terms</b>
    (blank line)
    Also reported by: A, B, +3                at most 5 names, then +K

Every feed string is cleaned of control characters and escaped; markup is only ever built
here. The summary is rendered whole (bounding it is `bot.summary`'s job), so an oversized
one becomes several messages rather than losing text. PURE: the time zone is a parameter;
no I/O, no clock. Must not send anything, build keyboards or decide on retries.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from urllib.parse import urlsplit

from bot.delivery.telegram_html import (
    MAX_MESSAGE_UTF16,
    escape,
    split_html,
    split_text,
    utf16_len,
)
from bot.model import Alert
from bot.text.chars import clean_chars, fold_line, fold_spaces, is_cjk
from bot.text.truncate import truncate

__all__ = [
    "ENGLISH", "MAX_MESSAGE_UTF16", "Labels", "escape", "format_alert", "format_alert_plain",
    "highlight_html", "render_alert", "render_alert_plain", "split_html", "split_text",
    "utf16_len",
]

MAX_TITLE_CHARS = 300
MAX_SOURCE_CHARS = 80
MAX_NAME_CHARS = 60
MAX_NAMES = 5
MAX_TOPICS = 5
MAX_URL_CHARS = 2048
MAX_TERMS = 50
MAX_TERM_CHARS = 100
# Telegram caps the entities of one message; a summary where a common term occurs hundreds
# of times must not turn into an "entities too long" rejection.
MAX_HIGHLIGHTS = 30
_BLANK_LINES = re.compile(r"\n[^\S\n]*\n\s*")


@dataclass(frozen=True, slots=True)
class Labels:
    """Every fixed word of the layout, so a translation is one more instance of this."""

    topic_badge: str = "🏷 {topics}"
    topic_separator: str = " · "
    meta_separator: str = " · "
    also_reported_by: str = "Also reported by: {names}"
    name_separator: str = ", "
    more: str = "+{count}"
    untitled: str = "(untitled)"
    months: tuple[str, ...] = (
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    )
    # For the I/O side's inline keyboard, kept here so all fixed words live in one table.
    open_button: str = "Open"
    mute_button: str = "Mute this topic"
    why_button: str = "Why this alert?"


ENGLISH = Labels()


def line_field(text: str, limit: int) -> str:
    """A single-line field: cleaned, whitespace folded, bounded."""
    return truncate(fold_line(clean_chars(text)), limit)


def _bounded_list(names: tuple[str, ...], exclude: str, limit: int, labels: Labels,
                  separator: str) -> str:
    """Distinct non-empty names (case-insensitively, minus `exclude`), at most `limit`
    shown, the rest counted as "+K"."""
    seen = {exclude.casefold()} if exclude else set()
    unique: list[str] = []
    for name in names:
        cleaned = line_field(name, MAX_NAME_CHARS)
        if cleaned and cleaned.casefold() not in seen:
            seen.add(cleaned.casefold())
            unique.append(cleaned)
    shown = unique[:limit]
    if len(unique) > limit:
        shown.append(labels.more.format(count=len(unique) - limit))
    return separator.join(shown)


def format_time(published_at: datetime | None, tz: tzinfo, labels: Labels = ENGLISH) -> str:
    """"27 Nov 14:05 CET" in the chat's zone; "" when unknown. Naive times are UTC."""
    if published_at is None:
        return ""
    if published_at.tzinfo is None:
        published_at = published_at.replace(tzinfo=UTC)
    try:
        local = published_at.astimezone(tz)
    except OverflowError:  # year 1 or 9999 shifted out of range: a feed's bogus date
        local = published_at.astimezone(UTC)
    zone = local.tzname() or ""
    if zone[:1] in "+-" and zone:
        zone = "UTC" + zone  # zones without an abbreviation name themselves "+08"
    month = labels.months[local.month - 1]
    return f"{local.day} {month} {local:%H:%M} {zone}".rstrip()


def link_url(url: str | None) -> str | None:
    """The URL if Telegram can link it: http(s), a host, no spaces or controls, bounded."""
    if not url or len(url) > MAX_URL_CHARS or clean_chars(url) != url:
        return None
    if any(char.isspace() for char in url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return url


def _wordlike(char: str) -> bool:
    """Word boundaries apply to scripts with spaces; a CJK term matches anywhere."""
    return (char.isalnum() or char == "_") and not is_cjk(char)


def _term_pattern(term: str) -> re.Pattern[str] | None:
    """A matched term as a case-insensitive pattern on word boundaries. Query syntax that
    reaches here is honoured: surrounding quotes are dropped and a trailing * is a prefix."""
    term = fold_line(clean_chars(term)).strip("\"“”'")
    prefix = term.endswith("*")
    term = term.rstrip("*").strip()
    if not term or len(term) > MAX_TERM_CHARS:
        return None
    body = r"[\s\-‐–]+".join(re.escape(word) for word in term.split(" "))
    left = r"(?<!\w)" if _wordlike(term[0]) else ""
    if prefix:
        right = r"\w*" if _wordlike(term[-1]) else ""
    else:
        right = r"(?!\w)" if _wordlike(term[-1]) else ""
    return re.compile(left + body + right, re.IGNORECASE)


def _highlight_spans(text: str, terms: tuple[str, ...]) -> list[tuple[int, int]]:
    """Merged (overlapping or touching) spans of every term, at most MAX_HIGHLIGHTS."""
    found: list[tuple[int, int]] = []
    for term in terms[:MAX_TERMS]:
        pattern = _term_pattern(term)
        if pattern is not None:
            found.extend(m.span() for m in pattern.finditer(text) if m.end() > m.start())
    merged: list[tuple[int, int]] = []
    for start, end in sorted(found):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged[:MAX_HIGHLIGHTS]


def highlight_html(text: str, terms: tuple[str, ...]) -> str:
    """Escape `text` and wrap each occurrence of `terms` in <b>. Matching runs on the plain
    text and escaping happens per piece, so a bold tag never lands inside `&amp;`."""
    out: list[str] = []
    position = 0
    for start, end in _highlight_spans(text, terms):
        out.append(escape(text[position:start]))
        out.append(f"<b>{escape(text[start:end])}</b>")
        position = end
    out.append(escape(text[position:]))
    return "".join(out)


@dataclass(frozen=True, slots=True)
class _Fields:
    badge: str
    title: str
    url: str | None
    meta: str
    summary: str
    also: str


def _fields(alert: Alert, tz: tzinfo, labels: Labels) -> _Fields:
    source = line_field(alert.source, MAX_SOURCE_CHARS)
    topics = _bounded_list(alert.topics, "", MAX_TOPICS, labels, labels.topic_separator)
    also = _bounded_list(alert.also_reported_by, source, MAX_NAMES, labels,
                         labels.name_separator)
    meta = labels.meta_separator.join(
        part for part in (source, format_time(alert.published_at, tz, labels)) if part
    )
    paragraphs = (fold_spaces(part) for part in _BLANK_LINES.split(clean_chars(alert.summary)))
    summary = "\n\n".join(part for part in paragraphs if part)
    return _Fields(
        badge=labels.topic_badge.format(topics=topics) if topics else "",
        title=line_field(alert.title, MAX_TITLE_CHARS) or labels.untitled,
        url=link_url(alert.url),
        meta=meta,
        summary=summary,
        also=labels.also_reported_by.format(names=also) if also else "",
    )


def _assemble(head: list[str], summary: str, also: str) -> str:
    blocks = ["\n".join(line for line in head if line), summary, also]
    return "\n\n".join(block for block in blocks if block)


def format_alert(alert: Alert, tz: tzinfo, labels: Labels = ENGLISH) -> str:
    """The whole alert as one Telegram HTML string, before splitting."""
    f = _fields(alert, tz, labels)
    title = f"<b>{escape(f.title)}</b>"
    if f.url:
        title = f'<b><a href="{escape(f.url)}">{escape(f.title)}</a></b>'
    meta = f"<i>{escape(f.meta)}</i>" if f.meta else ""
    return _assemble([escape(f.badge), title, meta],
                     highlight_html(f.summary, alert.highlight_terms), escape(f.also))


def format_alert_plain(alert: Alert, tz: tzinfo, labels: Labels = ENGLISH) -> str:
    """The whole alert as plain text (no parse_mode), the URL on its own line."""
    f = _fields(alert, tz, labels)
    return _assemble([f.badge, f.title, f.meta, f.url or ""], f.summary, f.also)


def render_alert(alert: Alert, tz: tzinfo, labels: Labels = ENGLISH) -> list[str]:
    """Telegram HTML messages for one alert: each valid on its own, non-empty, within
    MAX_MESSAGE_UTF16 after entity parsing. Normally exactly one."""
    return split_html(format_alert(alert, tz, labels))


def render_alert_plain(alert: Alert, tz: tzinfo, labels: Labels = ENGLISH) -> list[str]:
    """The same alert without markup, for a resend after "can't parse entities"."""
    return split_text(format_alert_plain(alert, tz, labels))
