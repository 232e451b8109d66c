"""A real HTTP feed server on 127.0.0.1 for tests and benchmarks, driven from Python.

What it serves (thread-safe control from the test's thread, any number of client connections,
HTTP/1.1 keep-alive with Content-Length on every response that has a body, unless a fault
streams it chunked or until close):

- Dynamic feeds: ``add_feed`` / ``publish`` build RSS 2.0 or Atom 1.0 documents from
  ``FeedEntry`` values (newest first), rendered once per change and cached as bytes (identity,
  and gzip / deflate / br on first demand), so thousands of feeds answer quickly.
- Static bytes: ``serve_bytes`` serves a body byte-for-byte with the caller's headers;
  ``serve_feedparser_case`` does so for a file of feedparser's own test suite, turning the
  ``Header:`` lines of its leading XML comment into real response headers.
- Conditional GET: a strong ETag from a content hash and Last-Modified (time of last change,
  kept strictly increasing in whole seconds so that a change is never hidden by the one-second
  resolution of HTTP dates); ``If-None-Match`` / ``If-Modified-Since`` answer 304 without a
  body. Either validator can be switched off, or validators ignored (always 200), or left
  out of 304s only (``validators_in_304``: a 304 needs to repeat only what changed).
- Compression: gzip, deflate (zlib-wrapped) or br when the client's Accept-Encoding allows it
  and the resource enables it (``Vary: Accept-Encoding``): the highest q-value wins, ties in
  that order. Raw deflate and other odd encodings: ``serve_bytes`` with a Content-Encoding.
- Faults per path (``Fault``): status codes with headers (Retry-After as seconds or HTTP-date),
  redirects and redirect loops, slow headers, trickled or truncated bodies, connection reset or
  close without a response, oversized bodies, compression bombs (gzip, deflate, raw deflate
  or br), a deflate stream of empty blocks that decodes to nothing, a wrong Content-Type, an
  HTML page, invalid XML, an empty body. Streamed faults can go out with Content-Length,
  delimited by closing the connection, or chunked.
- A request log and counters, and control endpoints under ``/_control/`` (publish, stats,
  reset) for a server running in another process: ``python -m tests.fakes.feed_server
  --synthetic N`` serves N synthetic feeds at ``/feeds/{i}.xml`` (i from 0) and prints its
  base URL on the first line of stdout.

What it does not do: listen anywhere but 127.0.0.1, speak TLS or HTTP/2, honour Range,
If-Match or If-Range, accept chunked request bodies, or check XML handed to ``serve_bytes``.
Atom has no TTL element, so ``ttl`` is rendered into RSS only. Trickled and truncated bodies
are always the full identity body with status 200 (no compression, no 304). Control requests
are neither logged nor counted.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import gzip
import hashlib
import json
import random
import re
import signal
import socket
import socketserver
import struct
import sys
import threading
import time
import zlib
from collections import Counter, deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, formatdate, parsedate_to_datetime
from enum import StrEnum
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Literal, NamedTuple, Self
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape, quoteattr

import brotli  # type: ignore[import-untyped]

__all__ = [
    "CORPUS_DIR",
    "FEEDPARSER_CASES_DIR",
    "BombCoding",
    "Fault",
    "FaultKind",
    "FeedEntry",
    "FeedKind",
    "FeedServer",
    "FeedparserCase",
    "RequestRecord",
    "ServerStats",
    "main",
    "read_feedparser_case",
    "render_feed",
    "synthetic_entry",
]

FeedKind = Literal["rss", "atom"]
# "raw-deflate" goes out as ``Content-Encoding: deflate`` without the zlib wrapper.
BombCoding = Literal["gzip", "deflate", "raw-deflate", "br"]
NotModifiedValidators = Literal["both", "etag", "last-modified"]
HeaderInput = Mapping[str, str] | Sequence[tuple[str, str]]

# The corpus lives beside the project root (../shared/corpus), also in CI's fresh clone.
CORPUS_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"
FEEDPARSER_CASES_DIR = CORPUS_DIR / "feedparser-tests"

_CONTENT_TYPES: dict[str, str] = {
    "rss": "application/rss+xml; charset=utf-8",
    "atom": "application/atom+xml; charset=utf-8",
}
# Headers the server computes itself; given values for these are dropped or used specially.
_MANAGED = frozenset(
    {"content-length", "transfer-encoding", "connection", "date", "server", "keep-alive"}
)
# Given headers the snapshot carries separately, or that the server writes itself.
_NOT_PASSED_ON = _MANAGED | {"content-type", "etag", "last-modified"}
_MiB = 1024 * 1024


# --------------------------------------------------------------------------- data types


@dataclass(frozen=True, slots=True)
class FeedEntry:
    """One item of a dynamic feed. ``summary`` and ``content`` may hold HTML."""

    guid: str
    title: str
    link: str
    summary: str
    published: datetime
    content: str | None = None
    source_url: str | None = None
    source_title: str | None = None
    updated: datetime | None = None
    author: str | None = None
    categories: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name, value in (("published", self.published), ("updated", self.updated)):
            if value is not None and value.utcoffset() is None:
                raise ValueError(f"FeedEntry.{name} must be timezone-aware, got {value!r}")


class FaultKind(StrEnum):
    STATUS = "status"
    REDIRECT = "redirect"
    SLOW_HEADERS = "slow_headers"
    SLOW_BODY = "slow_body"
    TRUNCATED_BODY = "truncated_body"
    RESET = "reset"
    CLOSE = "close"
    OVERSIZED = "oversized"
    BOMB = "bomb"
    EMPTY_BLOCKS = "empty_blocks"
    WRONG_CONTENT_TYPE = "wrong_content_type"
    HTML_PAGE = "html_page"
    INVALID_XML = "invalid_xml"
    EMPTY_BODY = "empty_body"


@dataclass(frozen=True, slots=True)
class Fault:
    """What goes wrong on a path. Build with the class methods; combine with the ``with_*``.

    ``delay`` (seconds before the status line) applies to every kind; ``times`` limits the
    fault to the next N requests of its path, after which the path behaves normally again.
    """

    kind: FaultKind
    status: int = 200
    headers: tuple[tuple[str, str], ...] = ()
    location: str | None = None
    delay: float = 0.0
    chunk_size: int = 0
    interval: float = 0.0
    size: int = 0
    content_length: bool = True
    chunked: bool = False  # streamed faults: Transfer-Encoding chunked, no Content-Length
    coding: BombCoding = "gzip"
    content_type: str | None = None
    times: int | None = None

    @classmethod
    def http_status(
        cls,
        status: int,
        *,
        headers: HeaderInput | None = None,
        retry_after: int | datetime | None = None,
    ) -> Fault:
        """Answer ``status`` with a short text body, e.g. 404, 410, 429, 500, 503."""
        pairs = _header_pairs(headers)
        if retry_after is not None:
            value = str(retry_after) if isinstance(retry_after, int) else _http_date(retry_after)
            pairs.append(("Retry-After", value))
        return cls(FaultKind.STATUS, status=status, headers=tuple(pairs))

    @classmethod
    def redirect(cls, to: str | None = None, status: int = 302) -> Fault:
        """Redirect to ``to`` (a path on this server or an absolute URL); None: to itself."""
        if status not in (301, 302, 303, 307, 308):
            raise ValueError(f"not a redirect status: {status}")
        return cls(FaultKind.REDIRECT, status=status, location=to)

    @classmethod
    def redirect_loop(cls, status: int = 302) -> Fault:
        """Redirect every request of the path to the path itself, forever."""
        return cls.redirect(None, status)

    @classmethod
    def slow_headers(cls, seconds: float) -> Fault:
        """Wait ``seconds`` before answering normally (a slow server)."""
        return cls(FaultKind.SLOW_HEADERS, delay=seconds)

    @classmethod
    def slow_body(cls, chunk_size: int = 64, interval: float = 0.05) -> Fault:
        """Send headers at once, then trickle the body ``chunk_size`` bytes per interval."""
        return cls(FaultKind.SLOW_BODY, chunk_size=max(1, chunk_size), interval=interval)

    @classmethod
    def truncated_body(cls, after_bytes: int) -> Fault:
        """Announce the full Content-Length, send ``after_bytes`` of the body, then close."""
        return cls(FaultKind.TRUNCATED_BODY, size=after_bytes)

    @classmethod
    def reset(cls) -> Fault:
        """Read the request, then reset the connection (TCP RST) without a response."""
        return cls(FaultKind.RESET)

    @classmethod
    def close(cls) -> Fault:
        """Read the request, then close the connection (FIN) without a response."""
        return cls(FaultKind.CLOSE)

    @classmethod
    def oversized(
        cls, megabytes: float = 20.0, *, content_length: bool = True, chunked: bool = False
    ) -> Fault:
        """A feed-looking body of ``megabytes`` MiB, streamed; without Content-Length the
        body is delimited by closing the connection, or sent ``chunked``."""
        return cls(
            FaultKind.OVERSIZED,
            size=int(megabytes * _MiB),
            content_length=content_length,
            chunked=chunked,
        )

    @classmethod
    def bomb(
        cls,
        expanded_bytes: int = 1 << 30,
        coding: BombCoding = "gzip",
        *,
        content_length: bool = True,
        chunked: bool = False,
    ) -> Fault:
        """A compressed body that expands to ``expanded_bytes`` (rounded up to whole MiB) of
        zeros, whatever the client accepts: about 1 KB on the wire per MiB for the deflate
        family, under 2 KB per GiB for br (built once per size, ~0.7 s per GiB)."""
        return cls(
            FaultKind.BOMB,
            size=expanded_bytes,
            coding=coding,
            content_length=content_length,
            chunked=chunked,
        )

    @classmethod
    def gzip_bomb(cls, expanded_bytes: int = 1 << 30) -> Fault:
        """``bomb(expanded_bytes, "gzip")``."""
        return cls.bomb(expanded_bytes, "gzip")

    @classmethod
    def empty_blocks(
        cls,
        megabytes: float = 64.0,
        coding: Literal["gzip", "deflate"] = "gzip",
        *,
        content_length: bool = True,
        chunked: bool = False,
    ) -> Fault:
        """A gzip or (zlib) deflate stream of ``megabytes`` MiB of empty stored blocks and
        no end: valid so far, yet it decodes to nothing at all, however long it runs."""
        return cls(
            FaultKind.EMPTY_BLOCKS,
            size=int(megabytes * _MiB),
            coding=coding,
            content_length=content_length,
            chunked=chunked,
        )

    @classmethod
    def wrong_content_type(cls, content_type: str = "text/html; charset=utf-8") -> Fault:
        """Serve the path's normal body with another Content-Type."""
        return cls(FaultKind.WRONG_CONTENT_TYPE, content_type=content_type)

    @classmethod
    def html_page(cls, status: int = 200) -> Fault:
        """An HTML page (a bot check / consent wall) instead of the feed."""
        return cls(FaultKind.HTML_PAGE, status=status)

    @classmethod
    def invalid_xml(cls) -> Fault:
        """A feed-looking document that is not well-formed XML."""
        return cls(FaultKind.INVALID_XML)

    @classmethod
    def empty_body(cls, status: int = 200) -> Fault:
        """``status`` with a feed Content-Type and a zero-length body."""
        return cls(FaultKind.EMPTY_BODY, status=status)

    def with_delay(self, seconds: float) -> Fault:
        return replace(self, delay=seconds)

    def for_requests(self, count: int) -> Fault:
        """Apply to the next ``count`` requests only."""
        if count < 1:
            raise ValueError("count must be >= 1")
        return replace(self, times=count)


