"""HTTP front of the Bot API emulator: a threaded stdlib server on 127.0.0.1.

Owns: routing `/bot<token>/<method>` (401 for a wrong token, 404 for a malformed path or an
unknown method), decoding bodies the way the Bot API accepts them (query string,
application/x-www-form-urlencoded, application/json, multipart/form-data), applying injected
faults (delays, dropped connections, raw 5xx pages, error envelopes), the generic
required-parameter check, logging every call, and the `/_control/<action>` JSON endpoint
(handled by a callback the facade supplies). One thread per connection, so a long poll
never blocks other requests.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from email import policy
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from tests.fakes.telegram_methods import dispatch
from tests.fakes.telegram_spec import (
    ApiError,
    Delay,
    DropConnection,
    Fault,
    JSONDict,
    RawResponse,
    UploadedFile,
    check_required,
    coerce_params,
)
from tests.fakes.telegram_state import CallRecord, EmulatorState

ControlFn = Callable[[str, JSONDict], Any]

_API_PATH = re.compile(r"^/bot(?P<token>[^/]*)/(?P<method>[^/]*)/?$")
_TOKEN_SHAPE = re.compile(r"^\d+:[A-Za-z0-9_-]+$")
_NOT_FOUND = ApiError(404, "Not Found")
_UNAUTHORIZED = ApiError(401, "Unauthorized")


@dataclass(frozen=True)
class JsonAnswer:
    status: int
    body: JSONDict


Outcome = JsonAnswer | RawResponse | DropConnection


def decode_body(content_type: str, body: bytes, query: str
                ) -> tuple[JSONDict, dict[str, UploadedFile]]:
    """Raw parameters (form values as strings, JSON values as decoded) and uploaded files."""
    params: JSONDict = dict(parse_qsl(query, keep_blank_values=True))
    files: dict[str, UploadedFile] = {}
    kind = content_type.split(";", 1)[0].strip().lower()
    if not body:
        return params, files
    if kind == "application/json":
        decoded = json.loads(body.decode("utf-8"))
        if not isinstance(decoded, dict):
            raise ApiError(400, "Bad Request: request body must be a JSON object")
        params.update(decoded)
    elif kind == "multipart/form-data":
        head = f"Content-Type: {content_type}\r\n\r\n".encode("latin-1")
        message = BytesParser(policy=policy.HTTP).parsebytes(head + body)
        for part in message.iter_parts():
            name = str(part.get_param("name", header="content-disposition") or "")
            payload = part.get_payload(decode=True)
            data = payload if isinstance(payload, bytes) else b""
            filename = part.get_filename()
            if filename is not None:
                files[name] = UploadedFile(name, filename, part.get_content_type(), len(data))
            else:
                params[name] = data.decode(part.get_content_charset() or "utf-8")
    else:  # form-encoded is what clients send without a content type, too
        params.update(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
    return params, files


class ApiCore:
    """The request pipeline, independent of the socket handling."""

    def __init__(self, state: EmulatorState) -> None:
        self.state = state
        self.stop_event = threading.Event()

    def handle(self, path: str, content_type: str, body: bytes, query: str) -> Outcome:
        started, arrived = time.monotonic(), time.time()
        state = self.state
        match = _API_PATH.match(path)
        if match is None or not _TOKEN_SHAPE.match(match["token"]):
            return JsonAnswer(404, _NOT_FOUND.envelope())
        if match["token"] != state.token:
            return JsonAnswer(401, _UNAUTHORIZED.envelope())
        spec = state.spec.method(match["method"])
        if spec is None:
            return JsonAnswer(404, _NOT_FOUND.envelope())
        params: JSONDict = {}
        try:
            try:
                raw, files = decode_body(content_type, body, query)
            except ValueError as exc:  # bad JSON or bad UTF-8
                raise ApiError(400, f"Bad Request: can't parse request body: {exc}") from None
            params = coerce_params(spec, raw, files)
            outcome = self._run(spec.name, params)
        except ApiError as error:
            outcome = JsonAnswer(error.error_code, error.envelope())
        except Exception:
            with state.lock:
                state.internal_errors.append(traceback.format_exc())
            outcome = JsonAnswer(500, ApiError(500, "Internal Server Error").envelope())
        record = CallRecord(
            method=spec.name,
            params=params,
            status=0 if isinstance(outcome, DropConnection) else outcome.status,
            response=outcome.body if isinstance(outcome, JsonAnswer) else None,
            at=arrived,
            duration=time.monotonic() - started,
        )
        with state.lock:
            state.calls.append(record)
            state.changed.notify_all()
        return outcome

    def _run(self, method: str, params: JSONDict) -> Outcome:
        state = self.state
        with state.lock:
            fault: Fault | None = state.take_fault(method, params.get("chat_id"))
        if isinstance(fault, Delay):
            self.stop_event.wait(fault.seconds)
            fault = fault.then
        if isinstance(fault, ApiError):
            raise fault
        if isinstance(fault, RawResponse):
            return fault
        if isinstance(fault, DropConnection) and not fault.after_processing:
            return fault
        spec = state.spec.method(method)
        assert spec is not None
        with state.lock:
            check_required(spec, params)
            result = dispatch(state, spec, params)
        if isinstance(fault, DropConnection):
            return fault
        return JsonAnswer(200, {"ok": True, "result": result})


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    # socketserver's default listen queue of 5 overflows when a fan-out opens ~30
    # connections at once: the kernel drops SYNs and clients see 1 s stalls and resets.
    request_queue_size = 128

    def __init__(self, host: str, port: int, core: ApiCore, control: ControlFn | None) -> None:
        super().__init__((host, port), _Handler)
        self.core = core
        self.control = control
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()

    def close_connections(self) -> None:
        with self.connections_lock:
            connections = list(self.connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        # headers and body are separate writes: without this, Nagle + delayed ACK add 40 ms
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.server.connections_lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        with self.server.connections_lock:
            self.server.connections.discard(self.connection)
        with contextlib.suppress(OSError):
            super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: request lines contain the bot token."""

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def _serve(self) -> None:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            body = self._read_chunked()
        else:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
        url = urlsplit(self.path)
        if url.path.startswith("/_control/"):
            self._serve_control(url.path.removeprefix("/_control/"), body)
            return
        outcome = self.server.core.handle(
            url.path, self.headers.get("Content-Type", ""), body, url.query
        )
        if isinstance(outcome, DropConnection):
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        if isinstance(outcome, RawResponse):
            self._write(outcome.status, outcome.body, outcome.content_type)
            return
        payload = json.dumps(outcome.body, ensure_ascii=False).encode("utf-8")
        self._write(outcome.status, payload, "application/json")

    def _read_chunked(self) -> bytes:
        chunks: list[bytes] = []
        while True:
            size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(chunks)
            chunks.append(self.rfile.read(size))
            self.rfile.readline()

    def _serve_control(self, action: str, body: bytes) -> None:
        control = self.server.control
        try:
            if control is None:
                raise LookupError("no control endpoint")
            arguments = json.loads(body.decode("utf-8") or "{}")
            result = control(action, arguments)
            answer: JSONDict = {"ok": True, "result": result}
            status = 200
        except (LookupError, TypeError, ValueError, AssertionError) as exc:
            answer, status = {"ok": False, "description": f"{type(exc).__name__}: {exc}"}, 400
        payload = json.dumps(answer, ensure_ascii=False, default=str).encode("utf-8")
        self._write(status, payload, "application/json")

    def _write(self, status: int, payload: bytes, content_type: str) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except OSError:
            self.close_connection = True  # the client went away (e.g. an abandoned long poll)


class HttpServer:
    """Runs the server in a daemon thread; `stop` wakes long polls and closes connections."""

    def __init__(self, core: ApiCore, control: ControlFn | None, host: str = "127.0.0.1",
                 port: int = 0) -> None:
        self.core = core
        self._server = _Server(host, port, core, control)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02},
            name="telegram-emulator", daemon=True,
        )

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.core.stop_event.set()
        with self.core.state.lock:
            self.core.state.stopping = True
            self.core.state.changed.notify_all()
        self._server.shutdown()
        self._server.close_connections()
        self._server.server_close()
        self._thread.join(timeout=5)
