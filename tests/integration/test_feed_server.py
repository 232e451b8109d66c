"""The fake feed server (tests/fakes/feed_server.py) over real HTTP on 127.0.0.1.

Clients are httpx; documents are checked with feedparser, the parser the bot itself uses.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import selectors
import signal
import subprocess
import sys
import time
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, Literal

import brotli  # type: ignore[import-untyped]
import feedparser
import httpx
import pytest

from tests.fakes.feed_server import (
    CORPUS_DIR,
    FEEDPARSER_CASES_DIR,
    BombCoding,
    Fault,
    FeedEntry,
    FeedKind,
    FeedServer,
    RequestRecord,
)

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2025, 4, 2, 9, 30, 0, tzinfo=UTC)

needs_corpus = pytest.mark.skipif(
    not FEEDPARSER_CASES_DIR.is_dir(), reason=f"corpus not found at {CORPUS_DIR}"
)


def entry(n: int, **overrides: Any) -> FeedEntry:
    fields: dict[str, Any] = {
        "guid": f"tag:example.com,2025:item-{n}",
        "title": f"Item {n}",
        "link": f"https://example.com/news/{n}?ref=rss&x=1",
        "summary": f"<p>Summary {n}</p>",
        "published": T0 + timedelta(hours=n),
    }
    fields.update(overrides)
    return FeedEntry(**fields)


def parse(response: httpx.Response) -> Any:
    return feedparser.parse(response.content, response_headers=dict(response.headers))


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as running:
        yield running


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    # One client for the module: building one costs ~0.1 s (TLS context) even for http://.
    with httpx.Client(timeout=5.0) as http:
        yield http


# --------------------------------------------------------------------------- dynamic feeds

TRICKY = FeedEntry(
    guid="tag:example.com,2025:tricky",
    title='US & China <trade> "talks" \u2014 caf\u00e9 \u4e2d\u56fd\x01',
    link="https://example.com/a?b=1&c=2",
    summary="<p>Tariffs &amp; <b>duties</b> rise</p>",
    published=datetime(2025, 4, 2, 17, 45, 12, tzinfo=timezone(timedelta(hours=8))),
    content="<p>Full text with <i>markup</i> &amp; an ampersand.</p>",
    source_url="https://source.example.org/feed",
    source_title="Source Daily",
    author="Trade desk",
    categories=("Trade", "China & US"),
)


@pytest.mark.parametrize("kind", ["rss", "atom"])
def test_dynamic_feed_parses_with_titles_links_dates(
    server: FeedServer, client: httpx.Client, kind: FeedKind
) -> None:
    older = entry(1, published=T0 - timedelta(days=1))
    server.add_feed(
        "/f.xml",
        title="Trade & Markets",
        kind=kind,
        items=[older, TRICKY],
        ttl=timedelta(minutes=15),
    )

    response = client.get(server.url("/f.xml"))

    assert response.status_code == 200
    assert response.headers["content-type"] == f"application/{kind}+xml; charset=utf-8"
    doc = parse(response)
    assert not doc.bozo, doc.get("bozo_exception")
    assert doc.version == ("rss20" if kind == "rss" else "atom10")
    assert doc.feed.title == "Trade & Markets"
    first, second = doc.entries  # newest first
    assert first.title == 'US & China <trade> "talks" \u2014 caf\u00e9 \u4e2d\u56fd'
    assert first.link == "https://example.com/a?b=1&c=2"
    assert first.id == TRICKY.guid
    assert first.summary == TRICKY.summary
    assert first.content[0].value == TRICKY.content
    assert first.author == "Trade desk"
    assert [t.term for t in first.tags] == ["Trade", "China & US"]
    assert first.published_parsed[:6] == TRICKY.published.utctimetuple()[:6]
    assert second.title == "Item 1"
    assert second.link == older.link
    assert second.published_parsed[:6] == older.published.utctimetuple()[:6]
    if kind == "rss":
        assert doc.feed.ttl == "15"
        assert first.source == {"href": TRICKY.source_url, "title": "Source Daily"}
    else:
        assert first.source.title == "Source Daily"


def test_entry_dates_must_be_aware() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        entry(1, published=datetime(2025, 1, 1, 12, 0))


def test_publish_adds_item_on_top_and_changes_validators(
    server: FeedServer, client: httpx.Client
) -> None:
    server.add_feed("/live.xml", items=[entry(1), entry(2)], max_items=3)
    before = client.get(server.url("/live.xml"))

    server.publish("/live.xml", entry(3))
    after = client.get(server.url("/live.xml"), headers={"If-None-Match": before.headers["etag"]})

    assert after.status_code == 200
    assert after.headers["etag"] != before.headers["etag"]
    # Strictly later even within the same second: a change is never hidden by IMS.
    assert parsedate_to_datetime(after.headers["last-modified"]) > parsedate_to_datetime(
        before.headers["last-modified"]
    )
    assert [e.title for e in parse(after).entries] == ["Item 3", "Item 2", "Item 1"]

    server.publish("/live.xml", entry(4), entry(5))
    titles = [e.title for e in parse(client.get(server.url("/live.xml"))).entries]
    assert titles == ["Item 5", "Item 4", "Item 3"]  # max_items rolls the oldest off
    assert [e.title for e in server.entries("/live.xml")] == titles


def test_publish_to_unknown_feed_is_an_error(server: FeedServer) -> None:
    with pytest.raises(KeyError):
        server.publish("/nope.xml", entry(1))


# --------------------------------------------------------------------------- conditional GET


def _conditional(
    client: httpx.Client, url: str, first: httpx.Response, *, etag: bool, since: bool
) -> httpx.Response:
    headers = {}
    if etag and "etag" in first.headers:
        headers["If-None-Match"] = first.headers["etag"]
    if since and "last-modified" in first.headers:
        headers["If-Modified-Since"] = first.headers["last-modified"]
    return client.get(url, headers=headers)


@pytest.mark.parametrize(
    ("etag", "last_modified"),
    [(True, True), (True, False), (False, True), (False, False)],
    ids=["both", "etag-only", "last-modified-only", "none"],
)
def test_conditional_get_per_validator(
    client: httpx.Client, etag: bool, last_modified: bool
) -> None:
    with FeedServer(etag=etag, last_modified=last_modified) as server:
        server.add_feed("/c.xml", items=[entry(1)])
        url = server.url("/c.xml")
        first = client.get(url)
        assert ("etag" in first.headers) == etag
        assert ("last-modified" in first.headers) == last_modified
        if etag:
            assert first.headers["etag"].startswith('"')  # strong
            assert not first.headers["etag"].startswith("W/")

        again = _conditional(client, url, first, etag=True, since=True)

        if etag or last_modified:
            assert again.status_code == 304
            assert again.content == b""
            assert "content-length" not in again.headers
        else:
            assert again.status_code == 200
            assert again.content == first.content


def test_each_validator_alone_gives_304(server: FeedServer, client: httpx.Client) -> None:
    server.add_feed("/c.xml", items=[entry(1)])
    url = server.url("/c.xml")
    first = client.get(url)

    assert _conditional(client, url, first, etag=True, since=False).status_code == 304
    assert _conditional(client, url, first, etag=False, since=True).status_code == 304
    listed = {"If-None-Match": f'"other", W/{first.headers["etag"]}'}  # weak comparison
    assert client.get(url, headers=listed).status_code == 304
    assert client.get(url, headers={"If-None-Match": "*"}).status_code == 304
    assert client.get(url, headers={"If-None-Match": '"stale"'}).status_code == 200
    # If-None-Match wins over If-Modified-Since when both are sent (RFC 9110 13.2.2).
    stale_tag = {"If-None-Match": '"stale"', "If-Modified-Since": first.headers["last-modified"]}
    assert client.get(url, headers=stale_tag).status_code == 200
    old = {"If-Modified-Since": "Mon, 01 Jan 2001 00:00:00 GMT"}
    assert client.get(url, headers=old).status_code == 200


def test_etag_of_any_encoding_validates(server: FeedServer, client: httpx.Client) -> None:
    server.add_feed("/c.xml", items=[entry(1)])
    url = server.url("/c.xml")
    zipped = client.get(url, headers={"Accept-Encoding": "gzip"})
    plain = client.get(url, headers={"Accept-Encoding": "identity"})
    assert zipped.headers["etag"] != plain.headers["etag"]  # one strong tag per coding

    cross = client.get(
        url, headers={"Accept-Encoding": "identity", "If-None-Match": zipped.headers["etag"]}
    )
    assert cross.status_code == 304


@pytest.mark.parametrize("only", ["etag", "last-modified"])
def test_a_304_can_carry_one_validator_only(
    server: FeedServer, client: httpx.Client, only: Literal["etag", "last-modified"]
) -> None:
    server.add_feed("/c.xml", items=[entry(1)], validators_in_304=only)
    url = server.url("/c.xml")
    first = client.get(url)
    assert "etag" in first.headers and "last-modified" in first.headers  # a 200 has both

    again = _conditional(client, url, first, etag=True, since=True)

    assert again.status_code == 304
    assert {"etag", "last-modified"} & set(again.headers) == {only}
    assert again.headers[only] == first.headers[only]


def test_server_that_ignores_validators_always_sends_200(client: httpx.Client) -> None:
    with FeedServer(honor_validators=False) as server:
        server.add_feed("/c.xml", items=[entry(1)])
        url = server.url("/c.xml")
        first = client.get(url)
        assert "etag" in first.headers
        assert "last-modified" in first.headers
        again = _conditional(client, url, first, etag=True, since=True)
        assert again.status_code == 200
        assert again.content == first.content


def test_switches_per_resource_and_at_runtime(server: FeedServer, client: httpx.Client) -> None:
    server.add_feed("/only-lm.xml", items=[entry(1)], etag=False)
    first = client.get(server.url("/only-lm.xml"))
    assert "etag" not in first.headers
    assert "last-modified" in first.headers

    server.configure("/only-lm.xml", honor_validators=False)
    again = _conditional(client, server.url("/only-lm.xml"), first, etag=True, since=True)
    assert again.status_code == 200

    server.configure(last_modified=False)  # server default; the feed above keeps etag=False
    server.add_feed("/none.xml", items=[entry(1)])
    bare = client.get(server.url("/none.xml"))
    assert "last-modified" not in bare.headers
    assert "etag" in bare.headers


# --------------------------------------------------------------------------- compression


@pytest.mark.parametrize(
    ("accept", "coding"),
    [
        ("gzip, deflate", "gzip"),
        ("deflate", "deflate"),
        ("gzip;q=0, deflate;q=0.5", "deflate"),
        ("gzip, deflate, br", "gzip"),  # a tie goes to gzip
        ("gzip;q=0.5, br", "br"),
        ("br", "br"),
        ("identity", None),
        ("compress", None),
    ],
)
def test_compression_follows_accept_encoding(
    server: FeedServer, client: httpx.Client, accept: str, coding: str | None
) -> None:
    items = [entry(n) for n in range(20)]
    server.add_feed("/z.xml", items=items)
    plain = client.get(server.url("/z.xml"), headers={"Accept-Encoding": "identity"}).content

    with client.stream("GET", server.url("/z.xml"), headers={"Accept-Encoding": accept}) as r:
        raw = b"".join(r.iter_raw())
        assert r.headers.get("content-encoding") == coding
        assert r.headers["vary"] == "Accept-Encoding"
        assert int(r.headers["content-length"]) == len(raw)

    if coding == "gzip":
        assert gzip.decompress(raw) == plain
        assert len(raw) < len(plain) / 3
    elif coding == "deflate":
        assert zlib.decompress(raw) == plain  # zlib-wrapped, as RFC 9110 says
    elif coding == "br":
        assert brotli.decompress(raw) == plain
    else:
        assert raw == plain


def test_compression_can_be_disabled(server: FeedServer, client: httpx.Client) -> None:
    server.add_feed("/z.xml", items=[entry(1)], compress=False)
    response = client.get(server.url("/z.xml"), headers={"Accept-Encoding": "gzip"})
    assert "content-encoding" not in response.headers
    assert not parse(response).bozo


# --------------------------------------------------------------------------- static bytes


@needs_corpus
def test_serve_bytes_is_byte_for_byte_with_given_headers(
    server: FeedServer, client: httpx.Client
) -> None:
    path = CORPUS_DIR / "news-feeds" / "golem-de-2018-10-28-iso8859-1.xml"
    body = path.read_bytes()
    server.serve_bytes(
        "/golem.xml",
        body,
        {"Content-Type": "application/xml; charset=iso-8859-1", "Cache-Control": "max-age=600"},
    )

    response = client.get(server.url("/golem.xml"))

    assert response.content == body
    assert response.headers["content-type"] == "application/xml; charset=iso-8859-1"
    assert response.headers["cache-control"] == "max-age=600"
    doc = parse(response)
    assert doc.encoding == "iso-8859-1"
    assert len(doc.entries) == 40


@needs_corpus
def test_feedparser_case_headers_arrive_as_real_headers(
    server: FeedServer, client: httpx.Client
) -> None:
    name = "encoding/http_application_rss_xml_charset_overrides_encoding.xml"
    case = server.serve_feedparser_case("/case.xml", name)
    assert case.headers == (("Content-type", 'application/rss+xml;charset= "us-ascii"'),)
    assert case.expect == "not bozo and encoding == 'us-ascii'"

    response = client.get(server.url("/case.xml"))

    assert response.headers["content-type"] == 'application/rss+xml;charset= "us-ascii"'
    assert response.content == (FEEDPARSER_CASES_DIR / name).read_bytes()
    doc = parse(response)
    assert not doc.bozo
    assert doc.encoding == "us-ascii"  # the header beat the XML declaration (iso-8859-1)


@needs_corpus
def test_feedparser_case_explicit_etag_is_sent_and_validates(
    server: FeedServer, client: httpx.Client
) -> None:
    server.serve_feedparser_case("/etag.xml", "wellformed/http/headers_etag.xml")
    response = client.get(server.url("/etag.xml"))
    assert response.headers["etag"] == "foo"
    assert "content-type" not in response.headers  # only the case's own headers
    again = client.get(server.url("/etag.xml"), headers={"If-None-Match": "foo"})
    assert again.status_code == 304


def test_serve_bytes_with_status_and_no_validators(
    server: FeedServer, client: httpx.Client
) -> None:
    server.serve_bytes("/gone.xml", b"<error/>", {"Content-Type": "text/xml"}, status=410)
    response = client.get(server.url("/gone.xml"), headers={"If-None-Match": "*"})
    assert response.status_code == 410
    assert response.content == b"<error/>"
    assert "etag" not in response.headers


# --------------------------------------------------------------------------- faults


@pytest.mark.parametrize(
    ("fault", "status", "header"),
    [
        (Fault.http_status(404), 404, None),
        (Fault.http_status(410), 410, None),
        (Fault.http_status(500), 500, None),
        (Fault.http_status(429, retry_after=120), 429, ("retry-after", "120")),
        (
            Fault.http_status(503, retry_after=datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)),
            503,
            ("retry-after", "Wed, 02 Jan 2030 03:04:05 GMT"),
        ),
        (
            Fault.http_status(403, headers={"X-Reason": "blocked"}),
            403,
            ("x-reason", "blocked"),
        ),
    ],
    ids=["404", "410", "500", "429-seconds", "503-http-date", "403-custom-header"],
)
def test_status_faults(
    server: FeedServer,
    client: httpx.Client,
    fault: Fault,
    status: int,
    header: tuple[str, str] | None,
) -> None:
    server.add_feed("/f.xml", items=[entry(1)])
    server.set_fault("/f.xml", fault)
    response = client.get(server.url("/f.xml"))
    assert response.status_code == status
    if header is not None:
        assert response.headers[header[0]] == header[1]

    server.set_fault("/f.xml", None)
    assert client.get(server.url("/f.xml")).status_code == 200


def test_fault_for_a_number_of_requests_then_recovers(
    server: FeedServer, client: httpx.Client
) -> None:
    server.add_feed("/f.xml", items=[entry(1)])
    server.set_fault("/f.xml", Fault.http_status(503).for_requests(2))
    codes = [client.get(server.url("/f.xml")).status_code for _ in range(3)]
    assert codes == [503, 503, 200]


@pytest.mark.parametrize("code", [301, 302, 307, 308])
def test_redirects(server: FeedServer, client: httpx.Client, code: int) -> None:
    server.add_feed("/new.xml", items=[entry(1)])
    server.set_fault("/old.xml", Fault.redirect("/new.xml", code))

    response = client.get(server.url("/old.xml"), follow_redirects=True)

    assert response.status_code == 200
    assert [r.status_code for r in response.history] == [code]
    assert response.history[0].headers["location"] == server.url("/new.xml")
    assert parse(response).entries[0].title == "Item 1"


def test_redirect_loops(server: FeedServer, client: httpx.Client) -> None:
    server.set_fault("/self.xml", Fault.redirect_loop())
    server.set_fault("/a.xml", Fault.redirect("/b.xml", 301))
    server.set_fault("/b.xml", Fault.redirect("/a.xml", 301))
    for path in ("/self.xml", "/a.xml"):
        with pytest.raises(httpx.TooManyRedirects):
            client.get(server.url(path), follow_redirects=True)


def test_slow_headers(server: FeedServer) -> None:
    server.add_feed("/slow.xml", items=[entry(1)])
    server.set_fault("/slow.xml", Fault.slow_headers(0.5).for_requests(1))
    with httpx.Client(timeout=0.1) as impatient, pytest.raises(httpx.ReadTimeout):
        impatient.get(server.url("/slow.xml"))

    server.set_fault("/slow.xml", Fault.slow_headers(0.2))
    started = time.monotonic()
    with httpx.Client(timeout=2.0) as patient:
        assert patient.get(server.url("/slow.xml")).status_code == 200
    assert time.monotonic() - started >= 0.2


def test_slow_body_trickles_the_whole_feed(server: FeedServer, client: httpx.Client) -> None:
    server.add_feed("/t.xml", items=[entry(1)], compress=False)
    body = client.get(server.url("/t.xml")).content
    server.set_fault("/t.xml", Fault.slow_body(chunk_size=len(body) // 5 + 1, interval=0.05))

    started = time.monotonic()
    with client.stream("GET", server.url("/t.xml")) as response:
        chunks = list(response.iter_raw())
    elapsed = time.monotonic() - started

    assert b"".join(chunks) == body
    assert len(chunks) >= 3  # it really arrived in pieces
    assert elapsed >= 0.2


def test_truncated_body(server: FeedServer, client: httpx.Client) -> None:
    server.add_feed("/t.xml", items=[entry(1)])
    server.set_fault("/t.xml", Fault.truncated_body(50))
    with pytest.raises(httpx.RemoteProtocolError, match="complete message body"):
        client.get(server.url("/t.xml"))


def test_connection_reset_and_close(server: FeedServer) -> None:
    server.set_fault("/reset.xml", Fault.reset())
    server.set_fault("/close.xml", Fault.close())
    with httpx.Client(timeout=2.0) as http:
        with pytest.raises(httpx.ReadError):
            http.get(server.url("/reset.xml"))
        with pytest.raises(httpx.RemoteProtocolError, match="without sending a response"):
            http.get(server.url("/close.xml"))
    assert [r.status for r in server.requests()] == [0, 0]


@pytest.mark.parametrize("with_length", [True, False])
def test_oversized_body(server: FeedServer, client: httpx.Client, with_length: bool) -> None:
    server.set_fault("/big.xml", Fault.oversized(3, content_length=with_length))
    received = 0
    with client.stream("GET", server.url("/big.xml")) as response:
        if with_length:
            assert response.headers["content-length"] == str(3 * 1024 * 1024)
        else:
            assert "content-length" not in response.headers
            assert response.headers["connection"] == "close"
        for chunk in response.iter_raw():
            if received == 0:
                assert chunk.startswith(b"<?xml")
            received += len(chunk)
    assert received == 3 * 1024 * 1024


def test_gzip_bomb_is_small_on_the_wire_and_huge_inflated(
    server: FeedServer, client: httpx.Client
) -> None:
    server.set_fault("/bomb.xml", Fault.gzip_bomb())  # 1 GiB of zeros
    inflater = zlib.decompressobj(31)
    inflated = raw_bytes = 0
    with client.stream("GET", server.url("/bomb.xml")) as response:
        wire_length = int(response.headers["content-length"])
        assert response.headers["content-encoding"] == "gzip"
        for chunk in response.iter_raw(chunk_size=4096):
            raw_bytes += len(chunk)
            data = inflater.decompress(chunk, 8 * 1024 * 1024)
            assert not data.strip(b"\0")
            inflated += len(data)
            if inflated >= 8 * 1024 * 1024:
                break  # read a few MB and hang up; never 1 GB
    assert wire_length < 1_200_000  # ~1 KB per MiB
    assert inflated >= 8 * 1024 * 1024
    assert inflated / raw_bytes > 500


def test_small_gzip_bomb_is_a_valid_gzip_stream(server: FeedServer, client: httpx.Client) -> None:
    server.set_fault("/bomb.xml", Fault.gzip_bomb(5 * 1024 * 1024))
    with client.stream("GET", server.url("/bomb.xml")) as response:
        raw = b"".join(response.iter_raw())
    assert gzip.decompress(raw) == bytes(5 * 1024 * 1024)  # checks CRC and length


def _inflate(coding: BombCoding, raw: bytes) -> bytes:
    if coding == "gzip":
        return gzip.decompress(raw)
    if coding == "deflate":
        return zlib.decompress(raw)  # checks the zlib header and Adler-32
    if coding == "raw-deflate":
        return zlib.decompress(raw, -zlib.MAX_WBITS)
    return bytes(brotli.decompress(raw))


@pytest.mark.parametrize("coding", ["gzip", "deflate", "raw-deflate", "br"])
@pytest.mark.parametrize("framing", ["length", "chunked"])
def test_bombs_of_every_coding_are_valid_streams(
    server: FeedServer, client: httpx.Client, coding: BombCoding, framing: str
) -> None:
    chunked = framing == "chunked"
    server.set_fault("/bomb.xml", Fault.bomb(5 * 1024 * 1024, coding, chunked=chunked))
    with client.stream("GET", server.url("/bomb.xml")) as response:
        raw = b"".join(response.iter_raw())
        expected = "deflate" if coding == "raw-deflate" else coding
        assert response.headers["content-encoding"] == expected
        assert ("content-length" in response.headers) is not chunked
        assert (response.headers.get("transfer-encoding") == "chunked") is chunked
    assert len(raw) < 6_000  # ~1 KB per MiB at most
    assert _inflate(coding, raw) == bytes(5 * 1024 * 1024)


def test_a_br_bomb_of_a_gibibyte_is_tiny(server: FeedServer, client: httpx.Client) -> None:
    server.set_fault("/bomb.xml", Fault.bomb(1 << 30, "br"))
    with client.stream("GET", server.url("/bomb.xml")) as response:
        raw = b"".join(response.iter_raw())
    assert len(raw) < 4096
    decompressor = brotli.Decompressor()
    first = decompressor.process(raw, output_buffer_limit=1 << 20)
    assert len(first) >= 1 << 20 and not first.strip(b"\0")  # only read a MiB of the GiB


@pytest.mark.parametrize("coding", ["gzip", "deflate"])
def test_empty_blocks_decode_to_nothing_and_never_end(
    server: FeedServer, client: httpx.Client, coding: Literal["gzip", "deflate"]
) -> None:
    server.set_fault("/empty.xml", Fault.empty_blocks(2, coding, chunked=True))
    with client.stream("GET", server.url("/empty.xml")) as response:
        raw = b"".join(response.iter_raw())
        assert response.headers["transfer-encoding"] == "chunked"
    assert len(raw) >= 2 * 1024 * 1024
    inflater = zlib.decompressobj(zlib.MAX_WBITS | 32)
    assert inflater.decompress(raw) == b""
    assert not inflater.eof


def test_oversized_body_can_be_chunked(server: FeedServer, client: httpx.Client) -> None:
    server.set_fault("/big.xml", Fault.oversized(1.5, chunked=True))
    with client.stream("GET", server.url("/big.xml")) as response:
        assert response.headers["transfer-encoding"] == "chunked"
        assert "content-length" not in response.headers
        assert "connection" not in response.headers  # chunked keeps the connection
        body = response.read()
    assert len(body) == int(1.5 * 1024 * 1024) and body.startswith(b"<?xml")


def test_wrong_content_type_keeps_the_body(server: FeedServer, client: httpx.Client) -> None:
    server.add_feed("/f.xml", items=[entry(1)])
    normal = client.get(server.url("/f.xml"))
    server.set_fault("/f.xml", Fault.wrong_content_type("text/html; charset=utf-8"))
    response = client.get(server.url("/f.xml"))
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.content == normal.content


def test_html_page_instead_of_feed(server: FeedServer, client: httpx.Client) -> None:
    server.add_feed("/f.xml", items=[entry(1)])
    server.set_fault("/f.xml", Fault.html_page())
    response = client.get(server.url("/f.xml"))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.text.startswith("<!DOCTYPE html>")
    doc = parse(response)
    assert doc.bozo
    assert doc.entries == []


def test_invalid_xml(server: FeedServer, client: httpx.Client) -> None:
    server.set_fault("/f.xml", Fault.invalid_xml())
    response = client.get(server.url("/f.xml"))
    assert response.headers["content-type"].startswith("application/rss+xml")
    assert parse(response).bozo


def test_empty_body(server: FeedServer, client: httpx.Client) -> None:
    server.set_fault("/f.xml", Fault.empty_body())
    response = client.get(server.url("/f.xml"))
    assert response.status_code == 200
    assert response.headers["content-length"] == "0"
    assert response.content == b""
    assert parse(response).entries == []


def test_fault_delay_combines_with_any_fault(server: FeedServer, client: httpx.Client) -> None:
    server.set_fault("/f.xml", Fault.http_status(503).with_delay(0.2))
    started = time.monotonic()
    assert client.get(server.url("/f.xml")).status_code == 503
    assert time.monotonic() - started >= 0.2


# --------------------------------------------------------------------------- HTTP plumbing


def test_keep_alive_reuses_one_connection(server: FeedServer, client: httpx.Client) -> None:
    server.add_feed("/f.xml", items=[entry(1)])
    server.set_fault("/missing.xml", Fault.http_status(404))
    url = server.url("/f.xml")
    first = client.get(url)
    for _ in range(5):
        assert client.get(url).status_code == 200
    assert client.get(url, headers={"If-None-Match": first.headers["etag"]}).status_code == 304
    assert client.head(url).status_code == 200
    assert client.get(server.url("/missing.xml")).status_code == 404
    assert client.get(server.url("/nowhere")).status_code == 404
    assert client.get(url).content == first.content
    assert server.stats().connections == 1


def test_head_has_headers_without_body(server: FeedServer, client: httpx.Client) -> None:
    server.add_feed("/f.xml", items=[entry(1)])
    get = client.get(server.url("/f.xml"))
    head = client.head(server.url("/f.xml"))
    assert head.content == b""
    assert head.headers["content-length"] == get.headers["content-length"]
    assert head.headers["etag"] == get.headers["etag"]


async def test_many_concurrent_connections() -> None:
    with FeedServer() as server:
        paths = server.add_synthetic_feeds(20, items=20)
        limit = asyncio.Semaphore(50)
        limits = httpx.Limits(max_connections=50, max_keepalive_connections=50)
        async with httpx.AsyncClient(limits=limits, timeout=10.0) as http:

            async def fetch(i: int) -> httpx.Response:
                async with limit:
                    return await http.get(server.url(paths[i % len(paths)]))

            responses = await asyncio.gather(*(fetch(i) for i in range(200)))
        assert {r.status_code for r in responses} == {200}
        assert server.request_count() == 200
        assert 1 < server.stats().connections <= 50

        # 300 connections open at once, each with a request in flight.
        streams = [await asyncio.open_connection("127.0.0.1", server.port) for _ in range(300)]
        for i, (_, writer) in enumerate(streams):
            request = f"GET {paths[i % 20]} HTTP/1.1\r\nHost: x\r\nIf-None-Match: *\r\n\r\n"
            writer.write(request.encode())
        heads = await asyncio.wait_for(
            asyncio.gather(*(reader.readuntil(b"\r\n\r\n") for reader, _ in streams)), 10
        )
        for _, writer in streams:
            writer.close()
        assert {head.split(b" ", 2)[1] for head in heads} == {b"304"}
        assert server.stats().connections == 50 + 300


def test_request_log_and_counters(server: FeedServer, client: httpx.Client) -> None:
    server.add_feed("/f.xml", items=[entry(1)], compress=False)
    first = client.get(server.url("/f.xml?x=1"), headers={"User-Agent": "newsbot-test"})
    client.get(server.url("/f.xml"), headers={"If-None-Match": first.headers["etag"]})
    client.get(server.url("/other.xml"))

    records = server.requests("/f.xml")
    assert len(records) == 2
    method, path, headers, status, bytes_sent, received_at = records[0][:6]
    assert (method, path, status, bytes_sent) == ("GET", "/f.xml", 200, len(first.content))
    assert headers["user-agent"] == "newsbot-test"
    assert records[0].query == "x=1"
    assert received_at.tzinfo is not None
    assert records[1].status == 304
    assert records[1].headers["if-none-match"] == first.headers["etag"]
    assert records[1].bytes_sent == 0
    assert isinstance(records[1], RequestRecord)
    assert server.request_count() == 3
    assert server.request_count("/f.xml") == 2
    stats = server.stats()
    assert stats.by_status == {200: 1, 304: 1, 404: 1}

    server.reset_log()
    assert server.requests() == []
    assert server.request_count() == 0


def test_control_endpoints_in_process(server: FeedServer, client: httpx.Client) -> None:
    server.add_synthetic_feeds(2, items=25)
    response = client.post(server.url("/_control/publish?feed=1&count=3"))
    assert response.status_code == 200
    payload = response.json()
    assert payload["path"] == "/feeds/1.xml"
    assert payload["entries"] == 25
    assert [e.guid for e in server.entries("/feeds/1.xml")[:3]] == payload["published"][::-1]
    assert client.post(server.url("/_control/publish?feed=9")).status_code == 400
    assert client.get(server.url("/_control/stats")).json()["requests"] == 0


# --------------------------------------------------------------------------- entrypoint


def _read_line(proc: subprocess.Popen[str], timeout: float) -> str:
    assert proc.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ)
        if not selector.select(timeout):
            raise AssertionError("feed server printed nothing")
    return proc.stdout.readline().strip()


def test_synthetic_entrypoint_in_a_subprocess() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.feed_server", "--synthetic", "5", "--items", "30",
         "--port", "0"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        base_url = _read_line(proc, timeout=10)
        assert base_url.startswith("http://127.0.0.1:")
        with httpx.Client(base_url=base_url, timeout=5.0) as http:
            first = http.get("/feeds/4.xml", headers={"Accept-Encoding": "identity"})
            assert first.status_code == 200
            assert 20_000 <= len(first.content) <= 60_000
            doc = parse(first)
            assert not doc.bozo
            assert len(doc.entries) == 30
            assert all(e.published_parsed and e.title and e.link for e in doc.entries)
            etag = first.headers["etag"]
            assert http.get("/feeds/4.xml", headers={"If-None-Match": etag}).status_code == 304

            published = http.post("/_control/publish", params={"feed": 4, "count": 2})
            assert published.status_code == 200
            new_guids = published.json()["published"]

            after = http.get("/feeds/4.xml", headers={"If-None-Match": etag})
            assert after.status_code == 200
            entries = parse(after).entries
            assert len(entries) == 30
            assert [e.id for e in entries[:2]] == new_guids[::-1]

            stats = json.loads(http.get("/_control/stats").content)
            assert stats["requests"] == 3
            assert stats["by_status"] == {"200": 2, "304": 1}
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout=10)
        finally:
            if proc.poll() is None:
                proc.kill()
            if proc.stdout is not None:
                proc.stdout.close()
    assert code == 0
