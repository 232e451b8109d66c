"""Health: a pure decision, a tiny HTTP listener for `/healthz` and `/metrics`,
and the client side for `newsbot healthcheck` (Docker's HEALTHCHECK).

Owns: when the service counts as healthy, and the HTTP surface an operator
scrapes. Must not: do work on behalf of the bot, or serve anything but these two
read-only paths.

The listener is stdlib `asyncio.start_server` with a deliberately small HTTP/1.1
parser rather than a web framework: two GET routes do not justify a dependency,
and a strict parser (bounded head, GET/HEAD only, no bodies, one request per
connection, a read deadline) leaves little to attack on a port that may be
exposed inside a container network.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import logging
import re
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from http import HTTPStatus
from typing import Any, TextIO

from bot.ops.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE

log = logging.getLogger(__name__)

HealthReason = dict[str, Any]
HealthFn = Callable[[], tuple[bool, HealthReason] | Awaitable[tuple[bool, HealthReason]]]
MetricsFn = Callable[[], bytes | Awaitable[bytes]]

MAX_HEAD_BYTES = 8 * 1024  # request line + headers; a probe sends ~100 bytes
MAX_HEADERS = 50
READ_TIMEOUT = timedelta(seconds=5)
HANDLER_TIMEOUT = timedelta(seconds=10)
MAX_CONNECTIONS = 32
HEALTHCHECK_TIMEOUT = timedelta(seconds=3)
HEALTHCHECK_MAX_OUTPUT = 2048
DEFAULT_PORT = 9464

_REQUEST_LINE = re.compile(rb"^(?P<method>[A-Z]{1,10}) (?P<target>\S{1,2048}) HTTP/1\.[01]$")
_TOKEN = re.compile(rb"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")


# ---- the decision (pure) ---------------------------------------------------------
def _check(name: str, last_at: datetime | None, now: datetime,
           max_age: timedelta) -> tuple[bool, dict[str, Any]]:
    if last_at is None:
        return False, {"ok": False, "last_at": None, "age_seconds": None,
                       "max_age_seconds": max_age.total_seconds(),
                       "problem": f"no {name} has finished yet"}
    # A timestamp slightly in the future (clock adjustments) is fresh, not negative.
    age = max(timedelta(0), now - last_at)
    ok = age <= max_age
    out: dict[str, Any] = {"ok": ok, "last_at": last_at.isoformat(),
                           "age_seconds": round(age.total_seconds(), 3),
                           "max_age_seconds": max_age.total_seconds()}
    if not ok:
        out["problem"] = f"last {name} finished {int(age.total_seconds())}s ago"
    return ok, out


def decide_health(last_cycle_at: datetime | None, last_drain_at: datetime | None,
                  now: datetime, max_cycle_age: timedelta,
                  max_drain_age: timedelta) -> tuple[bool, HealthReason]:
    """Healthy when both the last poll cycle and the last outbox drain finished
    recently. Returns (ok, reason) where reason is JSON-ready."""
    cycle_ok, cycle = _check("poll cycle", last_cycle_at, now, max_cycle_age)
    drain_ok, drain = _check("outbox drain", last_drain_at, now, max_drain_age)
    ok = cycle_ok and drain_ok
    return ok, {"status": "ok" if ok else "unhealthy", "checked_at": now.isoformat(),
                "poll_cycle": cycle, "outbox_drain": drain}


# ---- listen address ---------------------------------------------------------------
def parse_listen(value: str) -> tuple[str, int]:
    """"host:port" (IPv6 as "[::1]:9464") -> (host, port); ValueError with a reason."""
    text = value.strip()
    match = re.fullmatch(r"\[(?P<v6>[0-9A-Fa-f:.]+)\]:(?P<p1>\d{1,5})"
                         r"|(?P<host>[A-Za-z0-9.-]+):(?P<p2>\d{1,5})", text)
    if not match:
        raise ValueError(f"expected host:port (e.g. 127.0.0.1:{DEFAULT_PORT}), got {value!r}")
    host = match["v6"] or match["host"]
    port = int(match["p1"] or match["p2"])
    if not 0 < port < 65536:
        raise ValueError(f"port {port} is out of range 1-65535")
    return host, port


def healthz_url(listen: str) -> str:
    """Where a local probe reaches the listener: a wildcard bind is probed on loopback."""
    host, port = parse_listen(listen)
    if host in ("0.0.0.0", ""):  # noqa: S104 - recognising a wildcard, not binding one
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}/healthz"


# ---- the client (`newsbot healthcheck`) ------------------------------------------
def healthcheck(url: str, timeout: timedelta = HEALTHCHECK_TIMEOUT,
                out: TextIO | None = None) -> int:
    """0 when `url` answers 200, else 1 (an error, a timeout, 503, anything else).
    With `out`, writes one line saying why (Docker keeps it: `docker inspect`)."""
    def say(text: str) -> None:
        if out is not None:
            out.write(text[:HEALTHCHECK_MAX_OUTPUT].rstrip("\n") + "\n")

    if not url.startswith(("http://", "https://")):
        say(f"unhealthy: not an http(s) URL: {url}")
        return 1  # urllib would also open file:// and ftp:// URLs
    request = urllib.request.Request(url, headers={"User-Agent": "newsbot-healthcheck"})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout.total_seconds()) as response:  # noqa: S310
            body = response.read(HEALTHCHECK_MAX_OUTPUT).decode("utf-8", "replace")
            ok = response.status == HTTPStatus.OK
    except urllib.error.HTTPError as exc:  # 503 and friends: the body says why
        body = exc.read(HEALTHCHECK_MAX_OUTPUT).decode("utf-8", "replace")
        say(f"unhealthy: HTTP {exc.code}: {' '.join(body.split())}")
        return 1
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        say(f"unhealthy: cannot reach {url}: {reason}")
        return 1
    say(f"{'healthy' if ok else 'unhealthy'}: {' '.join(body.split())}")
    return 0 if ok else 1


# ---- the server --------------------------------------------------------------------
class BadRequest(Exception):
    def __init__(self, status: HTTPStatus, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    path: str


async def read_request(reader: asyncio.StreamReader) -> Request:
    """Read and validate one request head; bodies are refused, not read."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.LimitOverrunError:
        raise BadRequest(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE,
                         "request head too large") from None
    except asyncio.IncompleteReadError:
        raise BadRequest(HTTPStatus.BAD_REQUEST, "incomplete request") from None
    lines = head[:-4].split(b"\r\n")
    match = _REQUEST_LINE.match(lines[0])
    if not match:
        raise BadRequest(HTTPStatus.BAD_REQUEST, "malformed request line")
    if len(lines) - 1 > MAX_HEADERS:
        raise BadRequest(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "too many headers")
    headers: dict[bytes, bytes] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(b":")
        if not sep or not _TOKEN.match(name):
            # Also rejects obsolete line folding (a line starting with whitespace).
            raise BadRequest(HTTPStatus.BAD_REQUEST, "malformed header line")
        key = name.lower()
        if key in headers and key in (b"content-length", b"host", b"transfer-encoding"):
            raise BadRequest(HTTPStatus.BAD_REQUEST, "repeated header")
        headers[key] = value.strip(b" \t")
    if b"transfer-encoding" in headers or headers.get(b"content-length", b"0") != b"0":
        raise BadRequest(HTTPStatus.BAD_REQUEST, "request bodies are not accepted")
    method = match["method"].decode("ascii")
    if method not in ("GET", "HEAD"):
        raise BadRequest(HTTPStatus.METHOD_NOT_ALLOWED, "only GET and HEAD")
    target = match["target"].decode("ascii", errors="replace")
    if not target.startswith("/"):
        raise BadRequest(HTTPStatus.BAD_REQUEST, "origin-form target expected")
    return Request(method=method, path=target.split("?", 1)[0])


