"""The health listener over real HTTP on 127.0.0.1, and `healthcheck` against it."""

from __future__ import annotations

import asyncio
import io
import json
import socket
import urllib.request
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.ops import health
from bot.ops.health import HealthServer, decide_health, healthcheck
from bot.ops.metrics import Metrics

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


class State:
    """What the service would hold: when the last cycle and drain finished."""

    def __init__(self) -> None:
        self.last_cycle: datetime | None = NOW
        self.last_drain: datetime | None = NOW
        self.broken = False

    def health(self) -> tuple[bool, dict[str, Any]]:
        if self.broken:
            raise RuntimeError("health function bug")
        return decide_health(self.last_cycle, self.last_drain, NOW, timedelta(minutes=5),
                             timedelta(minutes=1))


@pytest.fixture
def state() -> State:
    return State()


@pytest.fixture
def metrics() -> Metrics:
    m = Metrics(topics=["tariffs"])
    m.set_queue(4)
    return m


@pytest.fixture
async def server(state: State, metrics: Metrics) -> AsyncIterator[HealthServer]:
    async def render() -> bytes:  # async, as a scrape that refreshes gauges from the DB is
        return metrics.render()

    srv = HealthServer("127.0.0.1", 0, state.health, render)
    await srv.start()
    yield srv
    await srv.stop()


async def raw_request(port: int, data: bytes) -> tuple[int, dict[str, str], bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    await writer.drain()
    response = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    head, _, body = response.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode().split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (h.partition(":") for h in header_lines)}
    return int(status_line.split()[1]), headers, body


async def get(port: int, path: str, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    return await raw_request(port, f"{method} {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())


async def test_healthz_is_200_with_json_when_healthy(server: HealthServer) -> None:
    status, headers, body = await get(server.port, "/healthz")
    assert status == 200
    assert headers["content-type"] == "application/json"
    assert headers["connection"] == "close"
    assert int(headers["content-length"]) == len(body)
    reason = json.loads(body)
    assert reason["status"] == "ok"
    assert reason["poll_cycle"]["ok"] and reason["outbox_drain"]["ok"]


async def test_healthz_is_503_with_the_reason_when_stale(server: HealthServer,
                                                         state: State) -> None:
    state.last_drain = NOW - timedelta(minutes=3)
    status, _, body = await get(server.port, "/healthz")
    assert status == 503
    reason = json.loads(body)
    assert reason["status"] == "unhealthy"
    assert reason["outbox_drain"]["problem"] == "last outbox drain finished 180s ago"


async def test_metrics_are_prometheus_text(server: HealthServer, metrics: Metrics) -> None:
    metrics.observe_rate_limited()
    status, headers, body = await get(server.port, "/metrics")
    assert status == 200
    assert headers["content-type"].startswith("text/plain; version=")
    names = {s.name: s.value for f in text_string_to_metric_families(body.decode())
             for s in f.samples if not s.labels}
    assert names["newsbot_outbox_queue"] == 4
    assert names["newsbot_telegram_rate_limited_total"] == 1


@pytest.mark.parametrize(("request_bytes", "status"), [
    pytest.param(b"GET /nope HTTP/1.1\r\n\r\n", 404, id="unknown-path"),
    pytest.param(b"GET /healthz/ HTTP/1.1\r\n\r\n", 404, id="trailing-slash"),
    pytest.param(b"DELETE /healthz HTTP/1.1\r\n\r\n", 405, id="method"),
    pytest.param(b"GET /healthz HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc", 400, id="body"),
    pytest.param(b"hello\r\n\r\n", 400, id="garbage"),
    pytest.param(b"GET /healthz HTTP/1.1\r\n" + b"X-Pad: " + b"a" * 20_000 + b"\r\n\r\n", 431,
                 id="oversized-head"),
])
async def test_bad_requests_get_a_clear_status(server: HealthServer, request_bytes: bytes,
                                               status: int) -> None:
    got, headers, _ = await raw_request(server.port, request_bytes)
    assert got == status
    if status == 405:
        assert headers["allow"] == "GET, HEAD"


async def test_head_has_headers_only(server: HealthServer) -> None:
    status, headers, body = await get(server.port, "/healthz", method="HEAD")
    assert status == 200 and body == b"" and int(headers["content-length"]) > 0


async def test_a_failing_health_function_answers_500(server: HealthServer,
                                                     state: State) -> None:
    state.broken = True
    status, _, _ = await get(server.port, "/healthz")
    assert status == 500


async def test_a_silent_client_is_cut_off(server: HealthServer,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(health, "READ_TIMEOUT", timedelta(milliseconds=200))
    status, _, _ = await raw_request(server.port, b"GET /healthz HTTP/1.1\r\n")
    assert status == 408


async def test_healthcheck_exit_codes(server: HealthServer, state: State) -> None:
    url = f"http://127.0.0.1:{server.port}/healthz"
    assert await asyncio.to_thread(healthcheck, url) == 0
    state.last_cycle = None
    assert await asyncio.to_thread(healthcheck, url) == 1
    assert await asyncio.to_thread(healthcheck, url.replace("/healthz", "/missing")) == 1


async def test_healthcheck_says_why(server: HealthServer, state: State) -> None:
    url = f"http://127.0.0.1:{server.port}/healthz"
    out = io.StringIO()
    assert await asyncio.to_thread(healthcheck, url, timedelta(seconds=3), out) == 0
    state.last_drain = None
    assert await asyncio.to_thread(healthcheck, url, timedelta(seconds=3), out) == 1
    healthy, unhealthy = out.getvalue().splitlines()
    assert healthy.startswith('healthy: {"checked_at"')
    assert unhealthy.startswith("unhealthy: HTTP 503: {")
    assert "no outbox drain has finished yet" in unhealthy


async def test_healthcheck_when_nothing_listens_and_after_stop(state: State,
                                                               metrics: Metrics) -> None:
    srv = HealthServer("127.0.0.1", 0, state.health, metrics.render)
    await srv.start()
    url = f"http://127.0.0.1:{srv.port}/healthz"

    def plain_client() -> int:
        with urllib.request.urlopen(url, timeout=3) as response:
            return int(response.status)

    assert await asyncio.to_thread(plain_client) == 200
    await srv.stop()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", srv.port), timeout=1).close()
    out = io.StringIO()
    assert await asyncio.to_thread(healthcheck, url, timedelta(seconds=1), out) == 1
    assert out.getvalue().startswith(f"unhealthy: cannot reach {url}: ")


async def test_many_concurrent_probes(server: HealthServer) -> None:
    results = await asyncio.gather(*(get(server.port, "/healthz") for _ in range(20)))
    assert {status for status, _, _ in results} == {200}