class RequestRecord(NamedTuple):
    """One request as the server saw it. ``headers`` has lower-case names; ``status`` is 0
    when no response was sent; ``bytes_sent`` counts body bytes on the wire."""

    method: str
    path: str
    headers: dict[str, str]
    status: int
    bytes_sent: int
    received_at: datetime
    query: str = ""
    duration: timedelta = timedelta(0)


@dataclass(frozen=True, slots=True)
class ServerStats:
    requests: int
    by_status: dict[int, int]
    by_path: dict[str, int]
    bytes_sent: int
    connections: int

    def to_json(self, *, paths: bool = False) -> dict[str, object]:
        data: dict[str, object] = {
            "requests": self.requests,
            "by_status": {str(k): v for k, v in sorted(self.by_status.items())},
            "not_modified": self.by_status.get(304, 0),
            "bytes_sent": self.bytes_sent,
            "connections": self.connections,
        }
        if paths:
            data["by_path"] = dict(sorted(self.by_path.items()))
        return data


@dataclass(frozen=True, slots=True)
class FeedparserCase:
    """A file of feedparser's test suite with the oracle lines of its leading comment."""

    file: Path
    headers: tuple[tuple[str, str], ...]
    description: str
    expect: str


# --------------------------------------------------------------------------- rendering

_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _text(value: str) -> str:
    # Characters XML 1.0 cannot represent at all are dropped; the rest is escaped.
    return escape(_XML_INVALID.sub("", value))


def _attr(value: str) -> str:
    return quoteattr(_XML_INVALID.sub("", value))


def _http_date(value: datetime) -> str:
    return format_datetime(value.astimezone(UTC), usegmt=True)


def _rfc3339(value: datetime) -> str:
    return value.isoformat(timespec="seconds")


def _render_rss(
    title: str,
    description: str,
    entries: Sequence[FeedEntry],
    self_url: str,
    site_url: str,
    updated_at: datetime,
    ttl: timedelta | None,
) -> str:
    out = [
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom"'
        ' xmlns:content="http://purl.org/rss/1.0/modules/content/"'
        ' xmlns:dc="http://purl.org/dc/elements/1.1/">\n<channel>\n',
        f"<title>{_text(title)}</title>\n<link>{_text(site_url)}</link>\n",
        f"<description>{_text(description)}</description>\n",
        f'<atom:link href={_attr(self_url)} rel="self" type="application/rss+xml"/>\n',
        f"<lastBuildDate>{format_datetime(updated_at)}</lastBuildDate>\n",
    ]
    if ttl is not None:
        out.append(f"<ttl>{max(1, -(-int(ttl.total_seconds()) // 60))}</ttl>\n")
    for e in entries:
        permalink = "true" if e.guid == e.link else "false"
        out.append(
            f"<item>\n<title>{_text(e.title)}</title>\n<link>{_text(e.link)}</link>\n"
            f'<guid isPermaLink="{permalink}">{_text(e.guid)}</guid>\n'
            f"<pubDate>{format_datetime(e.published)}</pubDate>\n"
        )
        if e.updated is not None:
            out.append(f"<atom:updated>{_rfc3339(e.updated)}</atom:updated>\n")
        if e.author is not None:
            out.append(f"<dc:creator>{_text(e.author)}</dc:creator>\n")
        out.extend(f"<category>{_text(c)}</category>\n" for c in e.categories)
        out.append(f"<description>{_text(e.summary)}</description>\n")
        if e.content is not None:
            out.append(f"<content:encoded>{_text(e.content)}</content:encoded>\n")
        if e.source_url is not None:
            out.append(
                f"<source url={_attr(e.source_url)}>{_text(e.source_title or '')}</source>\n"
            )
        out.append("</item>\n")
    out.append("</channel>\n</rss>\n")
    return "".join(out)


