"""HTTP for feeds: conditional GET, timeouts, size caps, politeness; outcomes as values.

Owns: one shared httpx.AsyncClient, the global and per-host concurrency limits,
and turning every way a request can go wrong into a `FetchError` value. Must
not: parse feeds, touch the database, or raise for a bad feed (one feed's
failure never stops a cycle).
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import functools
import logging
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING
from urllib.parse import urljoin, urlsplit

import httpx

import bot
from bot.feeds.decoding import BudgetExceeded, DecodeError, decoder_for
from bot.feeds.wire import AiohttpTransport, NameResolutionError, TLSError

if TYPE_CHECKING:
    from aiohttp.abc import AbstractResolver

log = logging.getLogger(__name__)

LONGEST_HEADER_DELAY_SECONDS = 2**31 - 1  # Retry-After and max-age beyond this mean "never"

PROJECT_URL = "https://github.com/newsbot/newsbot"
DEFAULT_USER_AGENT = f"newsbot/{bot.__version__} (+{PROJECT_URL})"
MAX_REDIRECTS = 5
HTTP_SCHEMES = ("http", "https")  # the only ones fetched, also as redirect targets
REDIRECTS = frozenset({301, 302, 303, 307, 308})
REDIRECT_BODY_LIMIT = 64 * 1024
ACCEPT = ("application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.8, "
          "*/*;q=0.5")


@dataclass(frozen=True, slots=True)
class Fetched:
    url: str
    final_url: str
    status: int
    body: bytes
    content_type: str | None
    etag: str | None
    last_modified: str | None
    cache_max_age: timedelta | None
    moved_to: str | None = None  # set after only permanent (301/308) redirects


@dataclass(frozen=True, slots=True)
class NotModified:
    url: str
    etag: str | None
    last_modified: str | None
    moved_to: str | None = None
    cache_max_age: timedelta | None = None


@dataclass(frozen=True, slots=True)
class FetchError:
    url: str
    kind: str  # timeout | dns | connect | tls | http | too-large | scheme | protocol
    message: str
    status: int | None = None
    retry_after: timedelta | None = None


FetchOutcome = Fetched | NotModified | FetchError


@dataclass(frozen=True, slots=True)
class FetchLimits:
    timeout: timedelta = timedelta(seconds=20)
    max_body_bytes: int = 10_000_000
    max_concurrency: int = 20
    per_host: int = 2
    user_agent: str = DEFAULT_USER_AGENT


class Fetcher:
    """Fetches feed documents politely; use as an async context manager."""

    def __init__(self, limits: FetchLimits, *, resolver: AbstractResolver | None = None) -> None:
        """`resolver` replaces the system's name lookups (tests: no query leaves the host)."""
        self.limits = limits
        seconds = limits.timeout.total_seconds()
        # httpx's Request/Response model (URL handling, headers) on the transport
        # directly, without httpx.AsyncClient: the client's per-request merging of URLs,
        # headers and cookies (urllib-compatible cookie objects built per response) was
        # ~0.2 ms of CPU per 304, and its redirect policy is ours to decide anyway (a
        # 301/308 moves the feed, a 302/307 does not). No cookies are kept or sent.
        self._transport = AiohttpTransport(max_connections=limits.max_concurrency,
                                           resolver=resolver)
        self._timeout = {"connect": min(seconds, 10.0), "read": seconds, "write": seconds,
                         "pool": seconds}
        self._headers = (("User-Agent", limits.user_agent or DEFAULT_USER_AGENT),
                         ("Accept", ACCEPT),
                         ("Accept-Encoding", "gzip, deflate, br"))
        self._global = asyncio.Semaphore(limits.max_concurrency)
        self._hosts: defaultdict[str, asyncio.Semaphore] = defaultdict(
            lambda: asyncio.Semaphore(limits.per_host))

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._transport.aclose()

    @contextlib.asynccontextmanager
    async def slot(self, url: str) -> AsyncIterator[None]:
        """One of the concurrency slots for `url`'s host, for a caller that keeps it while
        it also processes the response (`fetch(..., in_slot=True)` inside): then no more
        than `max_concurrency` documents are held at once, not every fetched body of a
        cycle waiting for the parser."""
        host = (urlsplit(url).hostname or "").lower()
        # Host slot first: a request queued behind its host's limit must not hold one of
        # the global slots, or 20 feeds of one busy host would stall every other host.
        async with self._hosts[host], self._global:
            yield

    async def fetch(self, url: str, etag: str | None = None,
                    last_modified: str | None = None, *, in_slot: bool = False) -> FetchOutcome:
        """GET `url` conditionally. Takes a slot for the exchange unless the caller holds
        one already (`in_slot`)."""
        scheme = urlsplit(url).scheme
        if scheme not in HTTP_SCHEMES:
            return FetchError(url, "scheme", f"only http and https are fetched, not {scheme!r}")
        if in_slot:
            return await self._exchange(url, etag, last_modified)
        async with self.slot(url):
            return await self._exchange(url, etag, last_modified)

    async def _exchange(self, url: str, etag: str | None,
                        last_modified: str | None) -> FetchOutcome:
        try:
            # A hard ceiling on the whole exchange: httpx's timeouts are per operation,
            # so a server trickling one byte a second would otherwise never time out.
            async with asyncio.timeout(self.limits.timeout.total_seconds() * 2):
                return await self._get(url, etag, last_modified)
        except TimeoutError:
            return FetchError(url, "timeout", "no complete response in time")
        except httpx.TimeoutException as exc:
            return FetchError(url, "timeout", f"{type(exc).__name__}")
        except NameResolutionError as exc:
            return FetchError(url, "dns", _first_line(exc))
        except TLSError as exc:
            return FetchError(url, "tls", _first_line(exc))
        except httpx.ConnectError as exc:
            return FetchError(url, "connect", _first_line(exc))
        except httpx.HTTPError as exc:
            return FetchError(url, "protocol", f"{type(exc).__name__}: {_first_line(exc)}")
        except httpx.InvalidURL as exc:  # a Location header httpx cannot read
            return FetchError(url, "protocol", f"invalid URL: {_first_line(exc)}")

    async def _get(self, url: str, etag: str | None, last_modified: str | None) -> FetchOutcome:
        headers = list(self._headers)
        if etag:
            headers.append(("If-None-Match", etag))
        if last_modified:
            headers.append(("If-Modified-Since", last_modified))
        target, all_permanent = url, True
        for redirects in range(MAX_REDIRECTS + 1):
            request = httpx.Request("GET", _parsed_url(target), headers=headers,
                                    extensions={"timeout": self._timeout})
            response = await self._transport.handle_async_request(request)
            try:
                location = response.headers.get("Location")
                if response.status_code in REDIRECTS and location:
                    if redirects == MAX_REDIRECTS:
                        return FetchError(url, "http", f"more than {MAX_REDIRECTS} redirects")
                    try:
                        target = urljoin(target, location.strip())
                    except ValueError as exc:  # e.g. an unclosed IPv6 bracket
                        return FetchError(url, "protocol", f"invalid URL in Location: {exc}")
                    if urlsplit(target).scheme not in HTTP_SCHEMES:
                        return FetchError(url, "scheme", f"redirected to a non-HTTP URL: "
                                          f"{target[:200]}")
                    all_permanent = all_permanent and response.status_code in (301, 308)
                    # Read the (small) redirect page so its connection goes back to the
                    # pool; a large one is not worth it and the connection closes.
                    drained = 0
                    async for chunk in response.aiter_raw():
                        drained += len(chunk)
                        if drained > REDIRECT_BODY_LIMIT:
                            break
                    continue
                # Only when every redirect on the way was permanent (301/308): a 302/307
                # is temporary and must not change where we poll.
                moved_to = target if target != url and all_permanent else None
                return await self._outcome(url, target, response, etag=etag,
                                           last_modified=last_modified, moved_to=moved_to)
            finally:
                await response.aclose()
        raise AssertionError("unreachable: the loop returns")  # pragma: no cover

    async def _outcome(self, url: str, final_url: str, response: httpx.Response, *,
                       etag: str | None, last_modified: str | None,
                       moved_to: str | None) -> FetchOutcome:
        if response.status_code == 304:
            # Read the (empty) body to its end, so the connection goes back to the pool;
            # raw, so that no decoder is set up for nothing.
            async for _ in response.aiter_raw():
                pass
            # A 304 may omit a validator it did not change: keep the one we sent.
            return NotModified(url, response.headers.get("ETag") or etag,
                               response.headers.get("Last-Modified") or last_modified,
                               moved_to=moved_to, cache_max_age=parse_max_age(
                                   response.headers.get("Cache-Control")))
        if response.status_code >= 400:
            return FetchError(url, "http", f"HTTP {response.status_code}",
                              status=response.status_code,
                              retry_after=parse_retry_after(
                                  response.headers.get("Retry-After"), datetime.now(UTC)))
        declared = response.headers.get("Content-Length")
        cap = self.limits.max_body_bytes
        if declared and declared.isdigit() and int(declared) > cap:
            return FetchError(url, "too-large", f"Content-Length {declared} > {cap} bytes")
        body = await _read_capped(url, response, cap)
        if isinstance(body, FetchError):
            return body
        return Fetched(
            url=url, final_url=final_url, status=response.status_code,
            body=body, content_type=response.headers.get("Content-Type"),
            etag=response.headers.get("ETag"),
            last_modified=response.headers.get("Last-Modified"),
            cache_max_age=parse_max_age(response.headers.get("Cache-Control")),
            moved_to=moved_to)


