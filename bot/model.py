"""Frozen dataclasses shared by the pure core.

Nothing here does I/O. Timestamps are aware UTC datetimes named `*_at`;
durations are `timedelta`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta


@dataclass(frozen=True, slots=True)
class ParsedItem:
    """One entry as the feed gave it, before keys and matching.

    `title` is plain text; `summary_html`/`content_html` are the feed's markup,
    already bounded in size by the parser, still untrusted.
    """

    guid: str | None
    link: str | None
    title: str
    summary_html: str
    content_html: str
    published_at: datetime | None
    author: str | None = None
    source_url: str | None = None  # <source url=...> (e.g. Google News gives the outlet's URL)
    source_title: str | None = None


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    """What the parser made of one document."""

    title: str | None
    link: str | None
    items: tuple[ParsedItem, ...]
    ttl_minutes: int | None = None
    update_period: timedelta | None = None  # sy:updatePeriod / sy:updateFrequency
    problem: str | None = None  # set when the document was malformed (bozo) but usable
    # Read by feedparser's lenient parser because the bytes are not well-formed XML (a mere
    # note such as "no XML content type" leaves this False).
    lenient: bool = False
    is_feed: bool = True  # feedparser recognised RSS, Atom, RDF or JSON Feed

    @property
    def broken(self) -> bool:
        """Nothing usable: no items, and the document is not a feed or not well-formed.
        A well-formed feed with no items (a quiet feed) is not broken, whatever notes
        feedparser made about it (a text/html Content-Type, say)."""
        return not self.items and (not self.is_feed or self.lenient)


@dataclass(frozen=True, slots=True)
class Item:
    """A stored item: what matching, stories and rendering work on."""

    key: str
    feed_url: str
    source: str
    title: str
    summary: str  # plain text, cleaned, bounded
    url: str | None
    published_at: datetime | None
    first_seen_at: datetime
    guid: str | None = None


@dataclass(frozen=True, slots=True)
class Hit:
    """One term occurrence that made a clause true."""

    term: str
    field: str  # "title" | "summary"
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class TopicMatch:
    """An item matched a topic, with the evidence."""

    slug: str
    score: float
    hits: tuple[Hit, ...] = ()
    clauses: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Alert:
    """Everything the renderer needs for one alert message."""

    title: str
    url: str | None
    source: str
    summary: str
    published_at: datetime | None
    topics: tuple[str, ...]  # topic display names
    highlight_terms: tuple[str, ...] = ()
    also_reported_by: tuple[str, ...] = field(default=())
