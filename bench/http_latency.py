"""Each route through `draht dev` as a client sees it, one request after another on a new
connection each, beside the same handler called in this process (the difference is what the
local runtime adds) and a minimal server's fixed answer (bench/fixed_answer_server.py).

Auth is on, as deployed: the protected routes are called signed with SigV4 (each request
signed before its clock starts, as a client's SDK would have done), GET /sessions again
unsigned on a `--no-auth` server beside it, and the SigV4 check is timed alone, in-process."""

from __future__ import annotations

import json
import socket
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from dev_process import DevProcess, unthrottled
from handler_env import loaded_handlers

from bench.report import Section, Target, ms
from bench.stats import summary_ms, timed
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


def _get(port: int, target: str, headers: Sequence[tuple[str, str]] = ()) -> bytes:
    """One GET on a new connection, as a client sees it: connected, sent, whole answer read.

    `headers` (a signature) replace the plain `host` when given.
    """
    lines = [f"GET {target} HTTP/1.1", *(f"{name}: {value}" for name, value in headers)]
    if not headers:
        lines.append(f"host: 127.0.0.1:{port}")
    head = "\r\n".join([*lines, "connection: close", "", ""])
    with socket.create_connection(("127.0.0.1", port)) as connection:
        connection.sendall(head.encode())
        return b"".join(iter(lambda: connection.recv(65536), b""))


def _sequential(
    port: int, target: str, requests: int, warmup: int, caller: Caller | None = None
) -> dict[str, Any]:
    """`warmup` unmeasured then `requests` measured GETs, one after another; with `caller`,
    each is signed afresh before its clock starts."""
    samples = []
    for _ in range(warmup + requests):
        sent: str = target
        headers: list[tuple[str, str]] = []
        if caller is not None:
            sent, headers = caller.prepare("GET", f"http://127.0.0.1:{port}{target}")
        elapsed, answer = timed(partial(_get, port, sent, headers))
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


def sigv4_verification(requests: int) -> dict[str, Any]:
    """The SigV4 check alone: a botocore-signed GET /sessions verified in-process."""
    with tempfile.TemporaryDirectory(prefix="draht-bench-sigv4-") as folder:
        caller = Caller(local_settings(), Path(folder), app)
        target, headers = caller.prepare("GET", "http://127.0.0.1:3000/sessions?clientId=c")
        credentials = local_credentials(Path(folder))
    request = sigv4.Request("GET", target, headers, b"")
    secrets = {credentials.access_key: credentials.secret_key}
    check = partial(sigv4.verify, request, secrets, LOCAL_REGION)
    if not isinstance(check(datetime.now(UTC)), sigv4.Signed):
        raise RuntimeError("the benchmark's own signed request did not verify")
    samples = [timed(partial(check, datetime.now(UTC)))[0] for _ in range(requests)]
    return {"requests": requests, "median_ms": round(statistics.median(samples) * 1000, 4)}


def measure(requests: int = 2000, warmup: int = 50) -> dict[str, Any]:
    protected = {route.key for route in app.routes if route.auth == "protected"}
    with tempfile.TemporaryDirectory(prefix="draht-bench-http-") as folder:
        with DevProcess(["--data-dir", folder, *unthrottled(folder)]) as server:
            server.seed_sample_data()
            listed = server.request("/clients?limit=1")
            client_id = json.loads(listed.body)["clients"][0]["clientId"]
            targets = {
                "GET /health": "/health",
                "GET /sessions": f"/sessions?clientId={client_id}",
                "GET /clients": "/clients",
            }
            routes = {}
            for key, target in targets.items():
                caller = server.caller if key in protected else None
                figures = _sequential(server.port, target, requests, warmup, caller)
                routes[key] = {"signed": caller is not None, **figures}
            in_process = _in_process_median_ms(server.store_endpoint, targets, requests)
        with DevProcess(["--data-dir", folder, "--no-auth", *unthrottled(folder)]) as open_server:
            unsigned = _sequential(open_server.port, targets["GET /sessions"], requests, warmup)
    for key, median_ms in in_process.items():
        routes[key]["in_process_median_ms"] = round(median_ms, 3)
        routes[key]["overhead_ms"] = round(routes[key]["median_ms"] - median_ms, 3)
    unsigned["overhead_ms"] = round(unsigned["median_ms"] - in_process["GET /sessions"], 3)
    # Leaving the block closes the fixed-answer server's stdin, which stops it.
    with subprocess.Popen(
        [sys.executable, FIXED_ANSWER_SERVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    ) as fixed:
        assert fixed.stdout is not None
        floor = _sequential(int(fixed.stdout.readline()), "/", requests, warmup)
    return {
        "requests_per_route": requests,
        "fixed_answer_floor": floor,
        "routes": routes,
        "unsigned_sessions": unsigned,
        "sigv4_verification": sigv4_verification(requests * 5),
    }


def section(http: dict[str, Any]) -> Section:
    routes, floor = http["routes"], http["fixed_answer_floor"]
    health = routes["GET /health"]["median_ms"]
    columns = ("median_ms", "p99_ms", "in_process_median_ms", "overhead_ms")
    rows = [["fixed answer (baseline)", ms(floor["median_ms"]), ms(floor["p99_ms"]), "", ""]]
    rows += [
        [f"{route} (signed)" if f.get("signed") else route, *(ms(f[column]) for column in columns)]
        for route, f in routes.items()
    ]
    sessions_in_process = routes["GET /sessions"]["in_process_median_ms"]
    unsigned = {**http["unsigned_sessions"], "in_process_median_ms": sessions_in_process}
    rows.append(
        ["GET /sessions (unsigned, `--no-auth`)", *(ms(unsigned[column]) for column in columns)]
    )
    verification = http["sigv4_verification"]
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
        Target(
            f"SigV4 verification adds ≤ {SIGV4_TARGET_MS:g} ms median",
            f"{ms(verification['median_ms'])} alone, in-process; GET /sessions over in-process:"
            f" signed {ms(routes['GET /sessions']['overhead_ms'])}, unsigned (`--no-auth`)"
            f" {ms(unsigned['overhead_ms'])}",
            verification["median_ms"] <= SIGV4_TARGET_MS,
            "the check alone is over the target: its hashing and HMACs, timed in-process.",
        ),
    ]
    return Section(
        "HTTP through `draht dev`",
        f"{http['requests_per_route']:,} sequential requests per route, each on a new"
        " connection, against the sample data. In-process: the same handler called in the"
        " measuring process with the same event; the overhead is what the local runtime adds"
        " (HTTP, routing, the gateway's auth, the event, the pipe to the worker, the IAM hook)."
        " Auth is on as deployed: the protected routes are signed with SigV4, each request"
        " signed before its clock starts; GET /sessions is also measured unsigned on a"
        " `--no-auth` server. The SigV4 check alone (`draht/local/sigv4.py:verify` on a"
        f" botocore-signed GET /sessions, {verification['requests']:,} times in-process) has a"
        f" median of {ms(verification['median_ms'])}. Baseline: a minimal asyncio server"
        " answering a fixed JSON body, measured the same way.",
        ["Route", "Median", "p99", "In-process median", "Overhead"],
        rows,
        targets=targets,
    )
