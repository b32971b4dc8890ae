"""Each route through `draht dev`, end to end, beside the two floors it is judged against.

End to end is what a client sees: a new TCP connection per request, the request
written, the whole response read, one request after another. The floors:

- the same handler called in this process with the same event; the difference is
  what the local runtime adds (HTTP, routing, the event, the pipe to the worker,
  the IAM hook, the response rules);
- a minimal asyncio server answering a fixed JSON body (bench/fixed_answer_server.py),
  measured the same way: what a round trip costs on this machine at all.
"""

from __future__ import annotations

import json
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dev_process import DevProcess, unthrottled
from handler_env import loaded_handlers

from bench.stats import summary_ms
from draht.app import app
from draht.local.events import HttpRequest, build_event
from draht.local.store import local_table_name

FIXED_ANSWER_SERVER = Path(__file__).with_name("fixed_answer_server.py")
HEALTH_MEDIAN_TARGET_MS = 1.0
OVERHEAD_TARGET_MS = 0.5


def request_once(port: int, target: str) -> tuple[float, int]:
    """One GET on a new connection; (seconds, status)."""
    payload = f"GET {target} HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\nconnection: close\r\n\r\n"
    started = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port)) as connection:
        connection.sendall(payload.encode())
        chunks = []
        while chunk := connection.recv(65536):
            chunks.append(chunk)
    elapsed = time.perf_counter() - started
    return elapsed, int(b"".join(chunks).split(b" ", 2)[1])


def _sequential(port: int, target: str, requests: int, warmup: int) -> list[float]:
    for _ in range(warmup):
        request_once(port, target)
    samples = []
    for _ in range(requests):
        elapsed, status = request_once(port, target)
        if status != 200:
            raise RuntimeError(f"{target} answered {status}")
        samples.append(elapsed)
    return samples


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
    with (
        tempfile.TemporaryDirectory(prefix="draht-bench-http-") as folder,
        DevProcess(["--data-dir", folder, *unthrottled(folder)]) as server,
    ):
        server.seed_sample_data()
        listed = server.request("/clients?limit=1")
        client_id = json.loads(listed.body)["clients"][0]["clientId"]
        targets = {
            "GET /health": "/health",
            "GET /sessions": f"/sessions?clientId={client_id}",
            "GET /clients": "/clients",
        }
        for route, target in targets.items():
            routes[route] = summary_ms(_sequential(server.port, target, requests, warmup))
        in_process = _in_process(server.store_endpoint, targets, requests)
    for route, median_s in in_process.items():
        routes[route]["in_process_median_ms"] = round(median_s * 1000, 3)
        routes[route]["overhead_ms"] = round(routes[route]["median_ms"] - median_s * 1000, 3)
    return {
        "requests_per_route": requests,
        "fixed_answer_floor": _fixed_answer_floor(requests, warmup),
        "routes": routes,
    }
