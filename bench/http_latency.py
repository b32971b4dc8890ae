"""Each route through `draht dev`, end to end, beside the two floors it is judged against.

End to end is what a client sees: a new TCP connection per request, the request
written, the whole response read, one request after another. The floors:

- the same handler called in this process with the same event; the difference is
  what the local runtime adds (HTTP, routing, the gateway's auth, the event, the
  pipe to the worker, the IAM hook, the response rules);
- a minimal asyncio server answering a fixed JSON body (bench/fixed_answer_server.py),
  measured the same way: what a round trip costs on this machine at all.

Auth is on, as deployed: the protected routes are called signed with SigV4 (each
request signed before its clock starts, as a client's SDK would have done), and
GET /sessions is measured again unsigned on a `--no-auth` server beside it. The
SigV4 check itself is also timed alone, in-process.
"""

from __future__ import annotations

import json
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dev_process import DevProcess
from handler_env import loaded_handlers

from bench.stats import summary_ms
from draht.app import app
from draht.local import sigv4
from draht.local.caller import Caller
from draht.local.events import HttpRequest, build_event
from draht.local.keys import local_credentials
from draht.local.store import LOCAL_REGION, local_table_name
from draht.settings import local_settings

FIXED_ANSWER_SERVER = Path(__file__).with_name("fixed_answer_server.py")
HEALTH_MEDIAN_TARGET_MS = 1.0
OVERHEAD_TARGET_MS = 0.5
SIGV4_TARGET_MS = 0.2


def request_once(
    port: int, target: str, headers: Sequence[tuple[str, str]] = ()
) -> tuple[float, int]:
    """One GET on a new connection, with `headers` (a signature) if given; (seconds, status)."""
    lines = [f"GET {target} HTTP/1.1", *(f"{name}: {value}" for name, value in headers)]
    if not any(name.lower() == "host" for name, _ in headers):
        lines.append(f"host: 127.0.0.1:{port}")
    payload = "\r\n".join([*lines, "connection: close", "", ""])
    started = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port)) as connection:
        connection.sendall(payload.encode())
        chunks = []
        while chunk := connection.recv(65536):
            chunks.append(chunk)
    elapsed = time.perf_counter() - started
    return elapsed, int(b"".join(chunks).split(b" ", 2)[1])


def _sequential(
    port: int, target: str, requests: int, warmup: int, caller: Caller | None = None
) -> list[float]:
    """Seconds per request; with `caller`, each is signed afresh before its clock starts."""
    samples = []
    for index in range(warmup + requests):
        sent: str = target
        headers: list[tuple[str, str]] = []
        if caller is not None:
            sent, headers = caller.prepare("GET", f"http://127.0.0.1:{port}{target}")
        elapsed, status = request_once(port, sent, headers)
        if status != 200:
            raise RuntimeError(f"{target} answered {status}")
        if index >= warmup:
            samples.append(elapsed)
    return samples


def sigv4_verification(requests: int) -> dict[str, Any]:
    """The SigV4 check alone: a botocore-signed GET /sessions verified in-process."""
    with tempfile.TemporaryDirectory(prefix="draht-bench-sigv4-") as folder:
        caller = Caller(local_settings(), Path(folder), app)
        target, headers = caller.prepare("GET", "http://127.0.0.1:3000/sessions?clientId=c")
        credentials = local_credentials(Path(folder))
    request = sigv4.Request("GET", target, headers, b"")
    secrets = {credentials.access_key: credentials.secret_key}
    samples = []
    for _ in range(requests):
        started = time.perf_counter()
        verdict = sigv4.verify(request, secrets, LOCAL_REGION, datetime.now(UTC))
        samples.append(time.perf_counter() - started)
        if not isinstance(verdict, sigv4.Signed):
            raise RuntimeError(f"the benchmark's own request did not verify: {verdict}")
    return {"requests": requests, "median_ms": round(statistics.median(samples) * 1000, 4)}


def _in_process(store_endpoint: str, targets: Mapping[str, str], requests: int) -> dict[str, float]:
    """Median seconds of calling each route's handler directly, with the event draht dev sends."""
    tables = {table.name: local_table_name(app.name, table) for table in app.tables}
    medians = {}
    with loaded_handlers(store_endpoint, tables) as handlers:
        for route in app.routes:
            handler = getattr(handlers, route.function.module).handler
            request = HttpRequest("GET", targets[route.key], [("host", "127.0.0.1")])
            samples = []
            for _ in range(requests):
                event = build_event(request, route, {}, "bench")
                started = time.perf_counter()
                handler(event, None)
                samples.append(time.perf_counter() - started)
            medians[route.key] = statistics.median(samples)
    return medians


def _fixed_answer_floor(requests: int, warmup: int) -> dict[str, Any]:
    server = subprocess.Popen(
        [sys.executable, str(FIXED_ANSWER_SERVER)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdin is not None and server.stdout is not None
    try:
        port = int(server.stdout.readline())
        return summary_ms(_sequential(port, "/", requests, warmup))
    finally:
        server.stdin.close()
        server.wait(timeout=10)


def measure(requests: int = 2000, warmup: int = 50) -> dict[str, Any]:
    routes: dict[str, Any] = {}
    protected = {route.key for route in app.routes if route.auth == "protected"}
    with tempfile.TemporaryDirectory(prefix="draht-bench-http-") as folder:
        with DevProcess(["--data-dir", folder]) as server:
            server.seed_sample_data()
            listed = server.request("/clients?limit=1")
            client_id = json.loads(listed.body)["clients"][0]["clientId"]
            targets = {
                "GET /health": "/health",
                "GET /sessions": f"/sessions?clientId={client_id}",
                "GET /clients": "/clients",
            }
            for route, target in targets.items():
                caller = server.caller if route in protected else None
                samples = _sequential(server.port, target, requests, warmup, caller)
                routes[route] = {"signed": caller is not None, **summary_ms(samples)}
            in_process = _in_process(server.store_endpoint, targets, requests)
        with DevProcess(["--data-dir", folder, "--no-auth"]) as open_server:
            unsigned = summary_ms(
                _sequential(open_server.port, targets["GET /sessions"], requests, warmup)
            )
    for route, median_s in in_process.items():
        routes[route]["in_process_median_ms"] = round(median_s * 1000, 3)
        routes[route]["overhead_ms"] = round(routes[route]["median_ms"] - median_s * 1000, 3)
    sessions_ms = in_process["GET /sessions"] * 1000
    unsigned["overhead_ms"] = round(unsigned["median_ms"] - sessions_ms, 3)
    return {
        "requests_per_route": requests,
        "fixed_answer_floor": _fixed_answer_floor(requests, warmup),
        "routes": routes,
        "unsigned_sessions": unsigned,
        "sigv4_verification": sigv4_verification(requests * 5),
    }
