"""`draht dev`'s HTTP front.

A small HTTP/1.1 server on asyncio's protocol layer: llhttp (through httptools,
the parser uvicorn uses) frames the requests, one event loop hands events to the
workers through pipes and writes responses, so a warm request costs a few
hundred microseconds and no thread. Before any route, requests meet HTTP API's
own limits (draht/local/limits.py).
"""

from __future__ import annotations

import asyncio
import sys
import time
import traceback
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import formatdate
from http import HTTPStatus
from typing import IO
from urllib.parse import urlsplit

import httptools

from draht.local.auth import route_label, summary
from draht.local.events import INTERNAL_ERROR, TOO_LARGE, HttpRequest, HttpResponse
from draht.local.limits import (
    BAD_REQUEST,
    HEAD_LIMIT_BYTES,
    HEADERS_TOO_LARGE,
    INTEGRATION_TIMEOUT_S,
    PAYLOAD_LIMIT_BYTES,
    REQUEST_TIMEOUT,
    head_size,
)
from draht.local.runtime import Deployment, Outcome, Runtime
from draht.local.store import Store

HEADER_TIMEOUT_S = 10.0
"""How long a request's line and headers may take to arrive once it has begun."""
IDLE_TIMEOUT_S = 30.0
"""How long a connection may sit idle between requests, or with a body stalled, before closing."""
REFUSAL_LINGER_S = 2.0
"""How long a refused client's remaining bytes are read and dropped before the close."""
MAX_RAW_HEAD_BYTES = 64 * 1024
"""A bound on the bytes buffered for one head, header names and line breaks included."""
_VERSIONS = ("1.0", "1.1")
_CONTROL = {code: f"\\x{code:02x}" for code in (*range(0x20), *range(0x7F, 0xA0))}


def printable(text: str) -> str:
    """`text` with control characters escaped, so a logged value cannot forge lines or
    send terminal sequences (`%0a`, `%1b[…` in a path arrive decoded)."""
    return text.translate(_CONTROL)


class Console:
    """The server's console: a banner, one line per request, tracebacks of failures."""

    def __init__(self, out: IO[str] = sys.stdout, err: IO[str] = sys.stderr) -> None:
        self._out = out
        self._err = err

    def line(self, text: str) -> None:
        self._out.write(text + "\n")
        self._out.flush()

    def failure(self, function: str | None, text: str) -> None:
        self._err.write(f"[{function or 'server'}] {text.rstrip()}\n")
        self._err.flush()

    def request(self, request: HttpRequest, outcome: Outcome, elapsed_s: float) -> None:
        temperature = "-" if outcome.function is None else "cold" if outcome.cold else "warm"
        handler = "" if outcome.handler_ms is None else f" (handler {outcome.handler_ms:.2f} ms)"
        self.line(
            f"{request.method} {printable(request.path)} {outcome.response.status}"
            f" {outcome.function or '-'} {temperature} {elapsed_s * 1000:.2f} ms{handler}"
        )


def banner(url: str, deployment: Deployment, store: Store) -> str:
    app, settings = deployment.app, deployment.settings
    width_key = max((len(r.key) for r in app.routes), default=0)
    width_fn = max((len(r.function.name) for r in app.routes), default=0)
    lines = [f"draht dev  {url}  (app {app.name}, stage local)", ""]
    for route in app.routes:
        links = ", ".join(
            f"{link.table.name} ({', '.join(a.split(':', 1)[1] for a in link.actions)}"
            + "".join(f"; {index}: Query" for index in link.queried_indexes)
            + ")"
            for link in route.function.links
        )
        auth = route_label(route, settings, deployment.authorizer)
        lines.append(
            f"  {route.key:<{width_key}}  -> {route.function.name:<{width_fn}}"
            f"  -> {links or 'no tables'}  [{auth}]"
        )
    protected = [r.key for r in app.routes if r.auth == "protected"]
    lines += [
        "",
        f"store   {store.description}",
        f"python  {deployment.python.describe()}",
        f"auth    {summary(len(protected), settings, deployment.authorizer)}",
        "iam     each function's policy is enforced on every AWS call it makes",
        f"limits  {settings.memory_mb} MB, {settings.timeout_s} s timeout per function"
        + "".join(
            f"; {f.name} {settings.memory_mb_of(f)} MB, {settings.timeout_s_of(f)} s"
            for f in app.functions
            if f.memory_mb is not None or f.timeout_s is not None
        ),
        f"gateway {settings.throttling_rate:g} requests/s, burst {settings.throttling_burst}"
        f" per route; request line and headers up to {HEAD_LIMIT_BYTES:,} bytes, payload"
        f" up to {PAYLOAD_LIMIT_BYTES // (1024 * 1024)} MB,"
        f" {INTEGRATION_TIMEOUT_S:g} s integration timeout",
        f"cors    {', '.join(settings.cors_origins) or 'off (no draht:corsOrigins)'}",
        f"reload  changes under {deployment.handlers_dir} apply on the next request",
        "",
    ]
    return "\n".join(lines)


