"""Optional full text for alerts (`[summary] fetch_article`): an item's article page, fetched
and reduced to its main text.

Owns: deciding whether a page is worth a request (feature on, http(s), not an aggregator
redirect page); fetching it through a `Fetcher` (per-host limits, body cap, timeouts: give
it one built with `article_limits`); judging the answer (HTML, an article, long enough);
extracting the main text with trafilatura in a worker thread; and a bounded in-memory LRU
cache keyed by canonical URL, holding failures too (for a shorter time), so one article
carried by several feeds is fetched once and a broken site is not hammered.

Must not: raise to its caller (any failure is `None`, meaning "use the feed text"), block
the event loop, read the wall clock (the clock is injected), summarise or escape for
Telegram (`bot.summary` and `bot.delivery.render` do), or persist anything.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import html
import logging
import re
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from html.parser import HTMLParser
from urllib.parse import urlsplit

from bot.feeds.fetch import Fetched, Fetcher, FetchError, FetchLimits
from bot.stories import canonical_url
from bot.text.chars import clean_chars, fold_spaces, is_cjk
from bot.text.html_text import html_to_text

__all__ = ["ArticleFetcher", "ArticleSettings", "article_limits", "extract_article"]

log = logging.getLogger(__name__)

# Pages that never hold the article: Google News answers its item links with a script
# redirect, so fetching one costs a request and yields nothing.
_AGGREGATOR_HOSTS = frozenset({"news.google.com"})
_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
# Less than this is a teaser, a consent wall or a bot check, not an article. CJK characters
# count twice: a Chinese sentence is about half as many characters as an English one.
_MIN_ARTICLE_WEIGHT = 200
# og:type values that announce a page other than an article (section fronts, profiles).
_NOT_ARTICLE_TYPES = ("website", "profile", "book", "video.", "music.")
# Extraction is CPU-bound; two at a time leave the default executor to feed parsing.
_EXTRACTIONS_AT_ONCE = 2
# How far into a page to look for its og:type and headline.
_HEAD_SCAN_CHARS = 512_000
# What the cache keeps of an article: whole paragraphs up to this many characters. A lead
# reads at most summary_chars (<= 2,000) plus a look-ahead, and 2,000 entries of full
# articles would hold tens of megabytes.
_KEPT_CHARS = 8_000
# Ad slots inside the article body, whose markup trafilatura does not always know (older
# versions keep "ad ad-inline"; none knows Spanish "publicidad"): class tokens that are
# exactly these, or start with these prefixes, and anything carrying an ad-slot attribute.
_AD_CLASS_TOKENS = ("ad", "ads", "advertisement")
_AD_CLASS_PREFIXES = ("ad-", "ads-", "advert", "sponsor", "publicidad", "publicite",
                      "publicité", "anuncio", "werbung")
_CLASS_TOKENS = "concat(' ', normalize-space(@class), ' ')"
_PRUNE_XPATH = (
    "//*[not(self::html or self::body or self::main or self::article)][@data-ad-slot or "
    + " or ".join([*(f"contains({_CLASS_TOKENS}, ' {t} ')" for t in _AD_CLASS_TOKENS),
                   *(f"contains({_CLASS_TOKENS}, ' {p}')" for p in _AD_CLASS_PREFIXES)])
    + "]"
)
_HEADER_CHARSET = re.compile(r"charset\s*=\s*[\"']?\s*([\w.:-]+)", re.IGNORECASE)
_META_CHARSET = re.compile(rb"<meta[^>]{0,300}?charset\s*=\s*[\"']?\s*([\w.:-]{1,40})",
                           re.IGNORECASE)
# Labels whose real-world content is a superset (as browsers decode them, WHATWG Encoding).
_CODEC_SUPERSETS = {"gb2312": "gb18030", "gbk": "gb18030", "x-gbk": "gb18030",
                    "iso-8859-1": "cp1252", "latin1": "cp1252", "us-ascii": "cp1252",
                    "ascii": "cp1252"}


@dataclass(frozen=True)
class ArticleSettings:
    enabled: bool = False
    max_bytes: int = 2_000_000
    timeout: timedelta = timedelta(seconds=10)
    cache_size: int = 2000
    cache_ttl: timedelta = timedelta(hours=24)
    failure_ttl: timedelta = timedelta(minutes=30)


def article_limits(settings: ArticleSettings, base: FetchLimits | None = None) -> FetchLimits:
    """Limits for a `Fetcher` of article pages: the feeds' user agent with the article
    timeout and body cap, at most 4 pages at once and one per host, because the feeds'
    own fetcher may already hold that host's slots."""
    base = base or FetchLimits()
    return replace(base, timeout=settings.timeout, max_body_bytes=settings.max_bytes,
                   per_host=1, max_concurrency=min(base.max_concurrency, 4))


