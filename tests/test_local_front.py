"""`draht dev`'s HTTP front under bad input: malformed framing, TLS, slow and idle clients.

Every malformed request gets an answer or a close, never a connection left waiting.
The live cases go through `draht dev` as a subprocess; the timeouts are checked on
an in-process front with short timeouts, so no case waits for the defaults.
"""

from __future__ import annotations

import asyncio
import io
import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from dev_process import TEST_APP, TEST_HANDLERS, DevProcess, status_and_json
from local_apps.declarations import app as test_app

from draht.local.runtime import Deployment, Runtime
from draht.local.server import Console, DevServer, printable
from draht.settings import Settings

BAD_REQUEST = (400, {"message": "Bad Request"})
# The first bytes of a TLS 1.2 ClientHello: a record of type handshake (0x16), version 3.1.
CLIENT_HELLO = bytes.fromhex("160301020001000200fc03030000000000000000") + bytes(200)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevProcess]:
    data_dir = tmp_path_factory.mktemp("front")
    args = ["--app", TEST_APP, "--handlers", str(TEST_HANDLERS), "--data-dir", str(data_dir)]
    with DevProcess(args) as process:
        yield process


@pytest.mark.parametrize(
    "request_bytes",
    [
        pytest.param(b"GET /echo HTTP/1.1\nhost: x\n\n", id="bare LF line ends"),
        pytest.param(b"GET /echo HTTP/1.1\r\nhost: x\n\r\n", id="one bare LF"),
        pytest.param(
            b"POST /echo HTTP/1.1\r\nhost: x\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\nab",
            id="two different Content-Length",
        ),
        pytest.param(
            b"POST /echo HTTP/1.1\r\nhost: x\r\ncontent-length: 3\r\n"
            b"transfer-encoding: chunked\r\n\r\n0\r\n\r\n",
            id="Content-Length with Transfer-Encoding",
        ),
        pytest.param(b"GET /echo HTTP/1.7\r\nhost: x\r\n\r\n", id="HTTP/1.7"),
        pytest.param(b"GET /echo HTTP/2.0\r\nhost: x\r\n\r\n", id="HTTP/2.0 as text"),
        pytest.param(b"GET /echo HTTP/1.1\r\nhost: x\r\nx-a: a\x00b\r\n\r\n", id="NUL in a value"),
        pytest.param(b"GET /ec\x00ho HTTP/1.1\r\nhost: x\r\n\r\n", id="NUL in the target"),
        pytest.param(b"GET /echo HTTP/1.1\r\nhost : x\r\n\r\n", id="space before the colon"),
        pytest.param(b"GET /echo HTTP/1.1\r\nx-a: a\r\n b\r\n\r\n", id="folded header"),
        pytest.param(b"CONNECT 127.0.0.1:443 HTTP/1.1\r\nhost: x\r\n\r\n", id="authority form"),
        pytest.param(CLIENT_HELLO, id="TLS ClientHello on the plain port"),
    ],
)
def test_malformed_requests_are_answered_400_and_closed(
    server: DevProcess, request_bytes: bytes
) -> None:
    # `exchange` reads until the server closes: a hang fails on its timeout.
    started = time.monotonic()
    answer = server.exchange(request_bytes, timeout=5)
    assert status_and_json(answer) == BAD_REQUEST
    assert b"\r\nconnection: close\r\n" in answer
    assert time.monotonic() - started < 5


def test_requests_before_a_malformed_one_on_the_connection_are_answered(
    server: DevProcess,
) -> None:
    pipelined = b"GET /echo HTTP/1.1\r\nhost: x\r\n\r\n" + b"GET /echo HTTP/1.7\r\n\r\n"
    answer = server.exchange(pipelined, timeout=10)
    first, second = answer.split(b"HTTP/1.1 400 ", 1)
    assert first.startswith(b"HTTP/1.1 200 OK\r\n")
    assert json.loads(second.partition(b"\r\n\r\n")[2]) == {"message": "Bad Request"}