def _render_atom(
    title: str,
    description: str,
    entries: Sequence[FeedEntry],
    self_url: str,
    site_url: str,
    updated_at: datetime,
) -> str:
    out = [
        '<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">\n',
        f'<title type="text">{_text(title)}</title>\n',
        f'<subtitle type="text">{_text(description)}</subtitle>\n',
        f"<id>{_text(self_url)}</id>\n",
        f'<link rel="alternate" type="text/html" href={_attr(site_url)}/>\n',
        f'<link rel="self" type="application/atom+xml" href={_attr(self_url)}/>\n',
        f"<updated>{_rfc3339(updated_at)}</updated>\n",
        f"<author><name>{_text(title)}</name></author>\n",
    ]
    for e in entries:
        out.append(
            f'<entry>\n<title type="text">{_text(e.title)}</title>\n<id>{_text(e.guid)}</id>\n'
            f'<link rel="alternate" type="text/html" href={_attr(e.link)}/>\n'
            f"<published>{_rfc3339(e.published)}</published>\n"
            f"<updated>{_rfc3339(e.updated or e.published)}</updated>\n"
        )
        if e.author is not None:
            out.append(f"<author><name>{_text(e.author)}</name></author>\n")
        out.extend(f"<category term={_attr(c)}/>\n" for c in e.categories)
        out.append(f'<summary type="html">{_text(e.summary)}</summary>\n')
        if e.content is not None:
            out.append(f'<content type="html">{_text(e.content)}</content>\n')
        if e.source_url is not None or e.source_title is not None:
            out.append("<source>")
            if e.source_title is not None:
                out.append(f"<title>{_text(e.source_title)}</title>")
            if e.source_url is not None:
                out.append(f"<link href={_attr(e.source_url)}/>")
            out.append("</source>\n")
        out.append("</entry>\n")
    out.append("</feed>\n")
    return "".join(out)


def render_feed(
    kind: FeedKind,
    *,
    title: str,
    entries: Sequence[FeedEntry],
    self_url: str,
    site_url: str,
    updated_at: datetime,
    description: str = "",
    ttl: timedelta | None = None,
) -> bytes:
    """A complete RSS 2.0 or Atom 1.0 document (UTF-8), entries in the given order."""
    if kind == "rss":
        text = _render_rss(
            title, description or title, entries, self_url, site_url, updated_at, ttl
        )
    elif kind == "atom":
        text = _render_atom(title, description or title, entries, self_url, site_url, updated_at)
    else:
        raise ValueError(f"unknown feed kind {kind!r}")
    return text.encode("utf-8")


# --------------------------------------------------------------------------- corpus cases

_COMMENT = re.compile(rb"<!--(.*?)-->", re.DOTALL)


def read_feedparser_case(file: str | Path) -> FeedparserCase:
    """Parse the leading comment of a feedparser test file (path absolute, or relative to
    ``FEEDPARSER_CASES_DIR``): its ``Header:``, ``Description:`` and ``Expect:`` lines."""
    path = Path(file)
    if not path.is_absolute():
        path = FEEDPARSER_CASES_DIR / path
    match = _COMMENT.search(path.read_bytes())
    headers: list[tuple[str, str]] = []
    fields: dict[str, str] = {}
    if match is not None:
        for raw in match.group(1).decode("latin-1").splitlines():
            key, sep, rest = raw.strip().partition(":")
            if not sep:
                continue
            if key == "Header":
                name, _, value = rest.strip().partition(":")
                headers.append((name.strip(), value.strip()))
            else:
                fields.setdefault(key, rest.strip())
    return FeedparserCase(
        file=path,
        headers=tuple(headers),
        description=fields.get("Description", ""),
        expect=fields.get("Expect", ""),
    )


# --------------------------------------------------------------------------- synthetic feeds

_PLACES = (
    "Beijing", "Washington", "Brussels", "Tokyo", "Seoul", "Berlin", "Ottawa", "Mexico City",
    "New Delhi", "Canberra", "Taipei", "Jakarta", "Hanoi", "London", "Paris", "Geneva",
)  # fmt: skip
_SUBJECTS = (
    "officials", "lawmakers", "regulators", "exporters", "central bank", "automakers",
    "chipmakers", "farmers", "retailers", "shipping firms", "negotiators", "investors",
    "ministers", "analysts", "port operators", "steelmakers",
)  # fmt: skip
_VERBS = (
    "weigh", "signal", "warn of", "brace for", "push back on", "welcome", "question",
    "prepare for", "debate", "report", "forecast", "downplay",
)  # fmt: skip
_OBJECTS = (
    "new supply rules", "a slowdown in orders", "higher freight costs", "record output",
    "a budget shortfall", "fresh stimulus", "weaker demand", "a labour dispute",
    "energy price swings", "a merger review", "tighter credit", "a data breach",
)  # fmt: skip
_TRADE = (
    "tariffs", "rare earths", "export controls", "student visas", "the trade war",
    "chip export curbs", "retaliatory duties",
)  # fmt: skip
_FILLER = (
    "The move follows weeks of talks between the two sides.",
    "Markets reacted cautiously in early trading.",
    "Details of the plan are expected later this month.",
    "Critics said the measures would raise costs for consumers.",
    "A spokesperson declined to comment on the timing.",
    "Industry groups asked for a longer transition period.",
    "The figures were slightly better than analysts had expected.",
    "Several companies have already adjusted their supply chains.",
)  # fmt: skip


def synthetic_entry(feed_key: str, number: int, published: datetime) -> FeedEntry:
    """A deterministic news-like entry for ``feed_key``: a headline, a ~300-character summary
    (HTML with an image), author and categories; ~4% of clauses name a trade-war topic."""
    rng = random.Random(f"{feed_key}#{number}")

    def clause() -> str:
        about = rng.choice(_TRADE) if rng.random() < 0.04 else rng.choice(_OBJECTS)
        return f"{rng.choice(_PLACES)} {rng.choice(_SUBJECTS)} {rng.choice(_VERBS)} {about}"

    title = f"{clause()} as {clause()}"
    fillers = rng.sample(_FILLER, len(_FILLER))
    sentences = [f"{title}."]
    while sum(len(s) + 1 for s in sentences) < 300:
        if fillers and rng.random() < 0.5:
            sentences.append(fillers.pop())
        else:
            sentences.append(f"{clause()}, while {clause()}.")
    text = " ".join(sentences)
    if len(text) > 300:
        text = text[:298].rsplit(" ", 1)[0] + " …"
    site = _site_for(feed_key)
    slug = "-".join(title.lower().split()[:8])
    link = f"https://{site}/{published:%Y/%m/%d}/{slug}-{number}.html"
    image = f"https://img.{site}/{published:%Y%m%d}/{number}-640x360.jpg"
    return FeedEntry(
        guid=f"urn:newsbot-synthetic:{feed_key}:{number}",
        title=title,
        link=link,
        summary=f'<p><img src="{image}" alt="" width="640" height="360"/></p><p>{text}</p>',
        published=published,
        author=f"{rng.choice(_PLACES)} desk",
        categories=("World", rng.choice(("Business", "Politics", "Markets", "Tech"))),
    )