@dataclass(frozen=True, slots=True)
class _Entry:
    text: str | None  # None: the last attempt failed
    expires_at: datetime


class ArticleFetcher:
    """Main text of article pages, cached; `None` whenever the feed text should be used."""

    def __init__(self, fetcher: Fetcher, settings: ArticleSettings,
                 clock: Callable[[], datetime]) -> None:
        self.settings = settings
        self._fetcher = fetcher
        self._clock = clock
        self._cache: OrderedDict[str, _Entry] = OrderedDict()
        self._loading: dict[str, asyncio.Task[str | None]] = {}
        self._extracting = asyncio.Semaphore(_EXTRACTIONS_AT_ONCE)

    async def text_for(self, url: str | None, *, feed_html: str = "") -> str | None:
        """The article's main text as minimal HTML (one escaped `<p>` per paragraph, so
        `summarize()` reads `<` and `&` in it as text), to pass as `content_html`; or None:
        use the feed text. None also when the feature is off or the URL is not worth a
        request; it never raises.

        With `feed_html` (the item's own summary or content, HTML or plain), an article
        whose text is not longer than it is not worth using and gives None too.
        """
        if not self.settings.enabled or not url or not _worth_fetching(url):
            return None
        text = await self._cached_or_loaded(url, canonical_url(url))
        if text is None:
            return None
        if feed_html and len(text) <= len(html_to_text(feed_html)):
            return None
        return "".join(f"<p>{html.escape(line, quote=False)}</p>" for line in text.split("\n"))

    async def aclose(self) -> None:
        """Cancel loads still running (their callers are gone); the Fetcher is not ours."""
        pending = list(self._loading.values())
        for task in pending:
            task.cancel()
        for task in pending:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _cached_or_loaded(self, url: str, key: str) -> str | None:
        entry = self._cache.get(key)
        if entry is not None:
            if entry.expires_at > self._clock():
                self._cache.move_to_end(key)
                return entry.text
            del self._cache[key]
        task = self._loading.get(key)
        if task is None:
            # Feeds polled side by side carry the same article: they share one request.
            task = asyncio.create_task(self._load(url, key), name=f"article {key}")
            self._loading[key] = task
            task.add_done_callback(lambda _: self._loading.pop(key, None))
        # One caller being cancelled must not cancel the load the others wait for.
        return await asyncio.shield(task)

    async def _load(self, url: str, key: str) -> str | None:
        try:
            text, reason = await self._fetch_text(url)
        except Exception:
            log.exception("article %s: extraction failed", url)
            text, reason = None, "extractor error"
        if text is None:
            log.info("article %s: using the feed text (%s)", url, reason)
            self._remember(key, _Entry(None, self._clock() + self.settings.failure_ttl))
        else:
            self._remember(key, _Entry(text, self._clock() + self.settings.cache_ttl))
        return text

    async def _fetch_text(self, url: str) -> tuple[str | None, str]:
        # The Fetcher bounds each exchange (2x its timeout); the rest is for a per-host slot.
        ceiling = self.settings.timeout.total_seconds() * 3
        try:
            async with asyncio.timeout(ceiling):
                outcome = await self._fetcher.fetch(url)
        except TimeoutError:
            return None, f"no answer within {ceiling:g} s"
        if isinstance(outcome, FetchError):
            return None, f"{outcome.kind}: {outcome.message}"
        if not isinstance(outcome, Fetched):
            return None, "not modified without a validator"
        if len(outcome.body) > self.settings.max_bytes:
            return None, f"body over {self.settings.max_bytes} bytes"
        if not _is_html(outcome.body, outcome.content_type):
            return None, f"not HTML ({outcome.content_type or 'no content type'})"
        async with self._extracting:
            return await asyncio.to_thread(extract_article, outcome.body, outcome.content_type)

    def _remember(self, key: str, entry: _Entry) -> None:
        self._cache[key] = entry
        self._cache.move_to_end(key)
        while len(self._cache) > max(self.settings.cache_size, 0):
            self._cache.popitem(last=False)


def _worth_fetching(url: str) -> bool:
    try:
        parts = urlsplit(url.strip())
        host = (parts.hostname or "").lower()
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(host) and (
        host not in _AGGREGATOR_HOSTS)


def _is_html(body: bytes, content_type: str | None) -> bool:
    mime = (content_type or "").split(";", 1)[0].strip().lower()
    if mime in _HTML_TYPES:
        return True
    if mime not in ("", "application/octet-stream"):
        return False
    # No usable type: sniff, as browsers do.
    head = body[:1024].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html")) or b"<html" in head


