"""`draht dev` while its store throttles, stalls or is down, and after it recovers.

The server runs with `--dynamodb-endpoint` pointed at a proxy in front of a real
dynalite (tests/fault_store.py), so each fault reaches the handlers exactly as
DynamoDB's would: a throttling error after boto3's retries, a read timeout, a
refused connection. During each fault every route that reads the store must answer
503 with `Retry-After` well within the function timeout, never 500 and never hang;
once the fault clears, every listing must again hold every item seeded before it.
For the outage the store process itself is stopped and started again from its data
folder, so "nothing missing" covers what was on disk, not only what was in memory.

A throttle short enough for boto3's retries to absorb must not reach clients at all.

Bounded by default (each fault once); `DRAHT_LONG=1` (`make fuzz-long`) repeats
the whole cycle of faults.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import pytest
from dev_process import DevProcess, unthrottled
from fault_store import THROTTLING_ERRORS, FaultyStore
from traffic import Answer, Connection, Dataset, seed

from draht.local.store import Dynalite, dynamodb_client
from draht.settings import local_settings

LONG = os.environ.get("DRAHT_LONG") == "1"
CYCLES = 3 if LONG else 1
FUNCTION_TIMEOUT_S = local_settings().timeout_s
STALL_S = 4 * FUNCTION_TIMEOUT_S
"""Long past every client timeout; held connections are let go as soon as the fault heals."""


@dataclass
class Rig:
    store: Dynalite
    proxy: FaultyStore
    server: DevProcess
    dataset: Dataset = field(default_factory=lambda: Dataset((), {}))
    busy_client: str = ""
    cursor: str = ""
    """A cursor issued before any fault: it must stay valid through one."""


def _list_all(connection: Connection, path: str, query: dict[str, str], key: str) -> list[str]:
    identifier = "sessionId" if key == "sessions" else "clientId"
    seen: list[str] = []
    cursor: str | None = None
    for _ in range(1000):
        page_query = {**query, "limit": "7"} | ({"cursor": cursor} if cursor else {})
        status, _, body = connection.get(path, page_query)
        assert status == 200, f"GET {path} {page_query}: {status} {body}"
        seen.extend(item[identifier] for item in body[key])
        cursor = body["nextCursor"]
        if cursor is None:
            return seen
    raise AssertionError(f"GET {path} {query} never reached its last page")


def _assert_nothing_missing(rig: Rig) -> None:
    connection = Connection(rig.server.url)
    try:
        assert sorted(_list_all(connection, "/clients", {}, "clients")) == sorted(
            rig.dataset.client_ids
        )
        for client_id, session_ids in rig.dataset.session_ids.items():
            listed = _list_all(connection, "/sessions", {"clientId": client_id}, "sessions")
            assert listed == list(session_ids), client_id
    finally:
        connection.close()


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    store = Dynalite(tmp_path_factory.mktemp("fault-store")).start()
    proxy = FaultyStore(store.endpoint).start()
    data_dir = tmp_path_factory.mktemp("fault-dev")
    rig: Rig | None = None
    try:
        with DevProcess(
            [
                "--data-dir",
                str(data_dir),
                "--dynamodb-endpoint",
                proxy.endpoint,
                *unthrottled(data_dir),
            ]
        ) as server:
            rig = Rig(store, proxy, server)
            rig.dataset = seed(dynamodb_client(store.endpoint), client_count=32)
            sessions = rig.dataset.session_ids
            rig.busy_client = max(sessions, key=lambda client_id: len(sessions[client_id]))
            _, (_, _, first_page) = _timed_get(
                server.url, "/sessions", {"clientId": rig.busy_client, "limit": "5"}
            )
            rig.cursor = first_page["nextCursor"]
            _assert_nothing_missing(rig)
            yield rig
    finally:
        proxy.stop()
        # The outage test replaces the store process; stop whichever one runs now.
        (store if rig is None else rig.store).stop()


def _throttle_with(error_type: str) -> Callable[[Rig], None]:
    def start(rig: Rig) -> None:
        rig.proxy.throttle(error_type)

    return start


def _stall(rig: Rig) -> None:
    rig.proxy.stall(STALL_S)


def _take_down(rig: Rig) -> None:
    rig.proxy.refuse()
    rig.store.stop()


def _heal(rig: Rig) -> None:
    rig.proxy.heal()


def _bring_back(rig: Rig) -> None:
    rig.store = Dynalite(rig.store.data_dir).start()
    rig.proxy.heal(upstream=rig.store.endpoint)


FAULTS: dict[str, tuple[Callable[[Rig], None], Callable[[Rig], None]]] = {
    "ProvisionedThroughputExceededException": (
        _throttle_with("ProvisionedThroughputExceededException"),
        _heal,
    ),
    "ThrottlingException": (_throttle_with("ThrottlingException"), _heal),
    "store slower than the client read timeout": (_stall, _heal),
    "store stopped": (_take_down, _bring_back),
}


def _store_reads(rig: Rig) -> dict[str, tuple[str, dict[str, str]]]:
    return {
        "deep health": ("/health", {"deep": "true"}),
        "clients": ("/clients", {}),
        "sessions": ("/sessions", {"clientId": rig.busy_client}),
        "sessions after a cursor": (
            "/sessions",
            {"clientId": rig.busy_client, "limit": "5", "cursor": rig.cursor},
        ),
    }


def _timed_get(url: str, path: str, query: dict[str, str]) -> tuple[float, Answer]:
    connection = Connection(url, timeout_s=4 * FUNCTION_TIMEOUT_S)
    started = time.monotonic()
    try:
        answer = connection.get(path, query)
    finally:
        connection.close()
    return time.monotonic() - started, answer


def _assert_unavailable(name: str, elapsed_s: float, answer: Answer) -> None:
    status, headers, body = answer
    assert status == 503, f"{name}: {status} {body}"
    assert elapsed_s < FUNCTION_TIMEOUT_S, f"{name} took {elapsed_s:.1f} s"
    assert headers["retry-after"].isdigit(), f"{name}: Retry-After {headers.get('retry-after')}"
    if name == "deep health":
        # Health reports which table failed rather than a problem: its documented 503 body.
        assert headers["content-type"] == "application/json"
        assert body["status"] == "degraded"
        assert set(body["checks"]) == {"Sessions", "Clients"}
    else:
        assert headers["content-type"] == "application/problem+json"
        assert body["status"] == 503 and body["title"] and body["detail"] and body["requestId"]


@pytest.mark.parametrize("fault", list(FAULTS))
def test_every_store_read_answers_503_in_time_then_recovers_with_nothing_missing(
    rig: Rig, fault: str
) -> None:
    start_fault, clear_fault = FAULTS[fault]
    for _ in range(CYCLES):
        start_fault(rig)
        try:
            reads = _store_reads(rig)
            with ThreadPoolExecutor(len(reads)) as pool:
                answers: dict[str, Any] = {
                    name: pool.submit(_timed_get, rig.server.url, path, query)
                    for name, (path, query) in reads.items()
                }
                # Liveness does not read the store, so a struggling store must not fail it.
                _, (health_status, _, _) = _timed_get(rig.server.url, "/health", {})
            for name, future in answers.items():
                _assert_unavailable(name, *future.result())
            assert health_status == 200
        finally:
            clear_fault(rig)
        _assert_nothing_missing(rig)


@pytest.mark.parametrize("error_type", THROTTLING_ERRORS)
def test_a_throttle_that_clears_within_the_retries_goes_unnoticed(
    rig: Rig, error_type: str
) -> None:
    try:
        for name, (path, query) in _store_reads(rig).items():
            rig.proxy.throttle(error_type, requests=1)
            _, (status, _, body) = _timed_get(rig.server.url, path, query)
            assert status == 200, f"{name}: {status} {body}"
    finally:
        rig.proxy.heal()


def test_the_fault_rig_reaches_the_store_only_through_the_proxy(rig: Rig) -> None:
    before = rig.proxy.requests_seen
    _timed_get(rig.server.url, "/clients", {})
    assert rig.proxy.requests_seen > before
