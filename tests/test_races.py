"""Races through `draht dev` on its local store: no orphan session, no lost update.

Each round sets requests off together (a barrier releases them at once) against the
running server, whose functions run up to 4 warm workers each, so the handlers really
overlap on the store. What the store holds afterwards is read from it directly, with
consistent reads, and held against what the API answered.

- A client is created and at once deleted while three writers create sessions of it.
  Whatever the interleaving, no session may exist without its client, every session
  the API acknowledged (200/201) is stored and nothing else is, and a delete the API
  acknowledged (204) left no session behind.
- Four writers PATCH one client with the same If-Match: exactly one wins (200), the
  others get 412, and the client holds the winner's change under the winner's ETag.

Bounded by default (50 rounds of each); `DRAHT_LONG=1` (`make fuzz-long`) runs
1,000 rounds of each.
"""

from __future__ import annotations

import os
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, TypeVar

import pytest
from dev_process import DevProcess, unthrottled
from traffic import Answer, Connection

from draht.app import app, clients, sessions
from draht.layout import partition_key
from draht.local.store import dynamodb_client, local_table_name

LONG = os.environ.get("DRAHT_LONG") == "1"
ROUNDS = 1000 if LONG else 50
SESSION_WRITERS = 3
SESSIONS_PER_WRITER = 3
PATCHERS = 4

T = TypeVar("T")


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevProcess]:
    folder = tmp_path_factory.mktemp("race-store")
    with DevProcess(["--data-dir", str(folder), *unthrottled(folder)]) as server:
        yield server


class Racers:
    """A pool of threads, each with its own kept-alive connection, started together per round."""

    def __init__(self, url: str, count: int) -> None:
        self.connections = [Connection(url) for _ in range(count)]
        self._pool = ThreadPoolExecutor(count)

    def race(self, work: Sequence[Callable[[Connection], T]]) -> list[T]:
        barrier = threading.Barrier(len(work))

        def run(index: int) -> T:
            barrier.wait(timeout=30)
            return work[index](self.connections[index])

        return list(self._pool.map(run, range(len(work))))

    def close(self) -> None:
        self._pool.shutdown()
        for connection in self.connections:
            connection.close()


def _stored_sessions(store: Any, client_id: str) -> set[str]:
    answer = store.query(
        TableName=local_table_name(app.name, sessions),
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": partition_key(client_id)}},
        ConsistentRead=True,
    )
    return {item["sessionId"]["S"] for item in answer["Items"]}


def _client_exists(store: Any, client_id: str) -> bool:
    answer = store.get_item(
        TableName=local_table_name(app.name, clients),
        Key={"clientId": {"S": client_id}},
        ConsistentRead=True,
    )
    return "Item" in answer


def test_no_session_outlives_its_client_under_concurrent_create_and_delete(
    live: DevProcess,
) -> None:
    store = dynamodb_client(live.store_endpoint)
    racers = Racers(live.url, 1 + SESSION_WRITERS)
    statuses: Counter[str] = Counter()
    try:
        for round_number in range(ROUNDS):
            client_id = f"race-{round_number:04d}"

            def lifecycle(connection: Connection, client_id: str = client_id) -> list[Answer]:
                created = connection.request(
                    "POST", "/clients", body={"clientId": client_id, "name": "Racing client"}
                )
                return [created, connection.request("DELETE", f"/clients/{client_id}")]

            def writer(
                connection: Connection, writer_number: int, client_id: str = client_id
            ) -> list[tuple[str, Answer]]:
                answers = []
                for number in range(SESSIONS_PER_WRITER):
                    session_id = f"w{writer_number}-s{number}"
                    body = {
                        "clientId": client_id,
                        "sessionId": session_id,
                        "startedAt": "2026-01-01T00:00:00Z",
                    }
                    answers.append((session_id, connection.request("POST", "/sessions", body=body)))
                return answers

            work: list[Callable[[Connection], Any]] = [lifecycle]
            work += [partial(writer, writer_number=n) for n in range(SESSION_WRITERS)]
            (created, deleted), *writes = racers.race(work)
            assert created[0] == 201, created
            statuses[f"DELETE {deleted[0]}"] += 1
            acknowledged = set()
            for session_id, (status, _, body) in (answer for per in writes for answer in per):
                statuses[f"POST /sessions {status}"] += 1
                # 422: not created yet or deleted already; 409: being deleted right now.
                assert status in (200, 201, 409, 422), (client_id, session_id, status, body)
                if status in (200, 201):
                    acknowledged.add(session_id)
            stored = _stored_sessions(store, client_id)
            exists = _client_exists(store, client_id)
            assert stored == acknowledged, (client_id, stored, acknowledged)
            assert exists or not stored, f"{client_id} was deleted but left {sorted(stored)}"
            assert deleted[0] in (204, 409), deleted
            assert (deleted[0] == 204) == (not exists), (client_id, deleted, exists)
    finally:
        racers.close()
    # Both outcomes happened, so the rounds really raced rather than running in one order.
    assert statuses["DELETE 204"] and statuses["DELETE 409"], statuses
    assert statuses["POST /sessions 201"] and statuses["POST /sessions 422"], statuses


def test_of_concurrent_patches_with_one_etag_exactly_one_wins(live: DevProcess) -> None:
    setup = Connection(live.url)
    client_id = "patched-by-many"
    status, _, _ = setup.request("POST", "/clients", body={"clientId": client_id, "name": "Many"})
    assert status == 201
    racers = Racers(live.url, PATCHERS)
    merge_patch = {"Content-Type": "application/merge-patch+json"}
    try:
        for round_number in range(ROUNDS):
            status, headers, before = setup.get(f"/clients/{client_id}")
            assert status == 200, before
            etag = headers["etag"]

            def patch(connection: Connection, notes: str, etag: str = etag) -> Answer:
                return connection.request(
                    "PATCH",
                    f"/clients/{client_id}",
                    body={"notes": notes},
                    headers={**merge_patch, "If-Match": etag},
                )

            work = [
                partial(patch, notes=f"round {round_number} writer {n}") for n in range(PATCHERS)
            ]
            answers = racers.race(work)
            winners = [answer for answer in answers if answer[0] == 200]
            assert len(winners) == 1, [answer[0] for answer in answers]
            assert sorted(answer[0] for answer in answers) == [200] + [412] * (PATCHERS - 1)
            (_, won_headers, won) = winners[0]
            status, headers, after = setup.get(f"/clients/{client_id}")
            assert after == won and headers["etag"] == won_headers["etag"] != etag
            assert after["version"] == before["version"] + 1
    finally:
        racers.close()
        setup.close()