async def _read_capped(url: str, response: httpx.Response, cap: int) -> bytes | FetchError:
    """The decoded body; "too-large" when the bytes on the wire or the decoded ones pass
    `cap`, "protocol" for data that does not decode.

    Decoded here, not by httpx: httpx inflates a whole network read before the caller can
    count it, and 64 KiB of brotli can be gigabytes. Here at most `cap` plus one bounded
    piece is ever decoded. The wire count is checked on every read, as a stream of empty
    deflate blocks decodes to nothing and would otherwise run until the deadline."""
    try:
        decoder = decoder_for(response.headers.get("Content-Encoding"), budget=cap)
        pieces: list[bytes] = []
        wire = size = 0
        async for data in response.aiter_raw():
            wire += len(data)
            if wire > cap:
                return FetchError(url, "too-large", f"over {cap} bytes on the wire")
            for piece in decoder.decode(data):
                size += len(piece)
                if size > cap:
                    return FetchError(url, "too-large", f"over {cap} bytes decoded")
                pieces.append(piece)
        decoder.finish()
    except BudgetExceeded as exc:
        return FetchError(url, "too-large", str(exc))
    except DecodeError as exc:
        return FetchError(url, "protocol", str(exc))
    return b"".join(pieces)


@functools.lru_cache(maxsize=10_000)
def _parsed_url(text: str) -> httpx.URL:
    """httpx.URL is immutable and parsing one costs ~0.1 ms: the same feed URLs come back
    every cycle."""
    return httpx.URL(text)


def parse_retry_after(value: str | None, now: datetime) -> timedelta | None:
    """Retry-After as seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return _header_seconds(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(when - now, timedelta(0))


def parse_max_age(value: str | None) -> timedelta | None:
    if not value:
        return None
    for part in value.split(","):
        name, _, arg = part.strip().partition("=")
        arg = arg.strip()
        if name.lower() == "max-age" and arg.isascii() and arg.isdigit():
            return _header_seconds(arg)
    return None


def _header_seconds(digits: str) -> timedelta:
    """A header's delta-seconds, at most `LONGEST_HEADER_DELAY_SECONDS`: RFC 9111 says to read a
    larger value as the largest one can hold, and timedelta overflows on 10**20."""
    if len(digits) > len(str(LONGEST_HEADER_DELAY_SECONDS)):
        return timedelta(seconds=LONGEST_HEADER_DELAY_SECONDS)
    return timedelta(seconds=min(int(digits), LONGEST_HEADER_DELAY_SECONDS))


def _first_line(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0][:300]