def _site_for(feed_key: str) -> str:
    digest = hashlib.blake2b(feed_key.encode(), digest_size=4).hexdigest()
    return f"news-{digest}.example.com"


# --------------------------------------------------------------------------- bombs

_ZEROS = bytes(_MiB)


@functools.cache
def _bomb_segment() -> bytes:
    # Raw deflate of 1 MiB of zeros from a fresh compressor, ended by a full flush: a
    # byte-aligned run of non-final blocks that decodes on its own, so copies concatenate.
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    return compressor.compress(_ZEROS) + compressor.flush(zlib.Z_FULL_FLUSH)


@functools.cache
def _zeros_checksum(mebibytes: int, kind: Literal["crc32", "adler32"]) -> int:
    """gzip's trailer (CRC-32) or zlib's (Adler-32) for that many MiB of zeros."""
    checksum = zlib.crc32 if kind == "crc32" else zlib.adler32
    value = 0 if kind == "crc32" else 1
    for _ in range(mebibytes):
        value = checksum(_ZEROS, value)
    return value


@functools.cache
def _br_bomb(mebibytes: int) -> bytes:
    # brotli streams cannot be spliced like deflate blocks: compress the zeros once, a MiB
    # at a time, never holding them. Quality 5: as small as 11 for zeros, and far faster.
    compressor = brotli.Compressor(quality=5)
    parts = [compressor.process(_ZEROS) for _ in range(mebibytes)]
    parts.append(compressor.finish())
    return b"".join(parts)


_GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
_ZLIB_HEADER = b"\x78\xda"  # deflate, 32 KiB window, best compression
_DEFLATE_END = b"\x03\x00"  # a final, empty fixed-Huffman block
_BOMB_BATCH = 64
# A non-final stored block of length 0 (header byte, LEN, NLEN): decodes to nothing.
_EMPTY_STORED = b"\x00\x00\x00\xff\xff"
_BOMB_HEADS: dict[str, bytes] = {"gzip": _GZIP_HEADER, "deflate": _ZLIB_HEADER}
_BOMB_TRAILER_BYTES: dict[str, int] = {"gzip": 8, "deflate": 4}  # after _DEFLATE_END


def _bomb_trailer(mebibytes: int, coding: BombCoding) -> bytes:
    # Computed as the last chunk goes out, not before the first: a GiB takes ~0.3 s.
    if coding == "gzip":
        size = (mebibytes * _MiB) & 0xFFFFFFFF
        return struct.pack("<II", _zeros_checksum(mebibytes, "crc32"), size)
    if coding == "deflate":
        return struct.pack(">I", _zeros_checksum(mebibytes, "adler32"))
    return b""


def _bomb_length(mebibytes: int, coding: BombCoding) -> int:
    if coding == "br":
        return len(_br_bomb(mebibytes))
    head, trailer = len(_BOMB_HEADS.get(coding, b"")), _BOMB_TRAILER_BYTES.get(coding, 0)
    return head + mebibytes * len(_bomb_segment()) + len(_DEFLATE_END) + trailer


def _bomb_chunks(mebibytes: int, coding: BombCoding) -> Iterator[bytes]:
    if coding == "br":
        yield _br_bomb(mebibytes)
        return
    segment = _bomb_segment()
    yield _BOMB_HEADS.get(coding, b"")
    left = mebibytes
    while left > 0:
        batch = min(left, _BOMB_BATCH)
        yield segment * batch
        left -= batch
    yield _DEFLATE_END + _bomb_trailer(mebibytes, coding)


