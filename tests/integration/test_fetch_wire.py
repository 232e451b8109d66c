"""The fetcher's wire (bot/feeds/wire.py: httpx over aiohttp's pool) on 127.0.0.1:
proxies from the environment, connection reuse, no cookies, and aiohttp's errors
arriving as the fetcher's error kinds (connect timeouts and name lookups included)."""

from __future__ import annotations

import asyncio
import select
import socket
import time
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta

import pytest
from aiohttp.abc import AbstractResolver, ResolveResult

from bot.feeds.fetch import Fetched, Fetcher, FetchError, FetchLimits, NotModified
from tests.fakes.feed_server import Fault, FeedServer

FEED = (b'<?xml version="1.0"?><rss version="2.0"><channel><title>P</title>'
        b"<item><title>via proxy</title><link>https://example.org/p</link></item>"
        b"</channel></rss>")


class RecordingProxy:
    """A forward proxy stand-in on 127.0.0.1: records each request head, answers a feed."""

    def __init__(self) -> None:
        self.heads: list[str] = []
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> RecordingProxy:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *_exc: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    @property
    def url(self) -> str:
        assert self._server is not None
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        self.heads.append(head.decode("latin-1"))
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\n"
                     b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(FEED), FEED))
        await writer.drain()
        writer.close()


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as srv:
        srv.serve_bytes("/cookie.xml", FEED, headers={
            "Content-Type": "application/rss+xml", "Set-Cookie": "tracker=1; Path=/"})
        yield srv


@pytest.fixture
async def fetcher() -> AsyncIterator[Fetcher]:
    async with Fetcher(FetchLimits(timeout=timedelta(seconds=2))) as f:
        yield f


async def test_http_proxy_from_the_environment_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    async with RecordingProxy() as proxy:
        monkeypatch.setenv("http_proxy", proxy.url)
        monkeypatch.delenv("no_proxy", raising=False)
        monkeypatch.delenv("NO_PROXY", raising=False)
        async with Fetcher(FetchLimits(timeout=timedelta(seconds=2))) as fetcher:
            outcome = await fetcher.fetch("http://feeds.example.invalid/rss")
    assert isinstance(outcome, Fetched) and b"via proxy" in outcome.body
    # A forward proxy gets the absolute URL in the request line.
    assert proxy.heads[0].startswith("GET http://feeds.example.invalid/rss HTTP/1.1")


async def test_no_proxy_hosts_are_fetched_directly(monkeypatch: pytest.MonkeyPatch,
                                                   server: FeedServer) -> None:
    async with RecordingProxy() as proxy:
        monkeypatch.setenv("http_proxy", proxy.url)
        monkeypatch.setenv("no_proxy", "127.0.0.1")
        async with Fetcher(FetchLimits(timeout=timedelta(seconds=2))) as fetcher:
            outcome = await fetcher.fetch(server.url("/cookie.xml"))
    assert isinstance(outcome, Fetched)
    assert proxy.heads == []


async def test_cookies_are_neither_kept_nor_sent(server: FeedServer, fetcher: Fetcher) -> None:
    for _ in range(2):
        assert isinstance(await fetcher.fetch(server.url("/cookie.xml")), Fetched)
    sent = [r.headers for r in server.requests("/cookie.xml")]
    assert len(sent) == 2
    assert all("cookie" not in headers for headers in sent)


async def test_connections_are_reused_across_polls(fetcher: Fetcher) -> None:
    with FeedServer() as srv:
        srv.serve_bytes("/a.xml", FEED, headers={"Content-Type": "application/rss+xml"})
        first = await fetcher.fetch(srv.url("/a.xml"))
        assert isinstance(first, Fetched) and first.etag
        outcomes = [await fetcher.fetch(srv.url("/a.xml"), etag=first.etag) for _ in range(5)]
        assert all(isinstance(o, NotModified) for o in outcomes)
        assert srv.stats().connections == 1


async def test_a_refused_connection_is_a_connect_error(fetcher: Fetcher) -> None:
    with FeedServer() as srv:
        url = srv.url("/gone.xml")
    outcome = await fetcher.fetch(url)  # the server has stopped: nothing listens there
    assert isinstance(outcome, FetchError) and outcome.kind == "connect"


async def test_a_held_slot_holds_back_other_fetches() -> None:
    """The pipeline keeps its slot while it parses and saves: a fetch beyond the limit
    waits for a slot, so fetched bodies never pile up ahead of the parser."""
    with FeedServer() as srv:
        srv.serve_bytes("/a.xml", FEED, headers={"Content-Type": "application/rss+xml"})
        url = srv.url("/a.xml")
        async with Fetcher(FetchLimits(max_concurrency=2, per_host=2)) as fetcher:
            release = asyncio.Event()
            fetched = asyncio.Semaphore(0)

            async def hold() -> None:
                async with fetcher.slot(url):
                    assert isinstance(await fetcher.fetch(url, in_slot=True), Fetched)
                    fetched.release()
                    await release.wait()

            holders = [asyncio.create_task(hold()) for _ in range(2)]
            for _ in range(2):
                await fetched.acquire()
            third = asyncio.create_task(fetcher.fetch(url))
            await asyncio.sleep(0.3)
            assert not third.done() and srv.request_count("/a.xml") == 2
            release.set()
            assert isinstance(await third, Fetched)
            await asyncio.gather(*holders)
            assert srv.request_count("/a.xml") == 3


