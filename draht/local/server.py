"""`draht dev`'s HTTP front.

A small HTTP/1.1 server on asyncio's protocol layer: one event loop parses
requests, hands events to the workers through pipes and writes responses, so a
warm request costs a few hundred microseconds and no thread.
"""

from __future__ import annotations

import asyncio
import sys
import time
import traceback
from dataclasses import dataclass
from email.utils import formatdate
from http import HTTPStatus
from typing import IO
from urllib.parse import urlsplit

from draht.local.auth import route_label, summary
from draht.local.events import (
    INTERNAL_ERROR,
    TOO_LARGE,
    HttpRequest,
    HttpResponse,
    gateway_answer,
)
from draht.local.runtime import Deployment, Outcome, Runtime
from draht.local.store import Store

MAX_HEAD_BYTES = 64 * 1024
MAX_BODY_BYTES = 10 * 1024 * 1024
"""HTTP API's payload limit."""

_BAD_REQUEST = gateway_answer(400, "Bad Request")
_HEADERS_TOO_LARGE = gateway_answer(431, "Request Header Fields Too Large")


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
        self.line(
            f"{request.method} {request.path} {outcome.response.status}"
            f" {outcome.function or '-'} {temperature} {elapsed_s * 1000:.2f} ms"
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


class _Connection(asyncio.Protocol):
    def __init__(self, server: DevServer) -> None:
        self._server = server
        self._transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._busy = False
        self._continued = False
        self._peer = "127.0.0.1"

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        peer = transport.get_extra_info("peername")
        if peer:
            self._peer = peer[0]
        self._server.connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        self._server.connections.discard(self)

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        if not self._busy:
            self._next()

    def eof_received(self) -> bool:
        # A client may half-close after sending; its response still goes out.
        return self._busy

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    def _next(self) -> None:
        try:
            parsed = self._parse()
        except _Reject as reject:
            self._send(reject.response, "", keep_alive=False)
            return
        if parsed is None:
            return
        self._busy = True
        task = asyncio.get_running_loop().create_task(self._serve(parsed))
        self._server.tasks.add(task)
        task.add_done_callback(self._server.tasks.discard)

    def _parse(self) -> _Parsed | None:
        buffer = self._buffer
        end = buffer.find(b"\r\n\r\n")
        if end < 0:
            if len(buffer) > MAX_HEAD_BYTES:
                raise _Reject(_HEADERS_TOO_LARGE)
            return None
        lines = bytes(buffer[:end]).decode("utf-8", errors="replace").split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            raise _Reject(_BAD_REQUEST)
        method, target, version = parts
        headers: list[tuple[str, str]] = []
        length = 0
        chunked = False
        connection = ""
        expect_continue = False
        for line in lines[1:]:
            name, colon, value = line.partition(":")
            if not colon or not name or name != name.strip():
                raise _Reject(_BAD_REQUEST)
            value = value.strip()
            lowered = name.lower()
            if lowered == "content-length":
                if not value.isdigit():
                    raise _Reject(_BAD_REQUEST)
                length = int(value)
            elif lowered == "transfer-encoding":
                chunked = "chunked" in value.lower()
            elif lowered == "connection":
                connection = value.lower()
            elif lowered == "expect":
                expect_continue = value.lower() == "100-continue"
            headers.append((name, value))
        if length > MAX_BODY_BYTES:
            raise _Reject(TOO_LARGE)
        start = end + 4
        if chunked:
            decoded = _dechunk(buffer, start)
            if decoded is None:
                self._continue(expect_continue)
                return None
            body, consumed = decoded
            headers = [(n, v) for n, v in headers if n.lower() != "transfer-encoding"]
            headers.append(("content-length", str(len(body))))
        else:
            if len(buffer) < start + length:
                self._continue(expect_continue)
                return None
            body, consumed = bytes(buffer[start : start + length]), start + length
        del buffer[:consumed]
        self._continued = False
        if not target.startswith("/"):
            split = urlsplit(target)
            if not split.scheme:
                raise _Reject(_BAD_REQUEST)
            target = (split.path or "/") + (f"?{split.query}" if split.query else "")
        keep_alive = (
            "close" not in connection if version == "HTTP/1.1" else "keep-alive" in connection
        )
        request = HttpRequest(
            method=method,
            target=target,
            headers=headers,
            body=body,
            source_ip=self._peer,
            protocol=version,
        )
        return _Parsed(request, keep_alive)

    def _continue(self, expected: bool) -> None:
        if expected and not self._continued and self._transport is not None:
            self._continued = True
            self._transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    async def _serve(self, parsed: _Parsed) -> None:
        started = time.perf_counter()
        request = parsed.request
        outcome = await self._server.outcome(request)
        if outcome.error is not None:
            self._server.console.failure(outcome.function, outcome.error)
        head_only = request.method == "HEAD"
        self._send(outcome.response, outcome.request_id, parsed.keep_alive, head_only)
        self._server.console.request(request, outcome, time.perf_counter() - started)
        self._busy = False
        if parsed.keep_alive and self._buffer:
            self._next()

    def _send(
        self, response: HttpResponse, request_id: str, keep_alive: bool, head_only: bool = False
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
        if not keep_alive:
            transport.close()


class _Reject(Exception):
    def __init__(self, response: HttpResponse) -> None:
        self.response = response


def _dechunk(buffer: bytearray, start: int) -> tuple[bytes, int] | None:
    """The body of a chunked message and where it ends, or None while it is incomplete."""
    body = bytearray()
    position = start
    while True:
        line_end = buffer.find(b"\r\n", position)
        if line_end < 0:
            return None
        size_text = bytes(buffer[position:line_end]).split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            raise _Reject(_BAD_REQUEST) from None
        position = line_end + 2
        if size == 0:
            trailer_end = buffer.find(b"\r\n\r\n", position - 2)
            if trailer_end < 0:
                return None
            return bytes(body), trailer_end + 4
        if len(body) + size > MAX_BODY_BYTES:
            raise _Reject(TOO_LARGE)
        if len(buffer) < position + size + 2:
            return None
        body += buffer[position : position + size]
        position += size + 2


class DevServer:
    """The HTTP server in front of a `Runtime`."""

    def __init__(self, runtime: Runtime, console: Console) -> None:
        self.runtime = runtime
        self.console = console
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
