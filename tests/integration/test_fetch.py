"""Every HTTP behaviour of the fetcher against a real server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta

import pytest

from bot.feeds.fetch import Fetched, Fetcher, FetchError, FetchLimits, NotModified
from tests.fakes.feed_server import Fault, FeedEntry, FeedServer

NOW = datetime.now(UTC)


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
                                   max_body_bytes=2_000_000)) as f:
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


async def test_gzip_is_requested_and_decoded(server: FeedServer, fetcher: Fetcher) -> None:
    server.add_feed("/gz.xml", items=[entry(1)], compress=True)
    result = await fetcher.fetch(server.url("/gz.xml"))
    assert isinstance(result, Fetched) and b"<rss" in result.body
    request = server.requests("/gz.xml")[-1]
    accepted = request.headers.get("accept-encoding") or ""
    assert "gzip" in accepted and "deflate" in accepted and "br" in accepted
    assert "newsbot/" in (request.headers.get("user-agent") or "")


async def test_gzip_bomb_is_cut_off(server: FeedServer, fetcher: Fetcher) -> None:
    server.set_fault("/bomb.xml", Fault.gzip_bomb(1 << 30))
    result = await fetcher.fetch(server.url("/bomb.xml"))
    assert isinstance(result, FetchError) and result.kind == "too-large"


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
    assert isinstance(result, FetchError)


async def test_connection_refused_is_a_value(fetcher: Fetcher) -> None:
    result = await fetcher.fetch("http://127.0.0.1:9/feed.xml")
    assert isinstance(result, FetchError) and result.kind == "connect"


async def test_per_host_limit_holds(server: FeedServer) -> None:
    server.set_fault("/slowish.xml", Fault.slow_headers(0.3))
    async with Fetcher(FetchLimits(timeout=timedelta(seconds=5), per_host=2)) as fetcher:
        started = time.monotonic()
        await asyncio.gather(*(fetcher.fetch(server.url("/slowish.xml")) for _ in range(6)))
        elapsed = time.monotonic() - started
    assert elapsed >= 0.85  # 6 requests, 2 at a time, 0.3 s each: three rounds
