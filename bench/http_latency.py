"""Each route through `draht dev` as a client sees it, one request after another on a new
connection each, beside the same handler called in this process (the difference is what the
local runtime adds) and a minimal server's fixed answer (bench/fixed_answer_server.py).

Auth is on, as deployed: the protected routes are called signed with SigV4 (each request
signed before its clock starts, as a client's SDK would have done), GET /sessions again
unsigned on a `--no-auth` server beside it, and the SigV4 check is timed alone, in-process."""

from __future__ import annotations

import json
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from dev_process import TEST_APP, TEST_HANDLERS, DevProcess, unthrottled
from lambda_python import runtime_python_environment

from bench.report import Section, Target, ms
from bench.stats import summary_ms, timed
from draht import PROJECT_ROOT
from draht.app import app
from draht.local import sigv4
from draht.local.caller import Caller
from draht.local.keys import local_credentials
from draht.local.python import lambda_interpreter
from draht.local.store import LOCAL_REGION
from draht.settings import local_settings

FIXED_ANSWER_SERVER = Path(__file__).with_name("fixed_answer_server.py")
IN_PROCESS = Path(__file__).with_name("in_process.py")
CONSOLE_WAIT_S = 5.0
# About how long a worker waits between two of these requests, outside its handler.
IN_PROCESS_PAUSE_S = 0.002
# The control handler sleeps about as long as GET /sessions' handler runs.
CONTROL_SLEEP_S = 0.004
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
) -> list[float]:
    """Seconds each of `requests` GETs took, one after another after `warmup` unmeasured ones;
    with `caller`, each is signed afresh before its clock starts."""
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
    return samples[warmup:]


def _handler_seconds(server: DevProcess, path: str, requests: int) -> list[float]:
    """The handler's own time in each of the last `requests` answers to `path`, read from the
    console's request lines (which follow each answer, so the last may still be on its way)."""
    line = re.compile(rf"^GET {re.escape(path)} 200 \S+ warm [\d.]+ ms \(handler ([\d.]+) ms\)$")
    deadline = time.monotonic() + CONSOLE_WAIT_S
    while True:
        console = server.output.splitlines()
        found = [float(m.group(1)) / 1000 for m in map(line.match, console) if m]
        if len(found) >= requests or time.monotonic() > deadline:
            return found[-requests:]
        time.sleep(0.05)


def _through_draht_dev(
    server: DevProcess, target: str, requests: int, warmup: int, caller: Caller | None
) -> dict[str, Any]:
    """Client-seen latency, and how much of each request the handler itself took."""
    samples = _sequential(server.port, target, requests, warmup, caller)
    handler = _handler_seconds(server, target.split("?")[0], requests)
    if len(handler) != len(samples):
        raise RuntimeError(f"{target}: {len(handler)} request lines for {len(samples)} requests")
    around = [whole - own for whole, own in zip(samples, handler, strict=True)]
    return {
        **summary_ms(samples),
        "handler_median_ms": summary_ms(handler)["median_ms"],
        "around_handler_median_ms": summary_ms(around)["median_ms"],
    }


