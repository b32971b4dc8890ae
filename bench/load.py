"""The load test's long form, for its figures: 8 clients x 2,000 requests, mixed and checked.

The same driver and data set as tests/test_load.py, against `draht dev`; the test asserts
correctness, this reports what the run cost.
"""

from __future__ import annotations

import tempfile
from typing import Any

from dev_process import DevProcess, unthrottled
from traffic import run_load, seed

from bench.report import Section, Target, ms
from bench.stats import summary_ms
from draht.local.store import dynamodb_client


def measure(clients: int = 8, requests_per_client: int = 2000) -> dict[str, Any]:
    with (
        tempfile.TemporaryDirectory(prefix="draht-bench-load-") as folder,
        DevProcess(["--data-dir", folder, *unthrottled(folder)]) as server,
    ):
        dataset = seed(dynamodb_client(server.store_endpoint))
        report = run_load(server.url, dataset, clients, requests_per_client)
    return {
        "clients": clients,
        "requests_per_client": requests_per_client,
        "seeded": {"clients": len(dataset.client_ids), "sessions": dataset.session_count},
        "requests": report.requests,
        "seconds": round(report.seconds, 2),
        "requests_per_second": round(report.requests_per_second),
        "latency": summary_ms(report.latencies_s),
        "errors": len(report.errors),
        "first_errors": report.errors[:5],
        "listings_checked": dict(report.listings_checked),
        "items_checked": report.items_checked,
    }


def section(load: dict[str, Any]) -> Section:
    listings = ", ".join(f"{count:,} x {name}" for name, count in load["listings_checked"].items())
    requests, latency = f"{load['requests']:,}", load["latency"]
    row = [requests, f"{load['seconds']} s", f"{load['requests_per_second']:,}"]
    row += [ms(latency["median_ms"]), ms(latency["p99_ms"]), str(load["errors"])]
    return Section(
        "Load",
        f"{load['clients']} concurrent clients x {load['requests_per_client']:,} requests"
        " (tests/traffic.py, the driver of tests/test_load.py) on kept-alive connections:"
        " /health, and full listings of /clients and of a random client's /sessions followed"
        " cursor by cursor with a random page size, each checked against the seeded data"
        f" ({load['seeded']['clients']} clients, {load['seeded']['sessions']:,} sessions).",
        ["Requests", "Wall time", "Requests/s", "Median", "p99", "Errors"],
        [row],
        [
            f"Listings checked complete, each item exactly once and sessions newest first:"
            f" {listings} ({load['items_checked']:,} items). Any answer but a 200 is an error."
        ],
        [
            Target(
                f"Load: {load['clients']} x {load['requests_per_client']:,} requests, zero"
                " errors, each item once",
                f"{requests} requests, {load['errors']} errors, {load['items_checked']:,} items",
                load["errors"] == 0,
                "the first errors: " + "; ".join(load["first_errors"]),
            )
        ],
    )