@pytest.mark.parametrize(("variable", "value"), [
    ("http_proxy", "{host_port}"),  # no scheme: an HTTP proxy, as httpx read it
    ("all_proxy", "http://{host_port}"),
])
async def test_proxy_spellings_httpx_accepted(monkeypatch: pytest.MonkeyPatch, variable: str,
                                              value: str) -> None:
    async with RecordingProxy() as proxy:
        for name in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY", "no_proxy",
                     "NO_PROXY"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv(variable, value.format(host_port=proxy.url.removeprefix("http://")))
        async with Fetcher(FetchLimits(timeout=timedelta(seconds=2))) as fetcher:
            outcome = await fetcher.fetch("http://feeds.example.invalid/rss")
    assert isinstance(outcome, Fetched)
    assert proxy.heads[0].startswith("GET http://feeds.example.invalid/rss HTTP/1.1")


async def test_a_redirect_keeps_its_connection(fetcher: Fetcher) -> None:
    with FeedServer() as srv:
        srv.serve_bytes("/feed.xml", FEED, headers={"Content-Type": "application/rss+xml"})
        srv.set_fault("/old.xml", Fault.redirect("/feed.xml", 302))
        for _ in range(3):
            assert isinstance(await fetcher.fetch(srv.url("/old.xml")), Fetched)
        assert srv.stats().connections == 1


async def test_a_long_header_is_read(fetcher: Fetcher) -> None:
    with FeedServer() as srv:
        srv.serve_bytes("/csp.xml", FEED, headers={
            "Content-Type": "application/rss+xml",
            "Content-Security-Policy": "default-src 'self'; " + "img-src x.example; " * 700})
        assert isinstance(await fetcher.fetch(srv.url("/csp.xml")), Fetched)


@pytest.fixture
def unanswered_port() -> Iterator[int]:
    """A port on 127.0.0.1 where connecting hangs: a listener that never accepts, its
    accept queue (backlog 0) filled by connections of ours, so that Linux drops every
    further SYN instead of answering or refusing it (net.ipv4.tcp_abort_on_overflow=0)."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    fillers: list[socket.socket] = []
    try:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        address = listener.getsockname()
        for _ in range(8):
            filler = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            fillers.append(filler)
            filler.setblocking(False)
            filler.connect_ex(address)
            _, connected, _ = select.select([], [filler], [], 0.3)
            if not connected:  # this SYN was dropped: the queue is full, hangs from now on
                yield address[1]
                return
        # Linux drops SYNs to a full accept queue; a kernel that does not cannot run this
        # test, and saying so loudly beats skipping it quietly.
        raise AssertionError("this kernel answered every connection: none could be made "
                             "to hang")
    finally:
        for sock in (*fillers, listener):
            sock.close()


async def test_a_connect_that_hangs_times_out_at_the_connect_timeout(
        unanswered_port: int) -> None:
    # timeout=1 s: connect timeout 1 s, the whole exchange's deadline 2 s.
    async with Fetcher(FetchLimits(timeout=timedelta(seconds=1))) as fetcher:
        started = time.monotonic()
        outcome = await fetcher.fetch(f"http://127.0.0.1:{unanswered_port}/feed.xml")
        elapsed = time.monotonic() - started
    assert isinstance(outcome, FetchError) and outcome.kind == "timeout"
    assert outcome.message == "ConnectTimeout"  # not the deadline's "no complete response"
    assert 0.9 <= elapsed < 1.8


class FixedResolver(AbstractResolver):
    """Name lookups answered here, never by the machine's resolver: a real query would
    leave 127.0.0.1 (tests must not), and its answer would depend on the network. Names
    not in `hosts` fail as getaddrinfo fails for a name that does not exist (EAI_NONAME),
    which is what aiohttp's default resolver raises for one."""

    def __init__(self, hosts: dict[str, str]) -> None:
        self.hosts = hosts
        self.asked: list[str] = []

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        self.asked.append(host)
        if host not in self.hosts:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [ResolveResult(hostname=host, host=self.hosts[host], port=port,
                              family=socket.AF_INET, proto=0,
                              flags=socket.AI_NUMERICHOST | socket.AI_NUMERICSERV)]

    async def close(self) -> None:
        pass


@pytest.fixture
def no_proxy_env(monkeypatch: pytest.MonkeyPatch) -> None:
    # With a proxy, the proxy would look the name up, and the fetch would reach it.
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy",
                 "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.usefixtures("no_proxy_env")
async def test_a_host_that_does_not_resolve_is_a_dns_error() -> None:
    resolver = FixedResolver({})
    async with Fetcher(FetchLimits(timeout=timedelta(seconds=2)), resolver=resolver) as fetcher:
        outcome = await fetcher.fetch("http://feeds.example.invalid/rss")
    assert isinstance(outcome, FetchError) and outcome.kind == "dns"
    assert "Name or service not known" in outcome.message
    assert resolver.asked == ["feeds.example.invalid"]


@pytest.mark.usefixtures("no_proxy_env")
async def test_the_given_resolver_is_the_one_used(server: FeedServer) -> None:
    resolver = FixedResolver({"feeds.test": "127.0.0.1"})
    async with Fetcher(FetchLimits(timeout=timedelta(seconds=2)), resolver=resolver) as fetcher:
        outcome = await fetcher.fetch(f"http://feeds.test:{server.port}/cookie.xml")
    assert isinstance(outcome, Fetched) and outcome.body == FEED
    assert server.requests("/cookie.xml")[-1].headers["host"] == f"feeds.test:{server.port}"