def _response(status: HTTPStatus, body: bytes, content_type: str, *,
              head_only: bool = False, extra: dict[str, str] | None = None) -> bytes:
    headers = {"Content-Type": content_type, "Content-Length": str(len(body)),
               "Cache-Control": "no-store", "Connection": "close",
               "X-Content-Type-Options": "nosniff", **(extra or {})}
    lines = [f"HTTP/1.1 {status.value} {status.phrase}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    raw = ("\r\n".join(lines) + "\r\n\r\n").encode("ascii")
    return raw if head_only else raw + body


def _text(status: HTTPStatus, message: str, head_only: bool = False,
          extra: dict[str, str] | None = None) -> bytes:
    return _response(status, (message + "\n").encode(), "text/plain; charset=utf-8",
                     head_only=head_only, extra=extra)


async def _resolve(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


class HealthServer:
    """`/healthz` and `/metrics` on host:port. Port 0 picks a free port
    (see `port` after `start()`)."""

    def __init__(self, host: str, port: int, health_fn: HealthFn, metrics_fn: MetricsFn) -> None:
        self.host = host
        self.port = port
        self._health_fn = health_fn
        self._metrics_fn = metrics_fn
        self._server: asyncio.Server | None = None
        self._open = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self.host, self.port,
                                                  limit=MAX_HEAD_BYTES)
        sockets = self._server.sockets
        if sockets:
            self.port = int(sockets[0].getsockname()[1])
        log.info("health and metrics on http://%s:%d (/healthz, /metrics)", self.host,
                 self.port)

    async def stop(self) -> None:
        if self._server is None:
            return
        self._server.close()
        # Bounded: a client holding a connection open must not hold up shutdown.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._server.wait_closed(), READ_TIMEOUT.total_seconds())
        self._server = None

    async def __aenter__(self) -> HealthServer:
        await self.start()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.stop()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._open += 1
        try:
            if self._open > MAX_CONNECTIONS:
                writer.write(_text(HTTPStatus.SERVICE_UNAVAILABLE, "busy"))
            else:
                writer.write(await self._answer(reader))
            with contextlib.suppress(ConnectionError, TimeoutError):
                await asyncio.wait_for(writer.drain(), READ_TIMEOUT.total_seconds())
        except ConnectionError:
            pass
        finally:
            self._open -= 1
            writer.close()
            with contextlib.suppress(ConnectionError, TimeoutError):
                await asyncio.wait_for(writer.wait_closed(), 1.0)

    async def _answer(self, reader: asyncio.StreamReader) -> bytes:
        try:
            request = await asyncio.wait_for(read_request(reader),
                                             READ_TIMEOUT.total_seconds())
        except TimeoutError:
            return _text(HTTPStatus.REQUEST_TIMEOUT, "request timeout")
        except BadRequest as exc:
            extra = {"Allow": "GET, HEAD"} if exc.status == HTTPStatus.METHOD_NOT_ALLOWED else None
            return _text(exc.status, exc.message, extra=extra)
        head_only = request.method == "HEAD"
        try:
            if request.path == "/healthz":
                return await asyncio.wait_for(self._healthz(head_only),
                                              HANDLER_TIMEOUT.total_seconds())
            if request.path == "/metrics":
                body: bytes = await asyncio.wait_for(_resolve(self._metrics_fn()),
                                                     HANDLER_TIMEOUT.total_seconds())
                return _response(HTTPStatus.OK, body, METRICS_CONTENT_TYPE, head_only=head_only)
        except Exception:
            # The probe must get an answer, and a failing probe must be visible in the logs.
            log.exception("health endpoint %s failed", request.path)
            return _text(HTTPStatus.INTERNAL_SERVER_ERROR, "internal error", head_only)
        return _text(HTTPStatus.NOT_FOUND, "not found", head_only)

    async def _healthz(self, head_only: bool) -> bytes:
        ok, reason = await _resolve(self._health_fn())
        body = json.dumps(reason, sort_keys=True).encode() + b"\n"
        status = HTTPStatus.OK if ok else HTTPStatus.SERVICE_UNAVAILABLE
        return _response(status, body, "application/json", head_only=head_only)
