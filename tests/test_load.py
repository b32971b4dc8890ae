"""Concurrent clients against `draht dev`: mixed routes, full listings, every item exactly once.

Eight clients share one server and its store; each follows `nextCursor` through
whole listings with a page size of its own and checks the result against the data
it seeded. Bounded by default; `DRAHT_LONG=1` (`make fuzz-long`) sends 2,000
requests per client. The figures (throughput, latency) are `make bench`'s to
report: this test asserts correctness only.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from dev_process import DevProcess, unthrottled
from traffic import Dataset, run_load, seed

from draht.local.store import dynamodb_client

LONG = os.environ.get("DRAHT_LONG") == "1"
CLIENTS = 8
REQUESTS_PER_CLIENT = 2000 if LONG else 60


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[DevProcess, Dataset]]:
    folder = tmp_path_factory.mktemp("load-store")
    with DevProcess(["--data-dir", str(folder), *unthrottled(folder)]) as server:
        yield server, seed(dynamodb_client(server.store_endpoint))


def test_concurrent_clients_get_every_item_exactly_once_and_no_error(
    seeded: tuple[DevProcess, Dataset],
) -> None:
    server, dataset = seeded
    report = run_load(server.url, dataset, CLIENTS, REQUESTS_PER_CLIENT)

    assert report.errors == []
    assert dict(report.statuses) == {200: report.requests}
    assert report.requests >= CLIENTS * REQUESTS_PER_CLIENT
    assert report.listings_checked["GET /clients"] > 0
    assert report.listings_checked["GET /sessions"] > 0
