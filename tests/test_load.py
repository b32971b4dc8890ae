"""Concurrent clients against `draht dev`: mixed routes, full listings, every item exactly once.

Eight clients share one server and its store; each follows `nextCursor` through
whole listings with a page size of its own and checks the result against the data
it seeded. Bounded by default; `DRAHT_LONG=1` (`make fuzz-long`) sends 2,000
requests per client.

Then writes: eight writers create sessions of four shared clients, retrying with the
same id as Draht's CLI will (after Retry-After on a 503, at once on a lost
connection), while readers page through those clients' sessions. Afterwards each
client lists every acknowledged session exactly once and nothing else. Bounded to 40
sessions per writer; `DRAHT_LONG=1` creates 500 per writer (4,000 in all).

The figures (throughput, latency) are `make bench`'s to report: these tests assert
correctness only.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from dev_process import DevProcess, unthrottled
from traffic import Connection, Dataset, list_all, run_load, run_write_load, seed

from draht.local.store import dynamodb_client

LONG = os.environ.get("DRAHT_LONG") == "1"
CLIENTS = 8
REQUESTS_PER_CLIENT = 2000 if LONG else 60
WRITERS = 8
SESSIONS_PER_WRITER = 500 if LONG else 40
WRITTEN_CLIENTS = tuple(f"written-{n}" for n in range(4))


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


def test_concurrent_writers_with_retries_leave_every_session_listed_exactly_once(
    seeded: tuple[DevProcess, Dataset],
) -> None:
    server, _ = seeded
    connection = Connection(server.url)
    try:
        for client_id in WRITTEN_CLIENTS:
            status, _, body = connection.request(
                "POST", "/clients", body={"clientId": client_id, "name": client_id}
            )
            assert status == 201, body
        report = run_write_load(server.url, WRITTEN_CLIENTS, WRITERS, SESSIONS_PER_WRITER)
        assert report.errors == []
        assert sum(len(ids) for ids in report.acknowledged.values()) == (
            WRITERS * SESSIONS_PER_WRITER
        )
        assert report.listings_read > 0
        for client_id, acknowledged in report.acknowledged.items():
            listed = [
                item["sessionId"]
                for item in list_all(connection, "/sessions", {"clientId": client_id}, "sessions")
            ]
            assert len(listed) == len(set(listed)), f"{client_id} lists a session twice"
            assert set(listed) == acknowledged, client_id
    finally:
        connection.close()