def _in_process_median_ms(
    python: str, store_endpoint: str, targets: dict[str, str], requests: int, pause_s: float
) -> dict[str, float]:
    """Each route's handler called directly by `python` (bench/in_process.py)."""
    arguments = [store_endpoint, str(requests), str(pause_s), json.dumps(targets)]
    measured = subprocess.run(
        [python, IN_PROCESS, *arguments],
        env=runtime_python_environment(PROJECT_ROOT / "tests"),
        check=True,
        capture_output=True,
        text=True,
    )
    medians: dict[str, float] = json.loads(measured.stdout)
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
                figures = _through_draht_dev(server, target, requests, warmup, caller)
                routes[key] = {"signed": caller is not None, **figures}
            # Both sides of the overhead run on one Python: the one the workers run on.
            workers_python = lambda_interpreter()
            in_process, paused = (
                _in_process_median_ms(
                    workers_python.executable, server.store_endpoint, targets, requests, pause_s
                )
                for pause_s in (0, IN_PROCESS_PAUSE_S)
            )
        with DevProcess(["--data-dir", folder, "--no-auth", *unthrottled(folder)]) as open_server:
            unsigned = _through_draht_dev(
                open_server, targets["GET /sessions"], requests, warmup, caller=None
            )
        control_app = ["--app", TEST_APP, "--handlers", str(TEST_HANDLERS), "--no-auth"]
        control_data = ["--data-dir", str(Path(folder) / "control"), *unthrottled(folder)]
        with DevProcess([*control_app, *control_data]) as control:
            waiting = {
                str(seconds): _through_draht_dev(
                    control, f"/sleeps?seconds={seconds}", requests, warmup, caller=None
                )
                for seconds in (0, CONTROL_SLEEP_S)
            }
    for key, median_ms in in_process.items():
        routes[key]["in_process_median_ms"] = round(median_ms, 3)
        routes[key]["in_process_paused_median_ms"] = round(paused[key], 3)
        routes[key]["overhead_ms"] = round(routes[key]["median_ms"] - median_ms, 3)
    unsigned["overhead_ms"] = round(unsigned["median_ms"] - in_process["GET /sessions"], 3)
    # Leaving the block closes the fixed-answer server's stdin, which stops it.
    with subprocess.Popen(
        [sys.executable, FIXED_ANSWER_SERVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    ) as fixed:
        assert fixed.stdout is not None
        floor = summary_ms(_sequential(int(fixed.stdout.readline()), "/", requests, warmup))
    return {
        "requests_per_route": requests,
        "in_process_python": workers_python.version,
        "fixed_answer_floor": floor,
        "routes": routes,
        "unsigned_sessions": unsigned,
        "sleeping_handler": waiting,
        "sigv4_verification": sigv4_verification(requests * 5),
    }


def section(http: dict[str, Any]) -> Section:
    routes, floor = http["routes"], http["fixed_answer_floor"]
    health = routes["GET /health"]["median_ms"]
    columns = (
        "median_ms",
        "p99_ms",
        "handler_median_ms",
        "around_handler_median_ms",
        "in_process_median_ms",
        "in_process_paused_median_ms",
        "overhead_ms",
    )
    floor_row = ["fixed answer (baseline)", ms(floor["median_ms"]), ms(floor["p99_ms"])]
    rows = [floor_row + [""] * (len(columns) - 2)]
    rows += [
        [f"{route} (signed)" if f.get("signed") else route, *(ms(f[column]) for column in columns)]
        for route, f in routes.items()
    ]
    sessions = routes["GET /sessions"]
    in_process_columns = ("in_process_median_ms", "in_process_paused_median_ms")
    unsigned = {**http["unsigned_sessions"], **{c: sessions[c] for c in in_process_columns}}
    rows.append(
        ["GET /sessions (unsigned, `--no-auth`)", *(ms(unsigned[column]) for column in columns)]
    )
    for seconds, figures in http["sleeping_handler"].items():
        rows.append(
            [
                f"control: a handler that sleeps {float(seconds) * 1000:g} ms (`--no-auth`)",
                *(ms(figures[column]) for column in columns[:4]),
                *[""] * (len(columns) - 4),
            ]
        )
    verification = http["sigv4_verification"]
    overheads = ", ".join(f"{route} {ms(f['overhead_ms'])}" for route, f in routes.items())
    in_worker = "; ".join(
        f"{route}'s handler takes {ms(f['handler_median_ms'])} in its worker,"
        f" {ms(f['in_process_median_ms'])} called in-process back to back and"
        f" {ms(f['in_process_paused_median_ms'])} called in-process"
        f" {IN_PROCESS_PAUSE_S * 1000:g} ms apart"
        for route, f in routes.items()
        if route != "GET /health"
    )
    sleeping = http["sleeping_handler"]
    at_once = sleeping["0"]["around_handler_median_ms"]
    after_sleep = sleeping[str(CONTROL_SLEEP_S)]["around_handler_median_ms"]
    around = ", ".join(f"{key} {ms(f['around_handler_median_ms'])}" for key, f in routes.items())
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
            f"{in_worker}. Around the handler (HTTP, routing, auth, the event, the pipe both"
            f" ways) `draht dev` takes {around}; around a handler that only sleeps, it takes"
            f" {ms(at_once)} when the handler returns at once and"
            f" {ms(after_sleep)} when it sleeps {CONTROL_SLEEP_S * 1000:g} ms.",
        ),
        Target(
            f"SigV4 verification adds ≤ {SIGV4_TARGET_MS:g} ms median",
            f"{ms(verification['median_ms'])} alone, in-process; GET /sessions over in-process:"
            f" signed {ms(sessions['overhead_ms'])}, unsigned (`--no-auth`)"
            f" {ms(unsigned['overhead_ms'])}",
            verification["median_ms"] <= SIGV4_TARGET_MS,
            "the check alone is over the target: its hashing and HMACs, timed in-process.",
        ),
    ]
    return Section(
        "HTTP through `draht dev`",
        f"{http['requests_per_route']:,} sequential requests per route, each on a new"
        " connection, against the sample data. Handler: the handler's own time in its worker,"
        " from the console's request line (as Lambda's REPORT line gives Duration); around"
        " it: each request's latency less its handler's time. In-process: the same handler"
        " called directly with the same event, in a process of its own on the Python the"
        f" workers run on ({http['in_process_python']}), back to back and with"
        f" {IN_PROCESS_PAUSE_S * 1000:g} ms of sleep between calls (about what a worker waits"
        " between two requests here). The overhead is the median latency less the back-to-back"
        " in-process median: what the local runtime adds (HTTP, routing, the gateway's auth,"
        " the event, the pipe to the worker, the IAM hook), and what calling the handler once"
        " per request costs over calling it in a loop."
        " Auth is on as deployed: the protected routes are signed with SigV4, each request"
        " signed before its clock starts; GET /sessions is also measured unsigned on a"
        " `--no-auth` server. The SigV4 check alone (`draht/local/sigv4.py:verify` on a"
        f" botocore-signed GET /sessions, {verification['requests']:,} times in-process) has a"
        f" median of {ms(verification['median_ms'])}. Baseline: a minimal asyncio server"
        " answering a fixed JSON body, measured the same way.",
        [
            "Route",
            "Median",
            "p99",
            "Handler",
            "Around it",
            "In-process",
            f"In-process, {IN_PROCESS_PAUSE_S * 1000:g} ms apart",
            "Overhead",
        ],
        rows,
        targets=targets,
    )
