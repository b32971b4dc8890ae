"""Latency of `draht dev`: each route end to end, and the server's cost over an in-process call.

End to end is what a client sees: a new TCP connection per request, the request
written, the whole response read. The in-process figure calls the same handler
with the same event in this process; the difference is what the local runtime
adds (HTTP, routing, event, the pipe to the worker, IAM hook, response rules).

    python bench/local_latency.py [--requests 2000]     # prints JSON

`measure()` returns the same figures for other scripts (BENCHMARKS.md).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import socket
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from typing import Any

from dev_process import DevProcess

from bench.stats import summary_ms
from draht import PROJECT_ROOT
from draht.app import app
from draht.local.events import HttpRequest, build_event
from draht.local.runtime import Deployment
from draht.local.seed import sample_data
from draht.local.store import dynamodb_client, ensure_tables
from draht.settings import local_settings


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


def in_process(store_endpoint: str, targets: dict[str, str], requests: int) -> dict[str, float]:
    """Median seconds of calling each route's handler directly, with the same event."""
    arns = ensure_tables(dynamodb_client(store_endpoint), app.name, app.tables)
    deployment = Deployment(
        app=app,
        handlers_dir=PROJECT_ROOT / "handlers",
        settings=local_settings(),
        store_endpoint=store_endpoint,
        table_arns=arns,
    )
    for function in app.functions:
        os.environ.update(deployment.environment(function))
    sys.path.insert(0, str(deployment.handlers_dir))
    medians = {}
    for route in app.routes:
        handler = getattr(importlib.import_module(route.function.module), route.function.attribute)
        request = HttpRequest("GET", targets[route.key], [("host", "127.0.0.1")])
        samples = []
        for _ in range(requests):
            event = build_event(request, route, {}, "bench")
            started = time.perf_counter()
            handler(event, None)
            samples.append(time.perf_counter() - started)
        medians[route.key] = statistics.median(samples)
    return medians


def measure(requests: int = 2000, warmup: int = 50) -> dict[str, Any]:
    client_id = sample_data(datetime.now(UTC)).clients[0]["clientId"]
    targets = {
        "GET /health": "/health",
        "GET /clients": "/clients",
        "GET /sessions": f"/sessions?clientId={client_id}",
    }
    figures: dict[str, Any] = {"requests_per_route": requests, "routes": {}}
    with (
        tempfile.TemporaryDirectory() as folder,
        DevProcess(["--data-dir", folder]) as server,
    ):
        server.seed_sample_data()
        port, store = server.port, server.store_endpoint
        for route, target in targets.items():
            for _ in range(warmup):
                request_once(port, target)
            samples = []
            for _ in range(requests):
                elapsed, status = request_once(port, target)
                if status != 200:
                    raise RuntimeError(f"{route} answered {status}")
                samples.append(elapsed)
            figures["routes"][route] = summary_ms(samples)
        direct = in_process(store, targets, requests)
    for route, median_s in direct.items():
        entry = figures["routes"][route]
        entry["in_process_median_ms"] = round(median_s * 1000, 3)
        entry["overhead_ms"] = round(entry["median_ms"] - median_s * 1000, 3)
    return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    arguments = parser.parse_args()
    print(json.dumps(measure(arguments.requests), indent=2))