class _Clock:
    """The `date` header, formatted once a second rather than once a request."""

    def __init__(self) -> None:
        self._second = -1
        self._text = ""

    def http_date(self) -> str:
        now = int(time.time())
        if now != self._second:
            self._second, self._text = now, formatdate(now, usegmt=True)
        return self._text


@dataclass
class _Parsed:
    request: HttpRequest
    keep_alive: bool


class _Reject(Exception):
    """A request HTTP API would refuse before any route: answered, then the connection closes."""

    def __init__(self, response: HttpResponse) -> None:
        self.response = response


class _Connection(asyncio.Protocol):
    """One client connection: llhttp (httptools) frames the requests, served one at a time.

    The parser's callbacks collect each request; requests pipelined behind the one
    being served wait their turn in order. Anything llhttp refuses (bare LF line
    ends, conflicting lengths, unknown versions, control characters, TLS bytes)
    is a 400 and the connection closes: it is never left waiting for more.
    """

    def __init__(self, server: DevServer) -> None:
        self._server = server
        self._transport: asyncio.Transport | None = None
        self._parser = httptools.HttpRequestParser(self)
        self._peer = "127.0.0.1"
        self._ready: deque[_Parsed] = deque()
        self._busy = False
        self._reading = True
        self._timer: asyncio.TimerHandle | None = None
        self._reject: HttpResponse | None = None
        self._refusal: HttpResponse | None = None
        self._start_message()

    def _start_message(self) -> None:
        self._in_message = False
        self._in_body = False
        self._raw_head = 0
        self._target = bytearray()
        self._headers: list[tuple[str, str]] = []
        self._values_size = 0
        self._length = 0
        self._chunked = False
        self._body = bytearray()

    # asyncio.Protocol ------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        peer = transport.get_extra_info("peername")
        if peer:
            self._peer = peer[0]
        self._server.connections.add(self)
        self._arm(self._server.idle_timeout_s, self.close)

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        self._disarm()
        self._server.connections.discard(self)

    def data_received(self, data: bytes) -> None:
        if not self._reading:
            return
        if not self._in_body:
            self._raw_head += len(data)
        try:
            self._parser.feed_data(data)
            if not self._in_body and self._raw_head > MAX_RAW_HEAD_BYTES:
                raise _Reject(HEADERS_TOO_LARGE)
        except _Reject as reject:
            self._refuse(reject.response)
        except httptools.HttpParserUpgrade:
            # HTTP API speaks plain HTTP/1.1 only: serve what came, then close.
            self._reading = False
        except httptools.HttpParserError:
            self._refuse(self._reject or BAD_REQUEST)
        if self._reading and self._in_body:
            # A body must keep arriving; a stalled one is let go like an idle connection.
            self._arm(self._server.idle_timeout_s, self._timed_out)
        self._serve_next()

    def eof_received(self) -> bool:
        # A client may half-close after sending; its response still goes out.
        return self._busy or bool(self._ready) or self._refusal is not None

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    # httptools callbacks ---------------------------------------------------------------------

    def on_message_begin(self) -> None:
        self._in_message = True
        self._arm(self._server.header_timeout_s, self._timed_out)

    def on_url(self, url: bytes) -> None:
        self._target += url
        self._check_head()

    def on_header(self, name: bytes, value: bytes) -> None:
        text_name = name.decode("latin-1")
        text_value = value.decode("utf-8", errors="replace")
        self._values_size += len(value)
        self._check_head()
        lowered = text_name.lower()
        if lowered == "content-length":
            # llhttp has checked it is a number, and that there is only one.
            self._length = int(value)
            if self._length > PAYLOAD_LIMIT_BYTES:
                self._fail(TOO_LARGE)
        elif lowered == "transfer-encoding":
            self._chunked = True
            return
        self._headers.append((text_name, text_value))

    def on_headers_complete(self) -> None:
        self._disarm()
        self._in_body = True
        if self._parser.get_http_version() not in _VERSIONS:
            self._fail(BAD_REQUEST)
        self._check_head()
        expects = any(
            n.lower() == "expect" and v.lower() == "100-continue" for n, v in self._headers
        )
        if expects and (self._length or self._chunked) and self._transport is not None:
            self._transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    def on_body(self, body: bytes) -> None:
        self._body += body
        if len(self._body) > PAYLOAD_LIMIT_BYTES:
            self._fail(TOO_LARGE)

    def on_message_complete(self) -> None:
        self._disarm()
        parser = self._parser
        version = "HTTP/" + parser.get_http_version()
        target = self._target.decode("utf-8", errors="replace")
        if not target.startswith("/"):
            split = urlsplit(target)
            if not split.scheme:
                self._fail(BAD_REQUEST)
            target = (split.path or "/") + (f"?{split.query}" if split.query else "")
        headers = self._headers
        if self._chunked:
            headers.append(("content-length", str(len(self._body))))
        request = HttpRequest(
            method=parser.get_method().decode("ascii"),
            target=target,
            headers=headers,
            body=bytes(self._body),
            source_ip=self._peer,
            protocol=version,
        )
        self._ready.append(_Parsed(request, parser.should_keep_alive()))
        self._start_message()

    # serving ---------------------------------------------------------------------------------

    def _check_head(self) -> None:
        size = head_size(
            self._parser.get_method().decode("latin-1"),
            len(self._target),
            self._parser.get_http_version(),
            (self._values_size,),
        )
        if size > HEAD_LIMIT_BYTES:
            self._fail(HEADERS_TOO_LARGE)

    def _fail(self, response: HttpResponse) -> None:
        self._reject = response
        raise _Reject(response)

    def _serve_next(self) -> None:
        if self._busy or not self._ready:
            return
        parsed = self._ready.popleft()
        self._busy = True
        self._disarm()
        task = asyncio.get_running_loop().create_task(self._serve(parsed))
        self._server.tasks.add(task)
        task.add_done_callback(self._server.tasks.discard)

    async def _serve(self, parsed: _Parsed) -> None:
        started = time.perf_counter()
        request = parsed.request
        outcome = await self._server.outcome(request)
        if outcome.error is not None:
            self._server.console.failure(outcome.function, outcome.error)
        head_only = request.method == "HEAD"
        more = self._reading or bool(self._ready) or self._refusal is not None
        keep_alive = parsed.keep_alive and more
        self._send(outcome.response, outcome.request_id, keep_alive, head_only)
        self._server.console.request(request, outcome, time.perf_counter() - started)
        self._busy = False
        if not keep_alive:
            return
        if self._ready:
            self._serve_next()
        elif self._refusal is not None:
            self._send_refusal(self._refusal)
        elif not self._in_message:
            self._arm(self._server.idle_timeout_s, self.close)

    def _refuse(self, response: HttpResponse) -> None:
        """Answer a request HTTP API refuses once the ones before it are answered, then close."""
        self._reading = False
        self._disarm()
        if self._busy or self._ready:
            self._refusal = response
        else:
            self._send_refusal(response)

    def _send_refusal(self, response: HttpResponse) -> None:
        """Answer, then only half-close: a client still sending would otherwise get a reset
        instead of the answer. The rest it sends is discarded until it closes, or until
        the linger ends."""
        transport = self._transport
        if transport is None:
            return
        self._send(response, "", keep_alive=False, linger=True)
        if transport.can_write_eof():
            transport.write_eof()
        self._arm(REFUSAL_LINGER_S, self.close)

    def _timed_out(self) -> None:
        self._timer = None
        self._refuse(REQUEST_TIMEOUT)

    def _arm(self, delay_s: float, action: Callable[[], None]) -> None:
        self._disarm()
        self._timer = asyncio.get_running_loop().call_later(delay_s, action)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _send(
        self,
        response: HttpResponse,
        request_id: str,
        keep_alive: bool,
        head_only: bool = False,
        linger: bool = False,
    ) -> None:
        transport = self._transport
        if transport is None:
            return
        try:
            reason = HTTPStatus(response.status).phrase
        except ValueError:
            reason = ""
        head = [
            f"HTTP/1.1 {response.status} {reason}",
            f"date: {self._server.clock.http_date()}",
            f"content-length: {len(response.body)}",
        ]
        if request_id:
            head.append(f"apigw-requestid: {request_id}")
        if not keep_alive:
            head.append("connection: close")
        for name, value in response.headers:
            if name in ("content-length", "connection", "transfer-encoding", "date"):
                continue
            # A value must not be able to start a header or a response of its own.
            head.append(f"{name}: {value.replace(chr(13), ' ').replace(chr(10), ' ')}")
        payload = ("\r\n".join(head) + "\r\n\r\n").encode("utf-8")
        transport.write(payload if head_only else payload + response.body)
        if not keep_alive and not linger:
            transport.close()