def _empty_blocks_count(size: int) -> int:
    return max(1, size // len(_EMPTY_STORED))


def _empty_blocks_length(size: int, coding: str) -> int:
    header = _GZIP_HEADER if coding == "gzip" else _ZLIB_HEADER
    return len(header) + _empty_blocks_count(size) * len(_EMPTY_STORED)


def _empty_block_chunks(size: int, coding: str) -> Iterator[bytes]:
    yield _GZIP_HEADER if coding == "gzip" else _ZLIB_HEADER
    per_chunk = _MiB // len(_EMPTY_STORED)
    full = _EMPTY_STORED * per_chunk
    left = _empty_blocks_count(size)
    while left > 0:
        yield full if left >= per_chunk else _EMPTY_STORED * left
        left -= per_chunk


_OVERSIZED_HEAD = (
    b'<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
    b"<title>Oversized feed</title><link>http://127.0.0.1/</link>\n"
)
_OVERSIZED_FILL = b"<!-- padding padding padding padding padding padding padding -->\n" * 1024


def _oversized_chunks(size: int) -> Iterator[bytes]:
    head = _OVERSIZED_HEAD[:size]
    yield head
    left = size - len(head)
    while left > 0:
        chunk = _OVERSIZED_FILL[:left]
        yield chunk
        left -= len(chunk)


_HTML_PAGE = (
    b'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
    b"<title>Checking your browser</title></head>\n<body><h1>One moment, please</h1>"
    b"<p>We are checking that you are not a robot. Enable JavaScript and cookies to"
    b" continue.</p><script>setTimeout(function(){location.reload()},5000)</script>"
    b"</body></html>\n"
)
_INVALID_XML = (
    b'<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
    b"<title>Broken & unescaped</title>\n<item><title>Tariffs <b>rise</title>"
    b"<link>https://example.com/a?x=1&y=2</link>\n<description>never closed"
)


# --------------------------------------------------------------------------- server state


def _header_pairs(headers: HeaderInput | None) -> list[tuple[str, str]]:
    if headers is None:
        return []
    items = list(headers.items()) if isinstance(headers, Mapping) else list(headers)
    for name, value in items:
        if not name or any(c in name for c in ":\r\n") or "\r" in value or "\n" in value:
            raise ValueError(f"invalid header {name!r}: {value!r}")
    return items


def _find(pairs: Sequence[tuple[str, str]], name: str) -> str | None:
    lowered = name.lower()
    for key, value in pairs:
        if key.lower() == lowered:
            return value
    return None


@dataclass(slots=True)
class _Options:
    etag: bool | None = None
    last_modified: bool | None = None
    honor_validators: bool | None = None
    compress: bool | None = None
    validators_in_304: NotModifiedValidators | None = None

    def merged(self, other: _Options) -> _Options:
        """``self`` with unset values taken from ``other``."""
        return _Options(
            etag=self.etag if self.etag is not None else other.etag,
            last_modified=(
                self.last_modified if self.last_modified is not None else other.last_modified
            ),
            honor_validators=(
                self.honor_validators
                if self.honor_validators is not None
                else other.honor_validators
            ),
            compress=self.compress if self.compress is not None else other.compress,
            validators_in_304=self.validators_in_304 or other.validators_in_304,
        )


@dataclass(slots=True)
class _Feed:
    kind: FeedKind
    title: str
    description: str
    link: str | None
    ttl: timedelta | None
    max_items: int | None
    entries: list[FeedEntry]
    synthetic_count: int = 0


class _Body:
    """One version of a resource's bytes, with its encodings computed on first demand."""

    __slots__ = ("_encoded", "identity", "tag")

    def __init__(self, identity: bytes) -> None:
        self.identity = identity
        self.tag = hashlib.blake2b(identity, digest_size=12).hexdigest()
        self._encoded: dict[str, bytes] = {}

    def encoded(self, coding: str | None) -> bytes:
        if coding is None:
            return self.identity
        data = self._encoded.get(coding)
        if data is None:
            if coding == "gzip":
                data = gzip.compress(self.identity, compresslevel=6, mtime=0)
            elif coding == "br":
                data = brotli.compress(self.identity, quality=5)
            else:
                data = zlib.compress(self.identity, 6)
            self._encoded[coding] = data  # a race only computes it twice
        return data


@dataclass(slots=True, eq=False)
class _Resource:
    status: int
    headers: list[tuple[str, str]]
    options: _Options
    changed_at: datetime
    feed: _Feed | None = None
    cached: _Body | None = None
    version: int = 0


@dataclass(frozen=True, slots=True)
class _Snapshot:
    status: int
    body: _Body
    headers: tuple[tuple[str, str], ...]
    content_type: str | None
    explicit_etag: str | None
    explicit_last_modified: str | None
    changed_at: datetime
    options: _Options


def _next_change(previous: datetime | None) -> datetime:
    now = datetime.now(UTC).replace(microsecond=0)
    if previous is not None and now <= previous:
        return previous + timedelta(seconds=1)
    return now


def _choose_coding(accept: str | None) -> str | None:
    if not accept:
        return None
    weights: dict[str, float] = {}
    for part in accept.split(","):
        token, _, params = part.partition(";")
        weight = 1.0
        for param in params.split(";"):
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        weights[token.strip().lower()] = weight
    best, best_weight = None, 0.0
    for coding in ("gzip", "deflate", "br"):  # ties go to the earlier one
        weight = weights.get(coding, weights.get("*", 0.0))
        if weight > best_weight:
            best, best_weight = coding, weight
    return best


def _opaque(tag: str) -> str:
    tag = tag.strip()
    if tag.startswith("W/"):
        tag = tag[2:]
    return tag.strip('"')


def _etag_matches(if_none_match: str, current: set[str]) -> bool:
    if if_none_match.strip() == "*":
        return True
    return any(_opaque(tag) in current for tag in if_none_match.split(","))


# --------------------------------------------------------------------------- the server


class FeedServer:
    """The control surface; every method may be called from any thread at any time."""

    def __init__(
        self,
        *,
        port: int = 0,
        etag: bool = True,
        last_modified: bool = True,
        honor_validators: bool = True,
        compress: bool = True,
        log_limit: int | None = 100_000,
    ) -> None:
        self._port = port
        self._defaults = _Options(etag, last_modified, honor_validators, compress, "both")
        self._lock = threading.Lock()
        # A request is logged after its response is written, so a client can see the
        # response first; observers wait (briefly) for in-flight requests to be logged.
        self._logged = threading.Condition(self._lock)
        self._in_flight = 0
        self._resources: dict[str, _Resource] = {}
        self._faults: dict[str, Fault] = {}
        self._log: deque[RequestRecord] = deque(maxlen=log_limit)
        self._by_status: Counter[int] = Counter()
        self._by_path: Counter[str] = Counter()
        self._bytes_sent = 0
        self._connections = 0
        self._open: set[socket.socket] = set()
        self._stopping = threading.Event()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._base_url: str | None = None

    # lifecycle -----------------------------------------------------------------------------

    def start(self) -> Self:
        if self._httpd is not None:
            return self
        self._stopping.clear()
        httpd = _HTTPServer(("127.0.0.1", self._port), self)
        host, port = httpd.server_address[:2]
        self._base_url = f"http://{host!s}:{port}"
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
            name=f"feed-server-{port}", daemon=True,
        )  # fmt: skip
        self._thread.start()
        return self

    def stop(self) -> None:
        httpd, thread = self._httpd, self._thread
        if httpd is None:
            return
        self._stopping.set()
        httpd.shutdown()
        with self._lock:
            open_sockets = list(self._open)
        for sock in open_sockets:  # wake handler threads parked on idle keep-alive reads
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        httpd.server_close()
        if thread is not None:
            thread.join(timeout=5)
        self._httpd = None
        self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        if self._base_url is None:
            raise RuntimeError("FeedServer is not started")
        return self._base_url

    @property
    def port(self) -> int:
        return int(self.base_url.rsplit(":", 1)[1])

    def url(self, path: str) -> str:
        if not path.startswith("/"):
            raise ValueError(f"path must start with '/': {path!r}")
        return self.base_url + path

    # resources -----------------------------------------------------------------------------

    def add_feed(
        self,
        path: str,
        *,
        title: str = "Test feed",
        kind: FeedKind = "rss",
        items: Iterable[FeedEntry] = (),
        description: str = "",
        link: str | None = None,
        ttl: timedelta | None = None,
        max_items: int | None = None,
        headers: HeaderInput | None = None,
        modified_at: datetime | None = None,
        etag: bool | None = None,
        last_modified: bool | None = None,
        honor_validators: bool | None = None,
        compress: bool | None = None,
        validators_in_304: NotModifiedValidators | None = None,
    ) -> None:
        """Create (or replace) a dynamic feed at ``path``.

        ``items`` are ordered newest first by ``published``; ``max_items`` keeps only the
        newest N after each publish; ``headers`` are extra response headers (Cache-Control,
        or a Content-Type that replaces the default for ``kind``). Validator and compression
        switches left at None follow the server's defaults; ``validators_in_304`` "etag" or
        "last-modified" leaves the other one out of 304s (200s still carry both).
        """
        if kind not in _CONTENT_TYPES:
            raise ValueError(f"unknown feed kind {kind!r}")
        entries = sorted(items, key=lambda e: e.published, reverse=True)
        if max_items is not None:
            entries = entries[:max_items]
        feed = _Feed(kind, title, description, link, ttl, max_items, entries)
        self._put(
            path,
            200,
            _header_pairs(headers),
            _Options(etag, last_modified, honor_validators, compress, validators_in_304),
            modified_at,
            feed=feed,
        )

    def publish(self, path: str, *entries: FeedEntry) -> None:
        """Put entries on top of the feed at ``path``, in argument order (the last argument
        ends up first); the feed's ETag and Last-Modified change."""
        with self._lock:
            resource = self._feed_resource(path)
            feed = resource.feed
            assert feed is not None
            feed.entries[:0] = reversed(entries)
            if feed.max_items is not None:
                del feed.entries[feed.max_items :]
            self._changed(resource)

    def publish_synthetic(self, path: str, count: int = 1) -> list[FeedEntry]:
        """Publish ``count`` new synthetic entries (published now) to the feed at ``path``."""
        now = datetime.now(UTC).replace(microsecond=0)
        with self._lock:
            feed = self._feed_resource(path).feed
            assert feed is not None
            first = feed.synthetic_count
            feed.synthetic_count += count
        new = [synthetic_entry(path, first + i, now) for i in range(count)]
        self.publish(path, *new)
        return new

    def entries(self, path: str) -> list[FeedEntry]:
        with self._lock:
            feed = self._feed_resource(path).feed
            assert feed is not None
            return list(feed.entries)

    def add_synthetic_feeds(
        self,
        count: int,
        *,
        items: int | None = None,
        kind: FeedKind | Literal["mixed"] = "rss",
        seed: int = 0,
        now: datetime | None = None,
    ) -> list[str]:
        """Add ``count`` synthetic feeds at ``/feeds/{i}.xml``; ``items`` per feed, or
        20-50 chosen per feed; ``mixed`` makes every fourth feed Atom. Returns the paths."""
        anchor = (now or datetime.now(UTC)).replace(microsecond=0)
        paths = []
        for index in range(count):
            rng = random.Random(f"{seed}/{index}")
            path = f"/feeds/{index}.xml"
            size = items if items is not None else rng.randint(20, 50)
            published = anchor
            entries = []
            for number in range(size):
                published -= timedelta(minutes=rng.randint(5, 90))
                entries.append(synthetic_entry(path, size - 1 - number, published))
            feed_kind: FeedKind = (
                "atom" if kind == "atom" or (kind == "mixed" and index % 4 == 3) else "rss"
            )
            self.add_feed(
                path, title=f"Synthetic news {index}", kind=feed_kind, items=entries,
                max_items=size, link=f"https://{_site_for(path)}/",
            )  # fmt: skip
            with self._lock:
                feed = self._resources[path].feed
                assert feed is not None
                feed.synthetic_count = size
            paths.append(path)
        return paths

    def serve_bytes(
        self,
        path: str,
        body: bytes,
        headers: HeaderInput | None = None,
        status: int = 200,
        *,
        modified_at: datetime | None = None,
        etag: bool | None = None,
        last_modified: bool | None = None,
        honor_validators: bool | None = None,
        compress: bool | None = None,
        validators_in_304: NotModifiedValidators | None = None,
    ) -> None:
        """Serve ``body`` byte-for-byte with exactly ``headers`` (None: Content-Type
        application/xml). A given ETag or Last-Modified is sent verbatim and used for
        conditional GET instead of the computed one; a given Content-Encoding turns
        compression off. Validators and 304s apply to status 200 only."""
        pairs = [("Content-Type", "application/xml")] if headers is None else _header_pairs(headers)
        options = _Options(etag, last_modified, honor_validators, compress, validators_in_304)
        if _find(pairs, "Content-Encoding") is not None:
            options.compress = False
        self._put(path, status, pairs, options, modified_at, body=bytes(body))

    def serve_feedparser_case(
        self,
        path: str,
        file: str | Path,
        *,
        compress: bool | None = None,
    ) -> FeedparserCase:
        """Serve a feedparser test file with its ``Header:`` lines as response headers (and
        no other Content-Type); ``file`` is absolute or relative to FEEDPARSER_CASES_DIR."""
        case = read_feedparser_case(file)
        self.serve_bytes(path, case.file.read_bytes(), case.headers, compress=compress)
        return case

    def remove(self, path: str) -> None:
        """Forget the resource at ``path`` (it answers 404 from now on)."""
        with self._lock:
            self._resources.pop(path, None)

    def configure(
        self,
        path: str | None = None,
        *,
        etag: bool | None = None,
        last_modified: bool | None = None,
        honor_validators: bool | None = None,
        compress: bool | None = None,
        validators_in_304: NotModifiedValidators | None = None,
    ) -> None:
        """Change switches of one resource, or the server's defaults when ``path`` is None;
        arguments left at None are unchanged."""
        change = _Options(etag, last_modified, honor_validators, compress, validators_in_304)
        with self._lock:
            if path is None:
                self._defaults = change.merged(self._defaults)
            else:
                resource = self._resources[path]
                resource.options = change.merged(resource.options)

    def prerender(self) -> None:
        """Render every dynamic feed now rather than on its first request."""
        with self._lock:
            paths = [p for p, r in self._resources.items() if r.feed is not None]
        for path in paths:
            self._snapshot(path)

    # faults --------------------------------------------------------------------------------

    def set_fault(self, path: str, fault: Fault | None) -> None:
        """Make requests of ``path`` fail as ``fault`` says (None clears). The path needs no
        resource unless the fault serves the resource's body."""
        with self._lock:
            if fault is None:
                self._faults.pop(path, None)
            else:
                self._faults[path] = fault

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    # log -----------------------------------------------------------------------------------

    def _settled(self) -> None:
        """Call holding the lock: wait up to 1 s for requests being answered to be logged."""
        self._logged.wait_for(lambda: self._in_flight == 0, timeout=1.0)

    def requests(self, path: str | None = None) -> list[RequestRecord]:
        with self._lock:
            self._settled()
            return [r for r in self._log if path is None or r.path == path]

    def request_count(self, path: str | None = None) -> int:
        with self._lock:
            self._settled()
            return self._by_path[path] if path is not None else self._by_path.total()

    def stats(self) -> ServerStats:
        with self._lock:
            self._settled()
            return ServerStats(
                requests=self._by_path.total(),
                by_status=dict(self._by_status),
                by_path=dict(self._by_path),
                bytes_sent=self._bytes_sent,
                connections=self._connections,
            )

    def reset_log(self) -> None:
        """Empty the request log and zero every counter."""
        with self._lock:
            self._log.clear()
            self._by_status.clear()
            self._by_path.clear()
            self._bytes_sent = 0
            self._connections = 0

    # internals (called by the handler) -------------------------------------------------------

    def _put(
        self,
        path: str,
        status: int,
        headers: list[tuple[str, str]],
        options: _Options,
        modified_at: datetime | None,
        *,
        feed: _Feed | None = None,
        body: bytes | None = None,
    ) -> None:
        if not path.startswith("/"):
            raise ValueError(f"path must start with '/': {path!r}")
        with self._lock:
            old = self._resources.get(path)
            changed_at = (
                modified_at.astimezone(UTC).replace(microsecond=0)
                if modified_at is not None
                else _next_change(old.changed_at if old else None)
            )
            self._resources[path] = _Resource(
                status=status,
                headers=headers,
                options=options,
                changed_at=changed_at,
                feed=feed,
                cached=_Body(body) if body is not None else None,
                version=old.version + 1 if old else 0,
            )

    def _feed_resource(self, path: str) -> _Resource:
        resource = self._resources.get(path)
        if resource is None or resource.feed is None:
            raise KeyError(f"no dynamic feed at {path!r}")
        return resource

    def _changed(self, resource: _Resource) -> None:
        resource.changed_at = _next_change(resource.changed_at)
        resource.version += 1
        resource.cached = None

    def _snapshot(self, key: str) -> _Snapshot | None:
        with self._lock:
            resource = self._resources.get(key)
            if resource is None:
                return None
            body, version, feed = resource.cached, resource.version, resource.feed
            status, headers, changed_at = resource.status, resource.headers, resource.changed_at
            options = resource.options.merged(self._defaults)
            entries = tuple(feed.entries) if body is None and feed is not None else ()
        if body is None:
            # Rendered outside the lock so a burst of first requests does not serialise;
            # cached only if nothing was published meanwhile.
            assert feed is not None
            body = _Body(
                render_feed(
                    feed.kind, title=feed.title, entries=entries, self_url=self.url(key),
                    site_url=feed.link or self.url("/"), updated_at=changed_at,
                    description=feed.description, ttl=feed.ttl,
                )
            )  # fmt: skip
            with self._lock:
                if resource.version == version:
                    resource.cached = body
        content_type = _find(headers, "Content-Type")
        if content_type is None and feed is not None:
            content_type = _CONTENT_TYPES[feed.kind]
        return _Snapshot(
            status=status,
            body=body,
            headers=tuple((k, v) for k, v in headers if k.lower() not in _NOT_PASSED_ON),
            content_type=content_type,
            explicit_etag=_find(headers, "ETag"),
            explicit_last_modified=_find(headers, "Last-Modified"),
            changed_at=changed_at,
            options=options,
        )

    def _take_fault(self, key: str) -> Fault | None:
        with self._lock:
            fault = self._faults.get(key)
            if fault is not None and fault.times is not None:
                if fault.times <= 1:
                    del self._faults[key]
                else:
                    self._faults[key] = replace(fault, times=fault.times - 1)
            return fault

    def _has(self, key: str) -> bool:
        with self._lock:
            return key in self._resources or key in self._faults

    def _begin(self) -> None:
        with self._lock:
            self._in_flight += 1

    def _record(self, record: RequestRecord) -> None:
        with self._lock:
            self._in_flight -= 1
            self._logged.notify_all()
            self._log.append(record)
            self._by_status[record.status] += 1
            self._by_path[record.path] += 1
            self._bytes_sent += record.bytes_sent

    def _opened(self, sock: socket.socket) -> None:
        with self._lock:
            self._connections += 1
            self._open.add(sock)

    def _closed(self, sock: socket.socket) -> None:
        with self._lock:
            self._open.discard(sock)


