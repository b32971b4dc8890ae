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

Writes, on a rig of their own: when the store does a create but its answer is lost
(the proxy drops the connection after forwarding), the API answers 503 or, if boto3's
retry absorbed it, the item; the client's retry then gets the same item (200, same
body and ETag) and the store holds it once, even for a session whose start the API
chose. A write throttled on every write operation, or on only one kind of them, is a
503 with Retry-After that left every item as it was, and goes through once repeated.

Bounded by default (each fault once); `DRAHT_LONG=1` (`make fuzz-long`) repeats
the whole cycle of faults.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from dev_process import DevProcess, unthrottled
from fault_store import THROTTLING_ERRORS, FaultyStore
from traffic import Answer, Connection, Dataset, list_all, seed

from draht.app import app
from draht.app import clients as clients_table
from draht.app import sessions as sessions_table
from draht.layout import partition_key
from draht.local.store import Dynalite, dynamodb_client, local_table_name
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
    return [item[identifier] for item in list_all(connection, path, query, key, limit=7)]


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


@contextmanager
def _started_rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
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
            yield rig
    finally:
        proxy.stop()
        # The outage test replaces the store process; stop whichever one runs now.
        (store if rig is None else rig.store).stop()


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    with _started_rig(tmp_path_factory) as rig:
        rig.dataset = seed(dynamodb_client(rig.store.endpoint), client_count=32)
        sessions = rig.dataset.session_ids
        rig.busy_client = max(sessions, key=lambda client_id: len(sessions[client_id]))
        _, (_, _, first_page) = _timed_get(
            rig.server.url, "/sessions", {"clientId": rig.busy_client, "limit": "5"}
        )
        rig.cursor = first_page["nextCursor"]
        _assert_nothing_missing(rig)
        yield rig


@pytest.fixture(scope="module")
def write_rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    """A rig of its own: the writes below add items the read tests' listings must not see."""
    with _started_rig(tmp_path_factory) as rig:
        yield rig


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


# Writes under faults

WRITE_OPERATIONS = ("PutItem", "UpdateItem", "DeleteItem")
_MERGE_PATCH = {"Content-Type": "application/merge-patch+json"}


def _request(rig: Rig, method: str, path: str, **kwargs: Any) -> Answer:
    connection = Connection(rig.server.url, timeout_s=4 * FUNCTION_TIMEOUT_S)
    try:
        return connection.request(method, path, **kwargs)
    finally:
        connection.close()


def _new_client(rig: Rig, client_id: str) -> Answer:
    created = _request(rig, "POST", "/clients", body={"clientId": client_id, "name": client_id})
    assert created[0] == 201, created
    return created


