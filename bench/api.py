"""Each route through `draht dev`: latency and throughput, one client and eight at once.

Clients keep their connection alive, as browsers and SDKs do; each sends the same
number of requests and every answer must be a 200. The baseline is the floor of
this machine and this client: a minimal asyncio HTTP server in its own process
answering every request with a fixed JSON body, measured the same way. What
`draht dev` adds over that floor is routing, the event, the pipe to a warm worker,
the handler, its IAM check and, for the data routes, a DynamoDB call.

The client's threads share two cores with the server, its workers and dynalite:
the concurrent figures are what this machine does as a whole, not the server alone.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import threading
import time
from typing import Any

from dev_process import DevProcess
from traffic import Connection

from bench.stats import ratio, summary_ms

_FIXED_ANSWER_SERVER = """
import asyncio, sys
BODY = b'{"status":"ok","service":"baseline"}'
ANSWER = (b"HTTP/1.1 200 OK\\r\\ncontent-type: application/json\\r\\ncontent-length: "
          + str(len(BODY)).encode() + b"\\r\\n\\r\\n" + BODY)

class Fixed(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport, self.buffer = transport, b""
    def data_received(self, data):
        self.buffer += data
        while b"\\r\\n\\r\\n" in self.buffer:
            _, self.buffer = self.buffer.split(b"\\r\\n\\r\\n", 1)
            self.transport.write(ANSWER)

async def main():
    server = await asyncio.get_running_loop().create_server(Fixed, "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)

asyncio.run(main())
"""


def _drive(url: str, path: str, query: dict[str, str], clients: int, each: int) -> dict[str, Any]:
    latencies: list[list[float]] = [[] for _ in range(clients)]
    failures: list[str] = []

    def client(index: int) -> None:
        connection = Connection(url)
        try:
            for _ in range(each):
                started = time.perf_counter()
                status, _, _ = connection.get(path, query)
                latencies[index].append(time.perf_counter() - started)
                if status != 200:
                    failures.append(f"{path} answered {status}")
                    return
        finally:
            connection.close()

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    if failures:
        raise RuntimeError(failures[0])
    samples = [value for per_client in latencies for value in per_client]
    figures = summary_ms(samples)
    figures["requests_per_second"] = round(len(samples) / wall)
    return figures


def _profile(url: str, path: str, query: dict[str, str], requests: int) -> dict[str, Any]:
    _drive(url, path, query, clients=8, each=25)  # warm every worker a burst would start
    return {
        "sequential": _drive(url, path, query, clients=1, each=requests),
        "concurrent_8": _drive(url, path, query, clients=8, each=requests // 8),
    }


def measure(requests: int = 2000) -> dict[str, Any]:
    baseline_server = subprocess.Popen(
        [sys.executable, "-c", _FIXED_ANSWER_SERVER],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert baseline_server.stdout is not None
        port = int(baseline_server.stdout.readline())
        baseline = _profile(f"http://127.0.0.1:{port}", "/health", {}, requests)
    finally:
        assert baseline_server.stdin is not None
        baseline_server.stdin.close()
        baseline_server.wait(timeout=10)

    routes: dict[str, Any] = {}
    with (
        tempfile.TemporaryDirectory(prefix="draht-bench-api-") as folder,
        DevProcess(["--data-dir", folder]) as server,
    ):
        server.seed_sample_data()
        connection = Connection(server.url)
        _, _, page = connection.get("/clients", {"limit": "1"})
        connection.close()
        client_id = page["clients"][0]["clientId"]
        targets = {
            "GET /health": ("/health", {}),
            "GET /sessions": ("/sessions", {"clientId": client_id}),
            "GET /clients": ("/clients", {}),
        }
        for route, (path, query) in targets.items():
            routes[route] = _profile(server.url, path, query, requests)
            for mode in ("sequential", "concurrent_8"):
                routes[route][mode]["median_ratio_to_baseline"] = ratio(
                    routes[route][mode]["median_ms"], baseline[mode]["median_ms"]
                )
    return {"requests_per_mode": requests, "baseline": baseline, "routes": routes}
