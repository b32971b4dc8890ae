"""The load test's long form, for its figures: 8 clients x 2,000 requests, mixed and checked.

The same driver as tests/test_load.py, against `draht dev` with the same data set;
the test asserts correctness, this reports what the run cost.
"""

from __future__ import annotations

import tempfile
from typing import Any

from dev_process import DevProcess, unthrottled
from traffic import run_load, seed

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
        "data": {
            "clients": len(dataset.client_ids),
            "sessions": dataset.session_count,
        },
        "requests": report.requests,
        "seconds": round(report.seconds, 2),
        "requests_per_second": round(report.requests_per_second),
        "latency": summary_ms(report.latencies_s),
        "statuses": {str(status): count for status, count in sorted(report.statuses.items())},
        "errors": len(report.errors),
        "first_errors": report.errors[:5],
        "listings_checked": dict(report.listings_checked),
        "items_checked": report.items_checked,
    }