def _stored_items(rig: Rig, client_id: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The client's items and its sessions' items, read from the store past the proxy."""
    store = dynamodb_client(rig.store.endpoint)
    client_items = store.query(
        TableName=local_table_name(app.name, clients_table),
        KeyConditionExpression="clientId = :id",
        ExpressionAttributeValues={":id": {"S": client_id}},
        ConsistentRead=True,
    )["Items"]
    session_items = store.query(
        TableName=local_table_name(app.name, sessions_table),
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": partition_key(client_id)}},
        ConsistentRead=True,
    )["Items"]
    return client_items, session_items


def _create(kind: str, rig: Rig, name: str) -> tuple[str, dict[str, Any], str]:
    """(path, body, item path) of a create; a session's start is left to the API."""
    if kind == "client":
        return "/clients", {"clientId": name, "name": "Lost answer Ltd"}, f"/clients/{name}"
    _new_client(rig, name)
    body = {"clientId": name, "sessionId": "lost-answer", "title": "Retried"}
    return "/sessions", body, f"/sessions/lost-answer?clientId={name}"


@pytest.mark.parametrize("dropped", ["every answer", "one answer"])
@pytest.mark.parametrize("kind", ["client", "session"])
def test_a_create_whose_answer_is_lost_is_stored_once_and_the_retry_returns_it(
    write_rig: Rig, kind: str, dropped: str
) -> None:
    rig = write_rig
    name = f"lost-{kind}-{dropped.split()[0]}"
    path, body, item_path = _create(kind, rig, name)
    rig.proxy.drop_answers(requests=1 if dropped == "one answer" else None, operations=("PutItem",))
    try:
        status, headers, first = _request(rig, "POST", path, body=body)
    finally:
        rig.proxy.heal()
    assert rig.proxy.answers_dropped > 0
    if dropped == "every answer":
        # Every attempt reached the store, and no answer came back: the API cannot know.
        assert status == 503 and headers["retry-after"].isdigit(), (status, first)
    else:
        # boto3's own retry meets the item its first attempt wrote.
        assert status in (200, 201), (status, first)
    retried_status, retried_headers, retried = _request(rig, "POST", path, body=body)
    assert retried_status == 200, retried
    assert {field: retried[field] for field in body} == body
    status, read_headers, read = _request(rig, "GET", item_path)
    assert status == 200 and read == retried and read_headers["etag"] == retried_headers["etag"]
    again = _request(rig, "POST", path, body=body)
    assert again[0] == 200 and again[2] == retried and again[1]["etag"] == retried_headers["etag"]
    client_items, session_items = _stored_items(rig, name)
    assert len(client_items) == 1
    assert len(session_items) == (1 if kind == "session" else 0)


def _write_routes_of(name: str) -> dict[str, tuple[str, str, dict[str, Any]]]:
    """Each write route's request on items that exist (or, for creates, do not yet)."""
    session = f"/sessions/kept?clientId={name}"
    return {
        "create client": ("POST", "/clients", {"body": {"clientId": f"{name}-new", "name": "N"}}),
        "patch client": (
            "PATCH",
            f"/clients/{name}",
            {"body": {"notes": "changed"}, "headers": _MERGE_PATCH},
        ),
        "delete client": ("DELETE", f"/clients/{name}-empty", {}),
        "create session": (
            "POST",
            "/sessions",
            {"body": {"clientId": name, "sessionId": "new", "startedAt": "2026-01-02T00:00:00Z"}},
        ),
        "patch session": (
            "PATCH",
            session,
            {"body": {"endedAt": "2026-01-01T01:00:00Z"}, "headers": _MERGE_PATCH},
        ),
        "delete session": ("DELETE", session, {}),
    }


# Attributes a write keeps on a client only while it runs (a session create's claim, a
# delete's mark), each with an expiry; handlers/clients.py keeps them out of every answer.
BOOKKEEPING = ("sessionClaims", "deletingUntil")


def _without_bookkeeping(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in item.items() if k not in BOOKKEEPING} for item in items]


@pytest.mark.parametrize("operations", [WRITE_OPERATIONS, ("PutItem",), ("UpdateItem",)])
@pytest.mark.parametrize("route", list(_write_routes_of("x")))
def test_a_throttled_write_is_a_503_with_retry_after_and_nothing_half_written(
    write_rig: Rig, route: str, operations: tuple[str, ...]
) -> None:
    rig = write_rig
    name = f"throttled-{route.replace(' ', '-')}-{'-'.join(operations)}".lower()
    _new_client(rig, name)
    _new_client(rig, f"{name}-empty")
    kept = {"clientId": name, "sessionId": "kept", "startedAt": "2026-01-01T00:00:00Z"}
    assert _request(rig, "POST", "/sessions", body=kept)[0] == 201
    touched = (name, f"{name}-empty", f"{name}-new")
    before = {client_id: _stored_items(rig, client_id) for client_id in touched}
    method, path, kwargs = _write_routes_of(name)[route]
    rig.proxy.throttle("ProvisionedThroughputExceededException", operations=operations)
    try:
        status, headers, body = _request(rig, method, path, **kwargs)
    finally:
        rig.proxy.heal()
    if operations == WRITE_OPERATIONS:
        # Every write route writes, so each meets a throttle on all writes.
        assert status == 503, (status, body)
    if status == 503:
        assert headers["retry-after"].isdigit()
        assert headers["content-type"] == "application/problem+json" and body["status"] == 503
        # Refused whole: every item as it was (a claim or delete mark aside, which expire).
        for client_id in touched:
            client_items, session_items = _stored_items(rig, client_id)
            assert session_items == before[client_id][1], client_id
            assert _without_bookkeeping(client_items) == _without_bookkeeping(
                before[client_id][0]
            ), client_id
        # Once the throttle is over, the same request goes through.
        status, _, body = _request(rig, method, path, **kwargs)
    assert status in (200, 201, 204), (status, body)
