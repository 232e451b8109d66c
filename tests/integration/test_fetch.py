"""Every HTTP behaviour of the fetcher against a real server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import importlib.metadata
import time
import tracemalloc
import zlib
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Literal

import brotli  # type: ignore[import-untyped]
import pytest

from bot.feeds.fetch import Fetched, Fetcher, FetchError, FetchLimits, NotModified
from tests.fakes.feed_server import BombCoding, Fault, FeedEntry, FeedServer

NOW = datetime.now(UTC)
CAP = 2_000_000  # the fetcher fixture's max_body_bytes


def entry(n: int) -> FeedEntry:
    return FeedEntry(guid=f"g{n}", title=f"Item {n}", link=f"https://example.org/{n}",
                     summary="text", published=NOW)


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as srv:
        srv.add_feed("/feed.xml", items=[entry(1)])
        yield srv


@pytest.fixture
async def fetcher() -> AsyncIterator[Fetcher]:
    async with Fetcher(FetchLimits(timeout=timedelta(seconds=1.5),
                                   max_body_bytes=CAP)) as f:
        yield f


async def test_conditional_get_with_both_validators(server: FeedServer, fetcher: Fetcher) -> None:
    first = await fetcher.fetch(server.url("/feed.xml"))
    assert isinstance(first, Fetched) and first.etag and first.last_modified
    second = await fetcher.fetch(server.url("/feed.xml"), first.etag, first.last_modified)
    assert isinstance(second, NotModified)
    assert (second.etag, second.last_modified) == (first.etag, first.last_modified)
    request = server.requests("/feed.xml")[-1]
    assert request.status == 304
    server.publish("/feed.xml", entry(2))
    third = await fetcher.fetch(server.url("/feed.xml"), first.etag, first.last_modified)
    assert isinstance(third, Fetched) and third.etag != first.etag


@pytest.mark.parametrize(("etag", "last_modified"), [(True, False), (False, True)],
                         ids=["etag-only", "last-modified-only"])
async def test_conditional_get_with_one_validator(server: FeedServer, fetcher: Fetcher,
                                                  etag: bool, last_modified: bool) -> None:
    server.add_feed("/one.xml", items=[entry(1)], etag=etag, last_modified=last_modified)
    first = await fetcher.fetch(server.url("/one.xml"))
    assert isinstance(first, Fetched)
    assert bool(first.etag) is etag and bool(first.last_modified) is last_modified
    second = await fetcher.fetch(server.url("/one.xml"), first.etag, first.last_modified)
    assert isinstance(second, NotModified)


@pytest.mark.parametrize("only", ["etag", "last-modified"])
async def test_a_304_without_a_validator_keeps_the_one_sent(
        server: FeedServer, fetcher: Fetcher, only: Literal["etag", "last-modified"]) -> None:
    # RFC 9110 15.4.5 asks a 304 for the ETag only; servers also drop either one.
    server.add_feed("/one.xml", items=[entry(1)], validators_in_304=only)
    first = await fetcher.fetch(server.url("/one.xml"))
    assert isinstance(first, Fetched) and first.etag and first.last_modified
    second = await fetcher.fetch(server.url("/one.xml"), first.etag, first.last_modified)
    assert isinstance(second, NotModified) and server.requests("/one.xml")[-1].status == 304
    assert (second.etag, second.last_modified) == (first.etag, first.last_modified)


async def test_gzip_is_requested_and_decoded(server: FeedServer, fetcher: Fetcher) -> None:
    server.add_feed("/gz.xml", items=[entry(1)], compress=True)
    result = await fetcher.fetch(server.url("/gz.xml"))
    assert isinstance(result, Fetched) and b"<rss" in result.body
    request = server.requests("/gz.xml")[-1]
    accepted = request.headers.get("accept-encoding") or ""
    assert "gzip" in accepted and "deflate" in accepted and "br" in accepted


async def test_the_user_agent_names_the_version_and_the_project_url(
        server: FeedServer, fetcher: Fetcher) -> None:
    # From the installed metadata (pyproject.toml), so the UA cannot drift from it.
    metadata = importlib.metadata.metadata("newsbot")
    urls = dict(entry.split(", ", 1) for entry in metadata.get_all("Project-URL") or [])
    assert await fetcher.fetch(server.url("/feed.xml"))
    sent = server.requests("/feed.xml")[-1].headers["user-agent"]
    assert f"newsbot/{metadata['Version']} " in sent
    assert f"(+{urls['Homepage']})" in sent


def raw_deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


@pytest.mark.parametrize(("content_encoding", "encode"), [
    ("deflate", zlib.compress),  # zlib-wrapped, as RFC 9110 says
    ("deflate", raw_deflate),  # raw, as some servers send it and browsers accept
    ("br", brotli.compress),
    ("gzip, br", lambda body: brotli.compress(gzip.compress(body))),
    ("x-gzip", gzip.compress),
], ids=["deflate-zlib", "deflate-raw", "br", "gzip-then-br", "x-gzip"])
async def test_every_coding_is_decoded(server: FeedServer, fetcher: Fetcher,
                                       content_encoding: str, encode: Callable[[bytes], bytes],
                                       ) -> None:
    plain = (await fetcher.fetch(server.url("/feed.xml")))
    assert isinstance(plain, Fetched)
    encoded = encode(plain.body)
    server.serve_bytes("/coded.xml", encoded, headers={
        "Content-Type": "application/rss+xml", "Content-Encoding": content_encoding})
    result = await fetcher.fetch(server.url("/coded.xml"))
    assert isinstance(result, Fetched) and result.body == plain.body
    assert server.requests("/coded.xml")[-1].bytes_sent == len(encoded)  # sent encoded


@contextlib.contextmanager
def peak_traced() -> Iterator[list[int]]:
    """The most memory Python allocated (all threads) inside the block, in bytes."""
    peak: list[int] = []
    started = not tracemalloc.is_tracing()
    if started:
        tracemalloc.start()
    tracemalloc.reset_peak()
    try:
        yield peak
    finally:
        peak.append(tracemalloc.get_traced_memory()[1])
        if started:
            tracemalloc.stop()


@pytest.mark.parametrize("coding", ["gzip", "deflate", "raw-deflate", "br"])
async def test_a_compression_bomb_is_refused_without_inflating_it(
        server: FeedServer, fetcher: Fetcher, coding: BombCoding) -> None:
    """1 GiB of zeros in ~1 MB (deflate family) or ~1.6 KB (br). Decoded by httpx, one
    64 KiB read of it used to inflate whole before the cap was checked: a peak of ~150 MB
    for gzip and ~1 GB for br. Now at most the cap plus one bounded piece exists."""
    server.set_fault("/bomb.xml", Fault.bomb(1 << 30, coding))
    # Once untraced: the server builds the bomb (br: ~0.7 s) and the pool warms up.
    assert isinstance(await fetcher.fetch(server.url("/bomb.xml")), FetchError)
    with peak_traced() as peak:
        result = await fetcher.fetch(server.url("/bomb.xml"))
    assert isinstance(result, FetchError) and result.kind == "too-large"
    assert peak[0] < 8 * CAP, f"peak {peak[0] / 1e6:.1f} MB while refusing a bomb"
    assert "decoded" in result.message


def stacked_bomb(megabytes: int) -> bytes:
    """br(gzip(a tiny feed) + `megabytes` MiB of zeros after the gzip stream's end): the
    inner stage drops the zeros, so the last stage's output stays tiny however much the
    outer one inflates."""
    compressor = brotli.Compressor(quality=5)
    out = [compressor.process(gzip.compress(b"<rss version='2.0'><channel/></rss>"))]
    out += [compressor.process(bytes(1 << 20)) for _ in range(megabytes)]
    return b"".join([*out, compressor.finish()])


async def test_a_stacked_coding_bomb_is_refused(server: FeedServer, fetcher: Fetcher) -> None:
    """143 bytes that inflate to 64 MiB between the stages of "gzip, br" (a GiB would be
    a minute of the event loop decoding, with no await for a timeout to fire in)."""
    server.serve_bytes("/stacked.xml", stacked_bomb(64), headers={
        "Content-Type": "application/rss+xml", "Content-Encoding": "gzip, br"})
    with peak_traced() as peak:
        result = await fetcher.fetch(server.url("/stacked.xml"))
    assert isinstance(result, FetchError) and result.kind == "too-large", result
    assert "between stages" in result.message
    assert peak[0] < 8 * CAP


@pytest.mark.parametrize("framing", ["length", "chunked", "close"])
async def test_compressed_bytes_past_the_cap_are_refused_even_if_they_decode_to_nothing(
        server: FeedServer, fetcher: Fetcher, framing: str) -> None:
    """64 MiB of empty deflate blocks: valid, decoding to nothing, so only the count of
    bytes on the wire can stop it (checked on every read, not only when output comes out,
    or it runs until the deadline). A declared Content-Length stops it before reading."""
    server.set_fault("/hollow.xml", Fault.empty_blocks(
        64, "gzip", content_length=framing == "length", chunked=framing == "chunked"))
    result = await fetcher.fetch(server.url("/hollow.xml"))
    assert isinstance(result, FetchError) and result.kind == "too-large"
    expected = "Content-Length" if framing == "length" else "on the wire"
    assert expected in result.message  # (running to the 3 s deadline would be "timeout")


@pytest.mark.parametrize(("content_encoding", "body", "expected"), [
    ("gzip", b"\x1f\x8b\x08\x00garbage, not deflate", "corrupt gzip"),
    ("gzip", gzip.compress(b"<rss>" + b"x" * 10_000)[:-12], "gzip data cut short"),
    ("br", b"\xffnot brotli", "corrupt br"),
    ("zstd", b"(\xb5/\xfd...", "unsupported Content-Encoding 'zstd'"),
], ids=["corrupt-gzip", "truncated-gzip", "corrupt-br", "unspoken-coding"])
async def test_undecodable_bodies_are_protocol_errors(
        server: FeedServer, fetcher: Fetcher, content_encoding: str, body: bytes,
        expected: str) -> None:
    server.serve_bytes("/bad.xml", body, headers={
        "Content-Type": "application/rss+xml", "Content-Encoding": content_encoding})
    result = await fetcher.fetch(server.url("/bad.xml"))
    assert isinstance(result, FetchError) and result.kind == "protocol"
    assert expected in result.message


async def test_a_mislabelled_plain_body_is_read(server: FeedServer, fetcher: Fetcher) -> None:
    server.serve_bytes("/mislabelled.xml", b"<rss version='2.0'><channel/></rss>", headers={
        "Content-Type": "application/rss+xml", "Content-Encoding": "utf-8"})
    result = await fetcher.fetch(server.url("/mislabelled.xml"))
    assert isinstance(result, Fetched) and result.body == b"<rss version='2.0'><channel/></rss>"


@pytest.mark.parametrize("content_length", [True, False], ids=["declared", "undeclared"])
async def test_oversized_body_is_refused(server: FeedServer, fetcher: Fetcher,
                                         content_length: bool) -> None:
    server.set_fault("/big.xml", Fault.oversized(5, content_length=content_length))
    result = await fetcher.fetch(server.url("/big.xml"))
    assert isinstance(result, FetchError) and result.kind == "too-large"


async def test_slow_headers_time_out(server: FeedServer, fetcher: Fetcher) -> None:
    server.set_fault("/slow.xml", Fault.slow_headers(5))
    started = time.monotonic()
    result = await fetcher.fetch(server.url("/slow.xml"))
    assert isinstance(result, FetchError) and result.kind == "timeout"
    assert time.monotonic() - started < 4


async def test_trickling_body_hits_the_total_deadline(server: FeedServer,
                                                      fetcher: Fetcher) -> None:
    server.set_fault("/feed.xml", Fault.slow_body(chunk_size=16, interval=0.5))
    started = time.monotonic()
    result = await fetcher.fetch(server.url("/feed.xml"))
    assert isinstance(result, FetchError) and result.kind == "timeout"
    assert time.monotonic() - started < 5


@pytest.mark.parametrize("fault", [Fault.reset(), Fault.close(), Fault.truncated_body(10)],
                         ids=["reset", "close", "truncated"])
async def test_broken_connections_are_errors(server: FeedServer, fetcher: Fetcher,
                                             fault: Fault) -> None:
    server.set_fault("/feed.xml", fault)
    result = await fetcher.fetch(server.url("/feed.xml"))
    assert isinstance(result, FetchError) and result.kind in ("protocol", "connect")


async def test_redirect_loop_is_an_error(server: FeedServer, fetcher: Fetcher) -> None:
    server.set_fault("/loop.xml", Fault.redirect_loop())
    result = await fetcher.fetch(server.url("/loop.xml"))
    assert isinstance(result, FetchError) and "redirects" in result.message


@pytest.mark.parametrize(("status", "permanent"), [(301, True), (308, True), (302, False),
                                                   (307, False)])
async def test_only_permanent_redirects_move_the_feed(server: FeedServer, fetcher: Fetcher,
                                                      status: int, permanent: bool) -> None:
    server.set_fault("/old.xml", Fault.redirect("/feed.xml", status))
    result = await fetcher.fetch(server.url("/old.xml"))
    assert isinstance(result, Fetched)
    assert result.moved_to == (server.url("/feed.xml") if permanent else None)


@pytest.mark.parametrize(("first", "second", "permanent"), [
    (301, 308, True), (301, 302, False), (307, 301, False)])
async def test_a_redirect_chain_moves_the_feed_only_if_every_hop_is_permanent(
        server: FeedServer, fetcher: Fetcher, first: int, second: int, permanent: bool) -> None:
    server.set_fault("/a.xml", Fault.redirect("/b.xml", first))
    server.set_fault("/b.xml", Fault.redirect(server.url("/feed.xml"), second))
    result = await fetcher.fetch(server.url("/a.xml"))
    assert isinstance(result, Fetched) and result.final_url == server.url("/feed.xml")
    assert result.moved_to == (server.url("/feed.xml") if permanent else None)
    # The validators and headers travel with every hop.
    assert server.requests("/feed.xml")[-1].headers["user-agent"].startswith("newsbot/")


@pytest.mark.parametrize("location", ["http://[not-a-host/feed.xml", "http://exa%01mple/x"])
async def test_a_redirect_to_an_unreadable_url_is_a_protocol_error(
        server: FeedServer, fetcher: Fetcher, location: str) -> None:
    server.set_fault("/bad.xml", Fault.redirect(location.replace("%01", "\x01"), 302))
    result = await fetcher.fetch(server.url("/bad.xml"))
    assert isinstance(result, FetchError) and result.kind == "protocol"
    assert "invalid URL" in result.message


async def test_retry_after_seconds_and_dates(server: FeedServer, fetcher: Fetcher) -> None:
    server.set_fault("/a.xml", Fault.http_status(429, retry_after=120))
    server.set_fault("/b.xml", Fault.http_status(
        503, retry_after=datetime.now(UTC) + timedelta(hours=1)))
    a = await fetcher.fetch(server.url("/a.xml"))
    b = await fetcher.fetch(server.url("/b.xml"))
    assert isinstance(a, FetchError) and a.status == 429
    assert a.retry_after == timedelta(seconds=120)
    assert isinstance(b, FetchError) and b.status == 503 and b.retry_after is not None
    assert timedelta(minutes=58) < b.retry_after <= timedelta(hours=1)


async def test_gone_and_not_found_are_http_errors(server: FeedServer, fetcher: Fetcher) -> None:
    server.set_fault("/gone.xml", Fault.http_status(410))
    result = await fetcher.fetch(server.url("/gone.xml"))
    assert isinstance(result, FetchError) and result.status == 410


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://127.0.0.1/feed",
                                 "gopher://127.0.0.1/"])
async def test_only_http_schemes(fetcher: Fetcher, url: str) -> None:
    result = await fetcher.fetch(url)
    assert isinstance(result, FetchError) and result.kind == "scheme"


async def test_redirect_to_another_scheme_is_refused(server: FeedServer,
                                                     fetcher: Fetcher) -> None:
    server.set_fault("/evil.xml", Fault.redirect("file:///etc/passwd", 302))
    result = await fetcher.fetch(server.url("/evil.xml"))
    assert isinstance(result, FetchError) and result.kind == "scheme"
    assert "file:///etc/passwd" in result.message


async def test_connection_refused_is_a_value(fetcher: Fetcher) -> None:
    result = await fetcher.fetch("http://127.0.0.1:9/feed.xml")
    assert isinstance(result, FetchError) and result.kind == "connect"


async def test_https_to_a_plain_http_server_is_a_tls_error(server: FeedServer,
                                                           fetcher: Fetcher) -> None:
    # The server answers the ClientHello with an HTTP 400: not a TLS record at all.
    result = await fetcher.fetch(server.url("/feed.xml").replace("http://", "https://"))
    assert isinstance(result, FetchError) and result.kind == "tls"
    assert "WRONG_VERSION_NUMBER" in result.message or "wrong version" in result.message


async def test_per_host_limit_holds(server: FeedServer) -> None:
    server.set_fault("/slowish.xml", Fault.slow_headers(0.3))
    async with Fetcher(FetchLimits(timeout=timedelta(seconds=5), per_host=2)) as fetcher:
        started = time.monotonic()
        await asyncio.gather(*(fetcher.fetch(server.url("/slowish.xml")) for _ in range(6)))
        elapsed = time.monotonic() - started
    assert elapsed >= 0.85  # 6 requests, 2 at a time, 0.3 s each: three rounds


async def test_the_global_limit_holds_across_hosts(server: FeedServer) -> None:
    """Two host names for the one loopback server: per host, 2 at a time would allow 4
    at once; the global limit of 2 must still hold."""
    server.add_feed("/slowish.xml", title="Slowish")
    server.set_fault("/slowish.xml", Fault.slow_headers(0.3))
    first = server.url("/slowish.xml")
    second = first.replace("127.0.0.1", "localhost")
    assert second != first
    limits = FetchLimits(timeout=timedelta(seconds=5), per_host=2, max_concurrency=2)
    async with Fetcher(limits) as fetcher:
        started = time.monotonic()
        results = await asyncio.gather(*(fetcher.fetch(url) for url in [first, second] * 3))
        elapsed = time.monotonic() - started
    assert all(isinstance(r, Fetched) for r in results), results
    assert elapsed >= 0.85  # 6 requests, 2 at a time, 0.3 s each: three rounds, not two