# --------------------------------------------------------------------------- HTTP plumbing


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024

    def __init__(self, address: tuple[str, int], app: FeedServer) -> None:
        self.app = app
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the host name (getfqdn), which may stall offline.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def handle_error(
        self, request: socket.socket | tuple[bytes, socket.socket], client_address: object
    ) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            return  # clients hanging up mid-response are part of the job
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "newsbot-fake-feeds/1.0"
    sys_version = ""
    disable_nagle_algorithm = True
    timeout = 60  # an idle keep-alive connection holds a thread this long at most

    _abort: Literal["", "reset"] = ""
    _status = 0
    _sent = 0

    @property
    def app(self) -> FeedServer:
        server = self.server
        assert isinstance(server, _HTTPServer)
        return server.app

    def setup(self) -> None:
        super().setup()
        self.app._opened(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        except OSError:
            pass
        finally:
            self.app._closed(self.connection)
            if self._abort == "reset":
                # Linger 0 makes close() send RST instead of FIN; closing here, after the
                # file objects, releases the descriptor before socketserver's shutdown().
                self.connection.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                )
                self.connection.close()

    def log_message(self, format: str, *args: object) -> None:
        pass  # the request log is the record; stderr noise helps nobody

    def do_GET(self) -> None:
        self._dispatch()

    def do_HEAD(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            self.send_error(400, "bad Content-Length")
            return
        if length > 0:
            self.rfile.read(length)  # keep the connection in step
        self._dispatch()

    # dispatch ------------------------------------------------------------------------------

    def _dispatch(self) -> None:
        received_at = datetime.now(UTC)
        started = time.monotonic()
        target = urlsplit(self.path)
        path, query = target.path or "/", target.query
        if path.startswith("/_control/"):
            self._control(path, query)
            return
        self._status, self._sent = 0, 0
        key = f"{path}?{query}" if query and self.app._has(f"{path}?{query}") else path
        self.app._begin()
        try:
            self._respond(key)
        except (ConnectionError, TimeoutError):
            self.close_connection = True
        finally:
            headers: dict[str, str] = {}
            for name, value in self.headers.items():
                low = name.lower()
                headers[low] = f"{headers[low]}, {value}" if low in headers else value
            self.app._record(
                RequestRecord(
                    method=self.command, path=path, headers=headers, status=self._status,
                    bytes_sent=self._sent, received_at=received_at, query=query,
                    duration=timedelta(seconds=time.monotonic() - started),
                )
            )  # fmt: skip

    def _respond(self, key: str) -> None:
        app = self.app
        fault = app._take_fault(key)
        if fault is None:
            self._serve_resource(key)
            return
        if fault.delay > 0 and app._stopping.wait(fault.delay):
            self.close_connection = True
            return
        kind = fault.kind
        if kind is FaultKind.SLOW_HEADERS:
            self._serve_resource(key)
        elif kind is FaultKind.STATUS:
            phrase = self._phrase(fault.status)
            self._send(
                fault.status,
                [("Content-Type", "text/plain; charset=utf-8"), *fault.headers],
                f"{fault.status} {phrase}\n".encode(),
            )
        elif kind is FaultKind.REDIRECT:
            target = fault.location or key
            location = app.url(target) if target.startswith("/") else target
            self._send(
                fault.status,
                [("Location", location), ("Content-Type", "text/plain; charset=utf-8")],
                f"Moved to {location}\n".encode(),
            )
        elif kind is FaultKind.SLOW_BODY:
            self._serve_resource(key, trickle=(fault.chunk_size, fault.interval))
        elif kind is FaultKind.TRUNCATED_BODY:
            self._serve_resource(key, truncate_after=fault.size)
        elif kind is FaultKind.RESET:
            self._abort = "reset"
            self.close_connection = True
        elif kind is FaultKind.CLOSE:
            self.close_connection = True
        elif kind is FaultKind.OVERSIZED:
            self._stream_fault(fault, [], _oversized_chunks(fault.size), fault.size)
        elif kind is FaultKind.BOMB:
            mebibytes = max(1, -(-fault.size // _MiB))
            header = "deflate" if fault.coding == "raw-deflate" else fault.coding
            self._stream_fault(
                fault,
                [("Content-Encoding", header)],
                _bomb_chunks(mebibytes, fault.coding),
                _bomb_length(mebibytes, fault.coding),
            )
        elif kind is FaultKind.EMPTY_BLOCKS:
            self._stream_fault(
                fault,
                [("Content-Encoding", fault.coding)],
                _empty_block_chunks(fault.size, fault.coding),
                _empty_blocks_length(fault.size, fault.coding),
            )
        elif kind is FaultKind.WRONG_CONTENT_TYPE:
            self._serve_resource(key, content_type=fault.content_type)
        elif kind is FaultKind.HTML_PAGE:
            self._send(fault.status, [("Content-Type", "text/html; charset=utf-8")], _HTML_PAGE)
        elif kind is FaultKind.INVALID_XML:
            self._send(200, [("Content-Type", _CONTENT_TYPES["rss"])], _INVALID_XML)
        elif kind is FaultKind.EMPTY_BODY:
            self._send(fault.status, [("Content-Type", _CONTENT_TYPES["rss"])], b"")

    def _stream_fault(
        self, fault: Fault, headers: list[tuple[str, str]], chunks: Iterable[bytes], length: int
    ) -> None:
        """A streamed 200 framed as the fault says: Content-Length, chunked, or until close."""
        if not fault.content_length and not fault.chunked:
            self.close_connection = True
        self._stream(
            200,
            [("Content-Type", _CONTENT_TYPES["rss"]), *headers],
            chunks,
            length if fault.content_length and not fault.chunked else None,
            chunked=fault.chunked,
        )

    def _serve_resource(
        self,
        key: str,
        *,
        content_type: str | None = None,
        trickle: tuple[int, float] | None = None,
        truncate_after: int | None = None,
    ) -> None:
        snap = self.app._snapshot(key)
        if snap is None:
            self._send(404, [("Content-Type", "text/plain; charset=utf-8")], b"404 Not Found\n")
            return
        options = snap.options
        headers: list[tuple[str, str]] = []
        ctype = content_type or snap.content_type
        if ctype is not None:
            headers.append(("Content-Type", ctype))
        headers.extend(snap.headers)
        if trickle is not None or truncate_after is not None:
            body = snap.body.identity
            chunks: Iterable[bytes]
            if trickle is not None:
                size = trickle[0]
                chunks = (body[i : i + size] for i in range(0, len(body), size))
            else:
                self.close_connection = True
                chunks = [body[:truncate_after]]
            interval = trickle[1] if trickle else 0.0
            self._stream(200, headers, chunks, len(body), interval=interval)
            return

        coding = None
        if options.compress and snap.status == 200:
            coding = _choose_coding(self.headers.get("Accept-Encoding"))
            headers.append(("Vary", "Accept-Encoding"))
        if coding is not None:
            headers.append(("Content-Encoding", coding))
        validators: list[tuple[str, str]] = []
        not_modified = False
        if snap.status == 200:
            etag, current = self._etag(snap, coding)
            last_modified, modified_at = self._last_modified(snap)
            if etag is not None:
                validators.append(("ETag", etag))
            if last_modified is not None:
                validators.append(("Last-Modified", last_modified))
            if options.honor_validators:
                not_modified = self._not_modified(options, current, modified_at)
        if not_modified:
            # RFC 9110 15.4.5: no representation metadata beyond validators and Vary.
            kept = [
                (k, v) for k, v in headers if k.lower() not in ("content-type", "content-encoding")
            ]
            only = options.validators_in_304
            if only != "both":
                validators = [(k, v) for k, v in validators if k.lower() == only]
            self._send(304, [*kept, *validators], None)
            return
        self._send(snap.status, [*headers, *validators], snap.body.encoded(coding))

    def _etag(self, snap: _Snapshot, coding: str | None) -> tuple[str | None, set[str]]:
        if snap.explicit_etag is not None:
            return snap.explicit_etag, {_opaque(snap.explicit_etag)}
        if not snap.options.etag:
            return None, set()
        tag = snap.body.tag
        # One strong tag per representation; a tag of any representation of the current
        # content validates, as the bytes differ only in their coding.
        suffix = f"-{coding}" if coding else ""
        return f'"{tag}{suffix}"', {tag, f"{tag}-gzip", f"{tag}-deflate", f"{tag}-br"}

    @staticmethod
    def _last_modified(snap: _Snapshot) -> tuple[str | None, datetime | None]:
        if snap.explicit_last_modified is not None:
            try:
                parsed: datetime | None = parsedate_to_datetime(snap.explicit_last_modified)
            except (TypeError, ValueError):
                parsed = None
            return snap.explicit_last_modified, parsed
        if not snap.options.last_modified:
            return None, None
        return _http_date(snap.changed_at), snap.changed_at

    def _not_modified(
        self, options: _Options, current: set[str], modified_at: datetime | None
    ) -> bool:
        if_none_match = self.headers.get("If-None-Match")
        if options.etag and if_none_match is not None and current:
            # RFC 9110 13.2.2: If-None-Match, when evaluated, overrides If-Modified-Since.
            return _etag_matches(if_none_match, current)
        since = self.headers.get("If-Modified-Since")
        if not options.last_modified or since is None or modified_at is None:
            return False
        try:
            since_at = parsedate_to_datetime(since)
        except (TypeError, ValueError):
            return False
        if since_at.tzinfo is None:
            since_at = since_at.replace(tzinfo=UTC)
        if modified_at.tzinfo is None:
            modified_at = modified_at.replace(tzinfo=UTC)
        return modified_at <= since_at

    # control endpoints ---------------------------------------------------------------------

    def _control(self, path: str, query: str) -> None:
        app = self.app
        params = {k: v[-1] for k, v in parse_qs(query).items()}
        status, payload = 200, {}
        try:
            if path == "/_control/publish":
                target = params.get("path") or f"/feeds/{int(params['feed'])}.xml"
                count = int(params.get("count", "1"))
                new = app.publish_synthetic(target, count)
                payload = {
                    "path": target,
                    "published": [e.guid for e in new],
                    "entries": len(app.entries(target)),
                }
            elif path == "/_control/stats":
                payload = app.stats().to_json(paths=params.get("paths") in ("1", "true"))
            elif path == "/_control/reset":
                app.reset_log()
                payload = {"reset": True}
            else:
                status, payload = 404, {"error": f"unknown control endpoint {path}"}
        except (KeyError, ValueError) as exc:
            status, payload = 400, {"error": str(exc)}
        try:
            body = json.dumps(payload).encode()
            self._send(status, [("Content-Type", "application/json")], body)
        except (ConnectionError, TimeoutError):
            self.close_connection = True

    # writing -------------------------------------------------------------------------------

    @staticmethod
    def _phrase(status: int) -> str:
        try:
            return HTTPStatus(status).phrase
        except ValueError:
            return "Unknown"

    def _head(
        self,
        status: int,
        headers: Iterable[tuple[str, str]],
        length: int | None,
        *,
        chunked: bool = False,
    ) -> bytes:
        self._status = status
        lines = [
            f"HTTP/1.1 {status} {self._phrase(status)}",
            f"Date: {formatdate(usegmt=True)}",
            f"Server: {self.server_version}",
        ]
        lines.extend(f"{name}: {value}" for name, value in headers)
        if length is not None:
            lines.append(f"Content-Length: {length}")
        elif chunked:
            lines.append("Transfer-Encoding: chunked")
        elif status not in (204, 304):
            self.close_connection = True  # the body ends when the connection does
        if self.close_connection:
            lines.append("Connection: close")
        elif self.request_version == "HTTP/1.0":
            lines.append("Connection: keep-alive")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def _send(self, status: int, headers: Sequence[tuple[str, str]], body: bytes | None) -> None:
        """One write for head and body: a second small write would wait on Nagle/ACK."""
        if status in (204, 304):
            body = None  # these never carry a body nor a Content-Length
        head = self._head(status, headers, None if body is None else len(body))
        if body is None or self.command == "HEAD":
            self.wfile.write(head)
            return
        self.wfile.write(head + body)
        self._sent += len(body)

    def _stream(
        self,
        status: int,
        headers: Sequence[tuple[str, str]],
        chunks: Iterable[bytes],
        length: int | None,
        *,
        interval: float = 0.0,
        chunked: bool = False,
    ) -> None:
        """``length`` None: chunked if asked, else the body ends when the connection does."""
        chunked = chunked and length is None
        self.wfile.write(self._head(status, headers, length, chunked=chunked))
        if self.command == "HEAD":
            return
        for chunk in chunks:
            if chunked and chunk:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            elif not chunked:
                self.wfile.write(chunk)
            self._sent += len(chunk)
            if interval and self.app._stopping.wait(interval):
                raise ConnectionAbortedError("server stopping")
        if chunked:
            self.wfile.write(b"0\r\n\r\n")


# --------------------------------------------------------------------------- entrypoint


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.fakes.feed_server",
        description="Serve synthetic feeds on 127.0.0.1 until SIGTERM/SIGINT; the first"
        " stdout line is the base URL. Control: POST /_control/publish?feed=I&count=K,"
        " GET /_control/stats[?paths=1], POST /_control/reset.",
    )
    parser.add_argument("--synthetic", type=int, default=0, metavar="N",
                        help="serve N feeds at /feeds/{0..N-1}.xml")  # fmt: skip
    parser.add_argument("--items", type=int, default=None,
                        help="items per feed (default: 20-50, varying per feed)")  # fmt: skip
    parser.add_argument("--kind", choices=("rss", "atom", "mixed"), default="rss")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--log-limit", type=int, default=10_000,
                        help="request records kept (counters are always kept)")  # fmt: skip
    parser.add_argument("--no-etag", action="store_true")
    parser.add_argument("--no-last-modified", action="store_true")
    parser.add_argument("--ignore-validators", action="store_true")
    parser.add_argument("--no-compress", action="store_true")
    args = parser.parse_args(argv)

    server = FeedServer(
        port=args.port,
        etag=not args.no_etag,
        last_modified=not args.no_last_modified,
        honor_validators=not args.ignore_validators,
        compress=not args.no_compress,
        log_limit=args.log_limit,
    )
    server.add_synthetic_feeds(args.synthetic, items=args.items, kind=args.kind, seed=args.seed)
    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    server.start()
    server.prerender()
    print(server.base_url, flush=True)
    while not stop.wait(0.5):
        pass
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