class DevServer:
    """The HTTP server in front of a `Runtime`."""

    def __init__(
        self,
        runtime: Runtime,
        console: Console,
        header_timeout_s: float = HEADER_TIMEOUT_S,
        idle_timeout_s: float = IDLE_TIMEOUT_S,
    ) -> None:
        self.runtime = runtime
        self.console = console
        self.header_timeout_s = header_timeout_s
        self.idle_timeout_s = idle_timeout_s
        self.clock = _Clock()
        self.connections: set[_Connection] = set()
        self.tasks: set[asyncio.Task[None]] = set()
        self._server: asyncio.Server | None = None

    async def start(self, host: str, port: int) -> int:
        """Listen; returns the port, which the OS chose when `port` is 0."""
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: _Connection(self), host, port, reuse_address=True, backlog=512
        )
        bound: int = self._server.sockets[0].getsockname()[1]
        return bound

    async def outcome(self, request: HttpRequest) -> Outcome:
        try:
            return await self.runtime.handle(request)
        except Exception:
            # A bug of the local runtime itself still answers like API Gateway would.
            return Outcome(INTERNAL_ERROR, "", error=traceback.format_exc())

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for connection in list(self.connections):
            connection.close()
        for task in list(self.tasks):
            task.cancel()
        self.runtime.close()
