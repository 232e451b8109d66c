"""PURE: feed bytes + response headers -> ParsedFeed. The only place feedparser runs.

Feed text is untrusted: every field is bounded here, before anything else sees
it. feedparser is always given bytes, never a URL (it must not do network I/O).
"""

from __future__ import annotations

import calendar
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import feedparser

from bot.feeds.dates import parse_loose_date
from bot.model import ParsedFeed, ParsedItem
from bot.summary import html_to_text

MAX_ITEMS = 500
MAX_TITLE = 1_000
MAX_HTML = 100_000
MAX_URL = 2_048
MAX_GUID = 1_000
MAX_INT_DIGITS = 9  # a ttl of 10**9 minutes is already 1,900 years


def parse_feed(body: bytes, url: str, content_type: str | None = None) -> ParsedFeed:
    """Parse one document. Never raises for bad input: a broken document gives
    `ParsedFeed(items=(), problem=...)`."""
    try:
        parsed = feedparser.parse(body, response_headers=response_headers(url, content_type),
                                  sanitize_html=True, resolve_relative_uris=True)
    except Exception as exc:  # feedparser is fed hostile bytes: contain anything
        return ParsedFeed(title=None, link=None, items=(), is_feed=False,
                          problem=f"parser crashed: {type(exc).__name__}")
    feed: Any = parsed.get("feed", {})
    entries: list[Any] = list(parsed.get("entries", []))[:MAX_ITEMS]
    problem = None
    lenient = False
    if parsed.get("bozo"):
        bozo = parsed.get("bozo_exception")
        problem = f"{type(bozo).__name__}: {str(bozo)[:200]}" if bozo else "malformed document"
        # feedparser's own notes (content type, encoding) keep the strict XML parser;
        # anything else means the document was read leniently.
        lenient = not isinstance(bozo, feedparser.ThingsNobodyCaresAboutButMe)
    is_feed = bool(entries or parsed.get("version"))
    if not is_feed:
        problem = f"not a feed ({problem})" if problem else "not a feed"
    items, unreadable = _items(entries)
    if unreadable:
        note = f"{unreadable} unreadable item(s) left out"
        problem = f"{problem}; {note}" if problem else note
    return ParsedFeed(
        title=_text(feed.get("title"), MAX_TITLE),
        link=_url(feed.get("link")),
        items=items,
        ttl_minutes=_int(feed.get("ttl")),
        update_period=_update_period(feed.get("sy_updateperiod"),
                                     feed.get("sy_updatefrequency")),
        problem=problem,
        lenient=lenient,
        is_feed=is_feed,
    )


def response_headers(url: str, content_type: str | None) -> dict[str, str]:
    """What feedparser is told of the HTTP response: the charset of Content-Type decides
    the encoding over the XML declaration (RFC 7303), and the final URL is the base for
    relative links."""
    headers = {"content-location": url}
    if content_type:
        headers["content-type"] = content_type
    return headers


def _items(entries: list[Any]) -> tuple[tuple[ParsedItem, ...], int]:
    """The entries as items, and how many could not be read: one hostile entry (a date
    past year 9999, say) costs that entry, not the feed's other items."""
    items: list[ParsedItem] = []
    unreadable = 0
    for entry in entries:
        try:
            items.append(_item(entry))
        except Exception:  # untrusted input meets library code: contain anything
            unreadable += 1
    return tuple(items), unreadable


def _item(entry: Any) -> ParsedItem:
    content = entry.get("content") or []
    content_html = "".join(str(c.get("value", "")) for c in content if isinstance(c, dict))
    source: Any = entry.get("source") or {}
    title = _text(entry.get("title"), MAX_TITLE) or ""
    detail: Any = entry.get("title_detail") or {}
    if detail.get("type") == "text/html":
        title = html_to_text(title)[:MAX_TITLE]
    return ParsedItem(
        guid=_text(entry.get("id"), MAX_GUID),
        link=_url(entry.get("link")),
        title=title,
        summary_html=(_text(entry.get("summary"), MAX_HTML) or ""),
        content_html=content_html[:MAX_HTML],
        # dict.get, not entry.get: FeedParserDict's own fallback mapping warns on every call.
        published_at=_date(dict.get(entry, "published_parsed")
                           or dict.get(entry, "updated_parsed"))
        or parse_loose_date(_raw_date(entry)),
        author=_text(entry.get("author"), 200),
        source_url=_url(source.get("href") if isinstance(source, dict) else None),
        source_title=_text(source.get("title") if isinstance(source, dict) else None, 200),
    )


def _raw_date(entry: Any) -> str | None:
    """The date text feedparser kept but could not read, for `parse_loose_date`."""
    raw = dict.get(entry, "published") or dict.get(entry, "updated")
    return raw if isinstance(raw, str) else None


def _text(value: Any, limit: int) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text[:limit] or None


def _url(value: Any) -> str | None:
    text = _text(value, MAX_URL)
    if text and text.lower().startswith(("http://", "https://")):
        return text
    return None


def _int(value: Any) -> int | None:
    """A small positive whole number (ttl, sy:updateFrequency), or None."""
    text = str(value).strip()
    if not (text.isascii() and text.isdigit()) or len(text) > MAX_INT_DIGITS:
        return None
    number = int(text)
    return number if number > 0 else None


_PERIODS = {"hourly": timedelta(hours=1), "daily": timedelta(days=1),
            "weekly": timedelta(weeks=1), "monthly": timedelta(days=30),
            "yearly": timedelta(days=365)}


def _update_period(period: Any, frequency: Any) -> timedelta | None:
    """sy:updatePeriod=hourly with sy:updateFrequency=2 means every 30 minutes."""
    base = _PERIODS.get(str(period).strip().lower()) if period else None
    if base is None:
        return None
    return base / (_int(frequency) or 1)


def _date(value: Any) -> datetime | None:
    if not isinstance(value, time.struct_time):
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(value), tz=UTC)
    except (OverflowError, ValueError, OSError):
        return None
