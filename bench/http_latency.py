"""Each route through `draht dev` as a client sees it, one request after another on a new
connection each, beside the same handler called in this process (the difference is what the
local runtime adds) and a minimal server's fixed answer (bench/fixed_answer_server.py)."""

from __future__ import annotations

import json
import socket
import statistics
import subprocess
import sys
import tempfile
from functools import partial
from pathlib import Path
from typing import Any

from dev_process import DevProcess, unthrottled
from handler_env import loaded_handlers

from bench.report import Section, Target, ms
from bench.stats import summary_ms, timed
from draht.app import app
from draht.local.events import HttpRequest, build_event
from draht.local.store import local_table_name

FIXED_ANSWER_SERVER = Path(__file__).with_name("fixed_answer_server.py")
HEALTH_MEDIAN_TARGET_MS = 1.0
OVERHEAD_TARGET_MS = 0.5


def _get(port: int, target: str) -> bytes:
    """One GET on a new connection, as a client sees it: connected, sent, whole answer read."""
    head = f"GET {target} HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\nconnection: close\r\n\r\n"
    with socket.create_connection(("127.0.0.1", port)) as connection:
        connection.sendall(head.encode())
        return b"".join(iter(lambda: connection.recv(65536), b""))


def _sequential(port: int, target: str, requests: int, warmup: int) -> dict[str, Any]:
    """`warmup` unmeasured then `requests` measured GETs, one after another."""
    samples = []
    for _ in range(warmup + requests):
        elapsed, answer = timed(partial(_get, port, target))
        if not answer.startswith(b"HTTP/1.1 200 "):
            raise RuntimeError(f"{target} answered {answer[:200]!r}")
        samples.append(elapsed)
    return summary_ms(samples[warmup:])


def _in_process_median_ms(
    store_endpoint: str, targets: dict[str, str], requests: int
) -> dict[str, float]:
    """Each route's handler called directly with the event draht dev would send it."""
    tables = {table.name: local_table_name(app.name, table) for table in app.tables}
    routes = {route.key: route for route in app.routes}
    medians = {}
    with loaded_handlers(store_endpoint, tables) as handlers:
        for key, target in targets.items():
            handler = getattr(handlers, routes[key].function.module).handler
            request = HttpRequest("GET", target, [("host", "127.0.0.1")])
            events = [build_event(request, routes[key], {}, "bench") for _ in range(requests)]
            samples = [timed(partial(handler, event, None))[0] for event in events]
            medians[key] = statistics.median(samples) * 1000
    return medians


def measure(requests: int = 2000, warmup: int = 50) -> dict[str, Any]:
    with (
        tempfile.TemporaryDirectory(prefix="draht-bench-http-") as folder,
        DevProcess(["--data-dir", folder, *unthrottled(folder)]) as server,
    ):
        server.seed_sample_data()
        client_id = json.loads(server.request("/clients?limit=1").body)["clients"][0]["clientId"]
        targets = {
            "GET /health": "/health",
            "GET /sessions": f"/sessions?clientId={client_id}",
            "GET /clients": "/clients",
        }
        routes = {
            key: _sequential(server.port, target, requests, warmup)
            for key, target in targets.items()
        }
        in_process = _in_process_median_ms(server.store_endpoint, targets, requests)
    for key, median_ms in in_process.items():
        routes[key]["in_process_median_ms"] = round(median_ms, 3)
        routes[key]["overhead_ms"] = round(routes[key]["median_ms"] - median_ms, 3)
    # Leaving the block closes the fixed-answer server's stdin, which stops it.
    with subprocess.Popen(
        [sys.executable, FIXED_ANSWER_SERVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    ) as fixed:
        assert fixed.stdout is not None
        floor = _sequential(int(fixed.stdout.readline()), "/", requests, warmup)
    return {"requests_per_route": requests, "fixed_answer_floor": floor, "routes": routes}


def section(http: dict[str, Any]) -> Section:
    routes, floor = http["routes"], http["fixed_answer_floor"]
    health = routes["GET /health"]["median_ms"]
    columns = ("median_ms", "p99_ms", "in_process_median_ms", "overhead_ms")
    rows = [["fixed answer (baseline)", ms(floor["median_ms"]), ms(floor["p99_ms"]), "", ""]]
    rows += [[route, *(ms(f[column]) for column in columns)] for route, f in routes.items()]
    overheads = ", ".join(f"{route} {ms(f['overhead_ms'])}" for route, f in routes.items())
    targets = [
        Target(
            f"`draht dev` GET /health median ≤ {HEALTH_MEDIAN_TARGET_MS:g} ms (new connection"
            " per request)",
            ms(health),
            health <= HEALTH_MEDIAN_TARGET_MS,
            f"{ms(routes['GET /health']['in_process_median_ms'])} of it is the handler; a fixed"
            f" answer takes {ms(floor['median_ms'])} on this machine, measured the same way.",
        ),
        Target(
            f"`draht dev` overhead over an in-process call ≤ {OVERHEAD_TARGET_MS:g} ms",
            overheads,
            all(f["overhead_ms"] <= OVERHEAD_TARGET_MS for f in routes.values()),
            "/health's overhead is HTTP, routing and the pipe to the worker; what the data"
            " routes add over it is a DynamoDB call through the local IAM check and a larger"
            " body through the pipe.",
        ),
    ]
    return Section(
        "HTTP through `draht dev`",
        f"{http['requests_per_route']:,} sequential requests per route, each on a new"
        " connection, against the sample data. In-process: the same handler called in the"
        " measuring process with the same event; the overhead is what the local runtime adds"
        " (HTTP, routing, the event, the pipe to the worker, the IAM hook). Baseline: a minimal"
        " asyncio server answering a fixed JSON body, measured the same way.",
        ["Route", "Median", "p99", "In-process median", "Overhead"],
        rows,
        targets=targets,
    )