def test_control_characters_in_a_logged_path_are_escaped(server: DevProcess) -> None:
    forged = "GET /health 200 Health warm 0.50 ms"
    server.request("/echo%0a" + forged.replace(" ", "%20"))
    server.request("/echo%1b[2J%1b]0;title%07%7f%c2%9b")
    line = server.wait_for(r"^GET /echo\\x0aGET /health 200 Health warm 0\.50 ms 404 ")
    assert line is not None
    escaped = server.wait_for(r"^GET /echo\\x1b\[2J\\x1b\]0;title\\x07\\x7f\\x9b 404 ")
    assert escaped is not None
    assert forged not in server.output.splitlines()
    assert "\x1b" not in server.output and "\x9b" not in server.output


def test_printable_escapes_c0_del_and_c1_and_keeps_the_rest() -> None:
    assert printable("/a\nb\r\x1b[31m\x7f\x85é✓ /ok") == "/a\\x0ab\\x0d\\x1b[31m\\x7f\\x85é✓ /ok"


# Timeouts, on an in-process front ------------------------------------------------------------


@contextmanager
def _front(header_timeout_s: float, idle_timeout_s: float) -> Iterator[int]:
    """DevServer on a free port in a thread of its own; no request here reaches a function,
    so no worker starts."""
    deployment = Deployment(
        app=test_app,
        handlers_dir=TEST_HANDLERS,
        settings=Settings("dev"),
        store_endpoint="http://127.0.0.1:9",
        table_arns={},
    )
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    stop = asyncio.Event()
    bound: list[int] = []

    async def serve() -> None:
        front = DevServer(
            Runtime(deployment),
            Console(io.StringIO(), io.StringIO()),
            header_timeout_s=header_timeout_s,
            idle_timeout_s=idle_timeout_s,
        )
        bound.append(await front.start("127.0.0.1", 0))
        ready.set()
        await stop.wait()
        await front.stop()

    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),))
    thread.start()
    try:
        assert ready.wait(10)
        yield bound[0]
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(10)
        loop.close()


def _on_front(
    header_timeout_s: float, idle_timeout_s: float, *writes: bytes, pause_s: float = 0.0
) -> tuple[bytes, float]:
    """Each write on one connection, `pause_s` apart; then all the front sends until it
    closes, and how long that close took after the last write."""
    with (
        _front(header_timeout_s, idle_timeout_s) as port,
        socket.create_connection(("127.0.0.1", port), timeout=5) as connection,
    ):
        for index, data in enumerate(writes):
            if index:
                time.sleep(pause_s)
            connection.sendall(data)
        started = time.monotonic()
        received = bytearray()
        while chunk := connection.recv(65536):
            received += chunk
        return bytes(received), time.monotonic() - started


def test_a_head_that_never_completes_is_408_after_the_header_timeout() -> None:
    # Trickling header lines does not extend the deadline of the head.
    answer, _ = _on_front(
        0.5, 30, b"GET /echo HTTP/1.1\r\nhost: x\r\n", *[b"x-slow: 1\r\n"] * 3, pause_s=0.2
    )
    assert status_and_json(answer) == (408, {"message": "Request Timeout"})


def test_an_idle_connection_is_closed_after_the_idle_timeout() -> None:
    answer, waited = _on_front(30, 0.5)
    assert answer == b""
    assert 0.4 <= waited < 4


def test_a_kept_alive_connection_is_closed_once_idle_after_itsstatus_and_json() -> None:
    answer, waited = _on_front(30, 0.5, b"GET /nowhere HTTP/1.1\r\nhost: x\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 404 Not Found\r\n")
    assert b"connection: close" not in answer
    assert waited < 4


def test_a_stalled_body_is_let_go_after_the_idle_timeout() -> None:
    answer, _ = _on_front(
        30, 0.5, b"POST /upload HTTP/1.1\r\nhost: x\r\ncontent-length: 10\r\n\r\nabc"
    )
    assert status_and_json(answer) == (408, {"message": "Request Timeout"})


def test_an_upgrade_is_answered_as_plain_http_and_the_connection_closes() -> None:
    # HTTP API speaks HTTP/1.1 only: the bytes after the upgrade are not read as a request.
    answer, _ = _on_front(
        30,
        30,
        b"GET /nowhere HTTP/1.1\r\nhost: x\r\nconnection: upgrade\r\nupgrade: websocket\r\n\r\n"
        b"\x81\x85abcdefghi",
    )
    assert status_and_json(answer) == (404, {"message": "Not Found"})
    assert b"\r\nconnection: close\r\n" in answer
