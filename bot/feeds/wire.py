"""An httpx transport that speaks HTTP/1.1 through aiohttp's connection pool.

Why: httpx stays the client the code talks to (requests, responses, timeouts, its error
vocabulary), but its default transport, httpcore, checks every pooled connection with a
poll() syscall on every request: 1.3-1.9 ms of CPU per 304 with 20 connections, more
than everything else a steady poll cycle does together. aiohttp's
pool and C parser do the same exchange for ~0.13 ms (`bench/poll.py`, "fetch only" rows).

Owns: one aiohttp session (created on first use, inside the running loop) and turning
aiohttp's exceptions into httpx's (with two subclasses of httpx.ConnectError httpx has no
name for: a failed name lookup and a failed TLS handshake), so callers keep one error
vocabulary. Must not: decompress (`fetch.py` decodes the raw bytes itself, a bounded piece
at a time, so that its size cap sees every byte: see `decoding.py`), follow redirects
(`fetch.py` does, and reports them), or keep cookies.
"""

from __future__ import annotations

import contextlib
import urllib.request
from collections.abc import AsyncIterator, Iterator
from urllib.request import proxy_bypass_environment  # type: ignore[attr-defined]

import aiohttp
import httpx
from aiohttp.abc import AbstractResolver

READ_CHUNK = 64 * 1024


class NameResolutionError(httpx.ConnectError):
    """The host name did not resolve (no such host, or no answer from DNS)."""


class TLSError(httpx.ConnectError):
    """The TLS handshake failed: a bad certificate, or no TLS spoken at all."""


class AiohttpTransport(httpx.AsyncBaseTransport):
    def __init__(self, *, max_connections: int, keepalive_seconds: float = 30.0,
                 resolver: AbstractResolver | None = None) -> None:
        self._max_connections = max_connections
        self._keepalive_seconds = keepalive_seconds
        self._resolver = resolver  # None: aiohttp's default (getaddrinfo in a thread)
        self._session: aiohttp.ClientSession | None = None
        # HTTP(S)_PROXY, ALL_PROXY and NO_PROXY, read once, as httpx's own transport
        # honoured them (aiohttp's trust_env would look them up on every request).
        self._proxies = urllib.request.getproxies()

    def _session_now(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector = aiohttp.TCPConnector(
                limit=self._max_connections, keepalive_timeout=self._keepalive_seconds,
                ssl=httpx.create_ssl_context(), ttl_dns_cache=300, resolver=self._resolver)
            self._session = aiohttp.ClientSession(
                connector=connector, cookie_jar=aiohttp.DummyCookieJar(),
                auto_decompress=False, skip_auto_headers=("User-Agent",),
                # aiohttp's default (8,190 bytes per header) refuses feeds that send one
                # long header, such as a Content-Security-Policy, which httpcore read.
                max_field_size=65_536)
        return self._session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        timeout: dict[str, float | None] = request.extensions.get("timeout", {})
        body = await request.aread()
        with _as_httpx_errors(request):
            response = await self._session_now().request(
                request.method, str(request.url), headers=request.headers.multi_items(),
                data=body or None, allow_redirects=False, compress=None,
                proxy=self._proxy_for(request.url),
                timeout=aiohttp.ClientTimeout(
                    total=None, connect=timeout.get("pool"),
                    sock_connect=timeout.get("connect"), sock_read=timeout.get("read")))
        return httpx.Response(
            status_code=response.status, headers=list(response.raw_headers),
            stream=_ResponseStream(response, request), request=request,
            extensions={"http_version": b"HTTP/1.1",
                        "reason_phrase": (response.reason or "").encode("latin-1", "replace")})

    def _proxy_for(self, url: httpx.URL) -> str | None:
        proxy = self._proxies.get(url.scheme) or self._proxies.get("all")
        if not proxy or proxy_bypass_environment(url.host, self._proxies):
            return None
        # "proxy.corp:3128" means an HTTP proxy, as httpx read it.
        return proxy if "://" in proxy else f"http://{proxy}"

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


class _ResponseStream(httpx.AsyncByteStream):
    def __init__(self, response: aiohttp.ClientResponse, request: httpx.Request) -> None:
        self._response = response
        self._request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _as_httpx_errors(self._request):
            async for chunk in self._response.content.iter_chunked(READ_CHUNK):
                yield chunk

    async def aclose(self) -> None:
        # Back to the pool when the body was read to its end; otherwise the connection closes.
        self._response.release()


@contextlib.contextmanager
def _as_httpx_errors(request: httpx.Request) -> Iterator[None]:
    """aiohttp's exceptions as the httpx ones `fetch.py` already sorts into FetchError kinds."""
    try:
        yield
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise _translate(exc, request) from exc


def _translate(exc: BaseException, request: httpx.Request) -> httpx.HTTPError:
    message = str(exc) or type(exc).__name__
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return httpx.ConnectTimeout(message, request=request)
    if isinstance(exc, aiohttp.ServerTimeoutError | TimeoutError):
        return httpx.ReadTimeout(message, request=request)
    if isinstance(exc, aiohttp.ClientSSLError):
        return TLSError(f"SSL: {message}", request=request)
    # aiohttp 3.10.10+ names a failed lookup (before, a plain ClientConnectorError).
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return NameResolutionError(message, request=request)
    if isinstance(exc, aiohttp.ClientConnectorError):
        return httpx.ConnectError(message, request=request)
    if isinstance(exc, aiohttp.InvalidURL):
        return httpx.UnsupportedProtocol(message, request=request)
    if isinstance(exc, aiohttp.ClientPayloadError | aiohttp.ClientResponseError
                  | aiohttp.ServerDisconnectedError):
        return httpx.RemoteProtocolError(message, request=request)
    return httpx.ReadError(message, request=request)
