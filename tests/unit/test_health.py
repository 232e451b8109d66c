"""The health decision (pure), the listen-address parser, and the strict
request parser of the health listener."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from http import HTTPStatus

import pytest

from bot.ops.health import (
    BadRequest,
    Request,
    decide_health,
    healthcheck,
    healthz_url,
    parse_listen,
    read_request,
)

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
CYCLE_MAX = timedelta(minutes=5)
DRAIN_MAX = timedelta(minutes=1)


@pytest.mark.parametrize(("cycle_ago", "drain_ago", "ok", "problems"), [
    pytest.param(timedelta(seconds=30), timedelta(seconds=2), True, [], id="both-fresh"),
    pytest.param(CYCLE_MAX, DRAIN_MAX, True, [], id="exactly-at-the-limit"),
    pytest.param(timedelta(minutes=6), timedelta(seconds=2), False, ["poll_cycle"],
                 id="cycle-stale"),
    pytest.param(timedelta(seconds=30), timedelta(minutes=2), False, ["outbox_drain"],
                 id="drain-stale"),
    pytest.param(None, timedelta(seconds=2), False, ["poll_cycle"], id="no-cycle-yet"),
    pytest.param(None, None, False, ["poll_cycle", "outbox_drain"], id="just-started"),
    pytest.param(-timedelta(seconds=3), timedelta(0), True, [], id="clock-stepped-back"),
])
def test_decide_health(cycle_ago: timedelta | None, drain_ago: timedelta | None, ok: bool,
                       problems: list[str]) -> None:
    last_cycle = None if cycle_ago is None else NOW - cycle_ago
    last_drain = None if drain_ago is None else NOW - drain_ago
    got_ok, reason = decide_health(last_cycle, last_drain, NOW, CYCLE_MAX, DRAIN_MAX)
    assert got_ok is ok
    assert reason["status"] == ("ok" if ok else "unhealthy")
    assert [k for k in ("poll_cycle", "outbox_drain") if not reason[k]["ok"]] == problems
    for key in problems:
        assert reason[key]["problem"]
    json.dumps(reason)  # the reason is served as JSON as is


def test_decide_health_reports_ages() -> None:
    _, reason = decide_health(NOW - timedelta(seconds=400), NOW - timedelta(seconds=1), NOW,
                              CYCLE_MAX, DRAIN_MAX)
    assert reason["poll_cycle"]["age_seconds"] == 400
    assert reason["poll_cycle"]["max_age_seconds"] == 300
    assert reason["poll_cycle"]["problem"] == "last poll cycle finished 400s ago"
    assert reason["poll_cycle"]["last_at"] == (NOW - timedelta(seconds=400)).isoformat()


@pytest.mark.parametrize(("value", "expected"), [
    ("127.0.0.1:9464", ("127.0.0.1", 9464)),
    ("0.0.0.0:80", ("0.0.0.0", 80)),
    ("localhost:9464", ("localhost", 9464)),
    ("[::1]:9464", ("::1", 9464)),
    (" 127.0.0.1:1 ", ("127.0.0.1", 1)),
])
def test_parse_listen(value: str, expected: tuple[str, int]) -> None:
    assert parse_listen(value) == expected


@pytest.mark.parametrize("value", ["9464", "127.0.0.1", "127.0.0.1:0", "127.0.0.1:70000",
                                   "::1:9464", "http://127.0.0.1:9464", "host:port", ""])
def test_parse_listen_rejects(value: str) -> None:
    with pytest.raises(ValueError, match=r"host:port|out of range"):
        parse_listen(value)


@pytest.mark.parametrize(("listen", "url"), [
    ("127.0.0.1:9464", "http://127.0.0.1:9464/healthz"),
    ("0.0.0.0:9464", "http://127.0.0.1:9464/healthz"),
    ("[::]:9464", "http://[::1]:9464/healthz"),
    ("[::1]:9000", "http://[::1]:9000/healthz"),
])
def test_healthz_url_probes_loopback_for_wildcards(listen: str, url: str) -> None:
    assert healthz_url(listen) == url


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://127.0.0.1/x", "not a url"])
def test_healthcheck_refuses_non_http_urls(url: str) -> None:
    assert healthcheck(url) == 1


async def parse(raw: bytes, limit: int = 8192) -> Request:
    reader = asyncio.StreamReader(limit=limit)
    reader.feed_data(raw)
    reader.feed_eof()
    return await read_request(reader)


@pytest.mark.parametrize(("raw", "expected"), [
    (b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", Request("GET", "/healthz")),
    (b"HEAD /metrics HTTP/1.0\r\n\r\n", Request("HEAD", "/metrics")),
    (b"GET /healthz?verbose=1 HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
     Request("GET", "/healthz")),
])
async def test_request_parser_accepts(raw: bytes, expected: Request) -> None:
    assert await parse(raw) == expected


@pytest.mark.parametrize(("raw", "status"), [
    pytest.param(b"POST /healthz HTTP/1.1\r\n\r\n", HTTPStatus.METHOD_NOT_ALLOWED, id="post"),
    pytest.param(b"GET /healthz HTTP/2.0\r\n\r\n", HTTPStatus.BAD_REQUEST, id="http2"),
    pytest.param(b"GET  /healthz HTTP/1.1\r\n\r\n", HTTPStatus.BAD_REQUEST, id="double-space"),
    pytest.param(b"GET http://x/healthz HTTP/1.1\r\n\r\n", HTTPStatus.BAD_REQUEST,
                 id="absolute-form"),
    pytest.param(b"get /healthz HTTP/1.1\r\n\r\n", HTTPStatus.BAD_REQUEST, id="lowercase"),
    pytest.param(b"GET /healthz HTTP/1.1\nHost: x\n\n", HTTPStatus.BAD_REQUEST, id="bare-lf"),
    pytest.param(b"GET /healthz HTTP/1.1\r\nHost x\r\n\r\n", HTTPStatus.BAD_REQUEST,
                 id="header-without-colon"),
    pytest.param(b"GET /healthz HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n",
                 HTTPStatus.BAD_REQUEST, id="obsolete-folding"),
    pytest.param(b"GET /healthz HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello",
                 HTTPStatus.BAD_REQUEST, id="body"),
    pytest.param(b"GET /healthz HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
                 HTTPStatus.BAD_REQUEST, id="chunked"),
    pytest.param(b"GET / HTTP/1.1\r\nContent-Length: 0\r\nContent-Length: 0\r\n\r\n",
                 HTTPStatus.BAD_REQUEST, id="repeated-length"),
    pytest.param(b"GET /healthz HTTP/1.1\r\nHost: x\r\n", HTTPStatus.BAD_REQUEST,
                 id="incomplete"),
    pytest.param(b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\n\r\n",
                 HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, id="oversized"),
    pytest.param(b"GET / HTTP/1.1\r\n" + b"X-A: b\r\n" * 60 + b"\r\n",
                 HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, id="too-many-headers"),
])
async def test_request_parser_rejects(raw: bytes, status: HTTPStatus) -> None:
    with pytest.raises(BadRequest) as caught:
        await parse(raw)
    assert caught.value.status == status
