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
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.stats import summary_ms
from draht import PROJECT_ROOT
from draht.app import app
from draht.local.events import HttpRequest, build_event
from draht.local.runtime import Deployment
from draht.local.seed import sample_data
from draht.local.store import dynamodb_client, ensure_tables
from draht.settings import local_settings

DRAHT = Path(sys.executable).with_name("draht")
_URL = re.compile(rb"http://127\.0\.0\.1:(\d+)")


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


@contextmanager
def running_server(data_dir: Path) -> Iterator[tuple[int, str]]:
    """`draht dev` on a free port with the sample data; (port, store endpoint)."""
    seeded = subprocess.run(
        [DRAHT, "seed", "--data-dir", str(data_dir)], capture_output=True, check=False
    )
    if seeded.returncode != 0:
        raise RuntimeError(seeded.stderr.decode())
    server = subprocess.Popen(
        [DRAHT, "dev", "--port", "0", "--data-dir", str(data_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert server.stdout is not None
    try:
        port = 0
        while not port:
            line = server.stdout.readline()
            if not line:
                raise RuntimeError("draht dev exited before it served")
            found = _URL.search(line)
            port = int(found.group(1)) if found else 0
        state = json.loads((data_dir / "dev.json").read_text())
        # The request lines must be read, or a full pipe would stall the server.
        drain = threading.Thread(target=server.stdout.read, daemon=True)
        drain.start()
        yield port, state["storeEndpoint"]
    finally:
        server.terminate()
        server.wait(timeout=10)


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
    with tempfile.TemporaryDirectory() as folder, running_server(Path(folder)) as (port, store):
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