def extract_article(body: bytes, content_type: str | None = None) -> tuple[str | None, str]:
    """(main text, "ok") or (None, why not): plain text, one paragraph a line, without the
    headline. CPU-bound: call it in a worker thread."""
    markup = _decode(body, content_type)
    page = _PageInfo.scan(markup if isinstance(markup, str)
                          else markup.decode("utf-8", errors="replace"))
    if page.og_type and page.og_type.startswith(_NOT_ARTICLE_TYPES):
        return None, f"not an article (og:type {page.og_type})"
    raw = _main_text(markup)
    if not raw:
        return None, "no main text found"
    # A paragraph repeated is an extraction artefact (older trafilatura doubles teasers).
    lines = list(dict.fromkeys(fold_spaces(clean_chars(raw)).split("\n")))
    text = _leading_paragraphs(_without_headline(lines, page.titles))
    weight = sum(2 if is_cjk(c) else 1 for c in text if not c.isspace())
    if weight < _MIN_ARTICLE_WEIGHT:
        return None, f"too short for an article ({len(text)} characters)"
    return text, "ok"


def _leading_paragraphs(lines: list[str]) -> str:
    kept: list[str] = []
    size = 0
    for line in lines:
        if size + len(line) > _KEPT_CHARS:
            if not kept:
                kept.append(line[:_KEPT_CHARS])
            break
        kept.append(line)
        size += len(line) + 1
    return "\n".join(kept)


def _main_text(markup: str | bytes) -> str | None:
    """The one call into trafilatura (imported here: 0.3 s, paid only when the feature is on)."""
    import trafilatura  # noqa: PLC0415

    # Precision over recall: a lead taken from a paywall prompt or a comment is worse than
    # the feed's own text, which is always there to fall back on.
    text: str | None = trafilatura.extract(
        markup, output_format="txt", favor_precision=True, include_comments=False,
        include_tables=False, include_images=False, include_links=False,
        with_metadata=False, deduplicate=False, prune_xpath=[_PRUNE_XPATH])
    return text


def _decode(body: bytes, content_type: str | None) -> str | bytes:
    """Text in the declared encoding (header, then <meta>), else UTF-8; bytes when neither
    fits, for trafilatura to guess. A byte order mark overrides both, as in browsers."""
    if body.startswith(codecs.BOM_UTF8):
        return body[len(codecs.BOM_UTF8) :].decode("utf-8", errors="replace")
    header = _HEADER_CHARSET.search(content_type or "")
    meta = _META_CHARSET.search(body[:4096])
    declared = [header.group(1) if header else None,
                meta.group(1).decode("ascii", errors="replace") if meta else None]
    for label in filter(None, declared):
        codec = _CODEC_SUPERSETS.get(label.lower(), label)
        with contextlib.suppress(LookupError):
            return body.decode(codec, errors="replace")
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return body


def _without_headline(lines: list[str], titles: list[str]) -> list[str]:
    """Drop the headline that extractors keep: the alert shows the title already, and a
    headline without a full stop would become the whole lead."""
    keys = [k for k in (_title_key(t) for t in titles) if k]
    dropped = 0
    while lines and dropped < 2:
        line = _title_key(lines[0])
        # <title> is often "Headline | Site name": a long enough prefix of it is the headline.
        if not any(k == line or (len(line) >= 20 and k.startswith(line)) for k in keys):
            break
        lines = lines[1:]
        dropped += 1
    return lines


def _title_key(text: str) -> str:
    return " ".join(text.split()).casefold()


class _PageInfo(HTMLParser):
    """og:type and the page's headline spellings (og:title, <title>, the first <h1>)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.og_type: str | None = None
        self.titles: list[str] = []
        self.done = False
        self._open: str | None = None
        self._seen: set[str] = set()
        self._parts: list[str] = []

    @classmethod
    def scan(cls, markup: str) -> _PageInfo:
        info = cls()
        for start in range(0, min(len(markup), _HEAD_SCAN_CHARS), 16_384):
            info.feed(markup[start : start + 16_384])
            if info.done:
                break
        return info

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "meta":
            values = dict(attrs)
            name = (values.get("property") or values.get("name") or "").strip().lower()
            content = (values.get("content") or "").strip()
            if name == "og:type" and content:
                self.og_type = content.lower()
            elif name in ("og:title", "twitter:title") and content:
                self.titles.append(content)
        elif tag in ("title", "h1") and self._open is None and tag not in self._seen:
            self._open, self._parts = tag, []

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            self._parts.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == self._open:
            self.titles.append("".join(self._parts))
            self._seen.add(tag)
            self._open = None
            self.done = tag == "h1"
