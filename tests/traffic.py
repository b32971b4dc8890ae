"""A known data set, and concurrent clients that page through it over HTTP and check every item.

Shared by the load test (bounded and long) and `make bench`, which reports the
same run's figures. Every request goes to 127.0.0.1 only, and each virtual client
stops after its request budget: the run is bounded in count whatever happens.
"""

from __future__ import annotations

import http.client
import json
import random
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

from signing import caller_for

from draht.app import app, clients, sessions
from draht.layout import client_item, session_item, wire
from draht.local.caller import Caller
from draht.local.store import batch_write, local_table_name

# Session counts per client: empty, single, exact multiples of common limits and
# of the maximum limit, one past them, and a long tail.
SESSION_COUNTS = (0, 1, 2, 24, 25, 26, 99, 100, 101, 200, 250, 7, 3, 50, 75, 13)


@dataclass(frozen=True)
class Dataset:
    client_ids: tuple[str, ...]
    session_ids: dict[str, tuple[str, ...]]
    """Per client, its session ids newest first: the order the API must return them in."""

    @property
    def session_count(self) -> int:
        return sum(len(ids) for ids in self.session_ids.values())


def seed(store_client: Any, client_count: int = 120) -> Dataset:
    """Write a data set that follows the data layout; return what the API must list."""
    client_ids = tuple(f"load-client-{index:04d}" for index in range(client_count))
    client_items = [
        wire(
            client_item(
                client_id,
                f"Client {index}",
                f"2024-02-{1 + index % 28:02d}T08:00:00.000Z",
                tier=index % 4,
            )
        )
        for index, client_id in enumerate(client_ids)
    ]
    session_items = []
    session_ids: dict[str, tuple[str, ...]] = {}
    for index, client_id in enumerate(client_ids):
        count = SESSION_COUNTS[index % len(SESSION_COUNTS)]
        newest_first = []
        for number in reversed(range(count)):
            # Same second for neighbours: the session id must break the tie in the sort key.
            started_at = f"2025-03-{1 + number // 20 % 28:02d}T10:{number % 60:02d}:00.000Z"
            session_id = f"{client_id}-s{number:04d}"
            newest_first.append((started_at, session_id))
            session_items.append(
                wire(session_item(client_id, started_at, session_id, durationS=30 + number))
            )
        newest_first.sort(reverse=True)
        session_ids[client_id] = tuple(session_id for _, session_id in newest_first)
    for table, items in ((clients, client_items), (sessions, session_items)):
        batch_write(
            store_client,
            local_table_name(app.name, table),
            [{"PutRequest": {"Item": item}} for item in items],
        )
    return Dataset(client_ids=client_ids, session_ids=session_ids)


Answer = tuple[int, dict[str, str], Any]
"""Status, lower-cased headers, and the JSON body (None when empty)."""


class Connection:
    """One keep-alive HTTP/1.1 connection to the local API, reopened when the server closes it.

    Requests are signed as the server's auth wants (`caller_for`); `caller` overrides that.
    """

    def __init__(
        self, base_url: str, timeout_s: float = 30.0, caller: Caller | None = None
    ) -> None:
        parts = urlsplit(base_url)
        if parts.hostname != "127.0.0.1":
            raise ValueError(f"traffic goes to 127.0.0.1 only, not {parts.hostname}")
        self._base_url = f"http://{parts.netloc}"
        self._host = parts.hostname
        self._port = parts.port or 80
        self._timeout_s = timeout_s
        self._caller = caller or caller_for(self._base_url)
        self._connection: http.client.HTTPConnection | None = None

    def get(self, path: str, query: dict[str, str] | None = None) -> Answer:
        return self.request("GET", path, query)

    def request(
        self,
        method: str,
        path: str,
        query: dict[str, str] | None = None,
        body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> Answer:
        """One request; a `body` goes as JSON, with Content-Type application/json by default."""
        target = f"{path}?{urlencode(query)}" if query else path
        sent_headers = dict(headers or {})
        payload_out = None
        if body is not None:
            payload_out = json.dumps(body).encode()
            sent_headers.setdefault("Content-Type", "application/json")
        for attempt in (1, 2):
            if self._connection is None:
                self._connection = http.client.HTTPConnection(
                    self._host, self._port, timeout=self._timeout_s
                )
            try:
                if self._caller is None:
                    self._connection.request(method, target, body=payload_out, headers=sent_headers)
                else:
                    sent, signed = self._caller.prepare(
                        method,
                        self._base_url + target,
                        list(sent_headers.items()),
                        payload_out or b"",
                    )
                    self._connection.request(method, sent, body=payload_out, headers=dict(signed))
                response = self._connection.getresponse()
                payload = response.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # A kept-alive connection the server had already closed; a fresh one is fair
                # (and a write is sent again safely: creates are idempotent by id, patches
                # and deletes carry an If-Match where it matters).
                self.close()
                if attempt == 2:
                    raise
                continue
            headers = {key.lower(): value for key, value in response.getheaders()}
            if response.getheader("connection", "").lower() == "close":
                self.close()
            body = json.loads(payload) if payload else None
            return response.status, headers, body
        raise AssertionError("unreachable: the second attempt returns or raises")

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def list_all(
    connection: Connection, path: str, query: dict[str, str], key: str, limit: int = 100
) -> list[dict[str, Any]]:
    """Every item of a listing, page by page through `nextCursor`; any other answer fails."""
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    for _ in range(100_000):
        page_query = {**query, "limit": str(limit)} | ({"cursor": cursor} if cursor else {})
        status, _, body = connection.get(path, page_query)
        assert status == 200, f"GET {path} {page_query}: {status} {body}"
        items.extend(body[key])
        cursor = body["nextCursor"]
        if cursor is None:
            return items
    raise AssertionError(f"GET {path} {query} never reached its last page")


@dataclass
class LoadReport:
    clients: int
    requests_per_client: int
    requests: int = 0
    seconds: float = 0.0
    latencies_s: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    listings_checked: Counter[str] = field(default_factory=Counter)
    items_checked: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def requests_per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


class _VirtualClient:
    def __init__(
        self, base_url: str, dataset: Dataset, budget: int, rng: random.Random, report: LoadReport
    ) -> None:
        self._connection = Connection(base_url)
        self._dataset = dataset
        self._budget = budget
        self._rng = rng
        self._report = report
        self.sent = 0

    def run(self) -> None:
        try:
            while self.sent < self._budget:
                roll = self._rng.random()
                if roll < 0.2:
                    self._health()
                elif roll < 0.5:
                    self._list_clients()
                else:
                    self._list_sessions(self._rng.choice(self._dataset.client_ids))
        except Exception as error:  # a transport failure ends this client, and is reported
            self._error(f"{type(error).__name__}: {error}")
        finally:
            self._connection.close()

    def _get(self, path: str, query: dict[str, str]) -> Answer:
        started = time.perf_counter()
        status, headers, body = self._connection.get(path, query)
        elapsed = time.perf_counter() - started
        self.sent += 1
        with self._report.lock:
            self._report.requests += 1
            self._report.latencies_s.append(elapsed)
            self._report.statuses[status] += 1
        return status, headers, body

    def _error(self, message: str) -> None:
        with self._report.lock:
            self._report.errors.append(message)

    def _health(self) -> None:
        status, _, body = self._get("/health", {})
        if status != 200 or body.get("status") != "ok":
            self._error(f"GET /health answered {status}: {body}")

    def _pages(self, path: str, query: dict[str, str], key: str) -> Iterator[list[dict[str, Any]]]:
        limit = str(self._rng.choice((1, 2, 7, 25, 50, 100)))
        cursor: str | None = None
        while True:
            page_query = {**query, "limit": limit}
            if cursor is not None:
                page_query["cursor"] = cursor
            status, _, body = self._get(path, page_query)
            if status != 200:
                self._error(f"GET {path} {page_query} answered {status}: {body}")
                return
            yield body[key]
            cursor = body["nextCursor"]
            if cursor is None:
                return

    def _list_clients(self) -> None:
        seen = [
            item["clientId"] for page in self._pages("/clients", {}, "clients") for item in page
        ]
        self._check("GET /clients", seen, sorted(self._dataset.client_ids), ordered=False)

    def _list_sessions(self, client_id: str) -> None:
        pages = self._pages("/sessions", {"clientId": client_id}, "sessions")
        seen = [item["sessionId"] for page in pages for item in page]
        expected = list(self._dataset.session_ids[client_id])
        self._check(f"GET /sessions?clientId={client_id}", seen, expected, ordered=True)

    def _check(self, listing: str, seen: list[str], expected: list[str], ordered: bool) -> None:
        duplicates = sorted(item for item, count in Counter(seen).items() if count > 1)
        missing = sorted(set(expected) - set(seen))
        unexpected = sorted(set(seen) - set(expected))
        if duplicates or missing or unexpected:
            self._error(
                f"{listing}: {len(duplicates)} duplicated, {len(missing)} missing,"
                f" {len(unexpected)} unexpected (e.g. {(duplicates + missing + unexpected)[:3]})"
            )
        elif ordered and seen != expected:
            self._error(f"{listing}: every item once, but not newest first")
        with self._report.lock:
            self._report.listings_checked[listing.split("?")[0]] += 1
            self._report.items_checked += len(seen)


def run_load(
    base_url: str,
    dataset: Dataset,
    clients: int = 8,
    requests_per_client: int = 2000,
    seed: int = 5,
) -> LoadReport:
    """`clients` threads, each sending about `requests_per_client` requests, mixed and checked.

    A listing in progress when the budget runs out is finished, so a client may send a
    few requests more than its budget; every one of them is counted.
    """
    report = LoadReport(clients=clients, requests_per_client=requests_per_client)
    virtual_clients = [
        _VirtualClient(base_url, dataset, requests_per_client, random.Random(seed + n), report)
        for n in range(clients)
    ]
    threads = [threading.Thread(target=client.run) for client in virtual_clients]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    report.seconds = time.perf_counter() - started
    return report


@dataclass
class WriteLoadReport:
    acknowledged: dict[str, set[str]]
    """Per client, the ids of the sessions whose create the API acknowledged (200 or 201)."""
    retries: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    listings_read: int = 0
    seconds: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)


def run_write_load(
    base_url: str,
    client_ids: tuple[str, ...],
    writers: int = 8,
    sessions_per_writer: int = 500,
    readers: int = 2,
    attempts: int = 8,
    seed: int = 11,
) -> WriteLoadReport:
    """`writers` threads create sessions of `client_ids` (spread over all of them, so the
    writers meet on every client), each retried with the same id as a client should: on
    503 after its Retry-After, on a lost connection at once. Meanwhile `readers` threads
    page through random clients' sessions, checking that no listing repeats an item,
    until the writers are done."""
    report = WriteLoadReport(acknowledged={client_id: set() for client_id in client_ids})
    writing_done = threading.Event()

    def write(number: int) -> None:
        connection = Connection(base_url)
        try:
            for index in range(sessions_per_writer):
                client_id = client_ids[(number + index) % len(client_ids)]
                session_id = f"load-w{number}-{index:04d}"
                body = {
                    "clientId": client_id,
                    "sessionId": session_id,
                    "startedAt": f"2026-02-{1 + index % 28:02d}T{number:02d}:00:00Z",
                    "inputTokens": index,
                }
                _create_with_retries(connection, body, attempts, report)
        except Exception as error:  # a writer that dies is reported, not hidden
            with report.lock:
                report.errors.append(f"writer {number}: {type(error).__name__}: {error}")
        finally:
            connection.close()

    def read(number: int) -> None:
        connection = Connection(base_url)
        rng = random.Random(seed + number)
        try:
            while not writing_done.is_set():
                client_id = rng.choice(client_ids)
                limit = rng.choice((1, 7, 25, 100))
                listed = list_all(
                    connection, "/sessions", {"clientId": client_id}, "sessions", limit
                )
                ids = [item["sessionId"] for item in listed]
                repeated = sorted(item for item, count in Counter(ids).items() if count > 1)
                foreign = sorted({item["clientId"] for item in listed} - {client_id})
                with report.lock:
                    report.listings_read += 1
                    if repeated or foreign:
                        report.errors.append(
                            f"listing of {client_id}: repeated {repeated[:3]}, foreign {foreign}"
                        )
        except Exception as error:
            with report.lock:
                report.errors.append(f"reader {number}: {type(error).__name__}: {error}")
        finally:
            connection.close()

    writer_threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    reader_threads = [threading.Thread(target=read, args=(n,)) for n in range(readers)]
    started = time.perf_counter()
    for thread in writer_threads + reader_threads:
        thread.start()
    for thread in writer_threads:
        thread.join()
    writing_done.set()
    for thread in reader_threads:
        thread.join()
    report.seconds = time.perf_counter() - started
    return report


def _create_with_retries(
    connection: Connection, body: dict[str, Any], attempts: int, report: WriteLoadReport
) -> None:
    for attempt in range(attempts):
        try:
            status, headers, answer = connection.request("POST", "/sessions", body=body)
        except OSError:
            # The answer may be lost after the session was written: the retry says which.
            connection.close()
            status, headers, answer = 0, {}, None
        with report.lock:
            report.statuses[status] += 1
        if status in (200, 201):
            with report.lock:
                report.acknowledged[body["clientId"]].add(body["sessionId"])
            return
        if status not in (0, 503):
            with report.lock:
                report.errors.append(f"create {body['sessionId']}: {status} {answer}")
            return
        with report.lock:
            report.retries += 1
        time.sleep(float(headers.get("retry-after", 0.05 * 2**attempt)))
    with report.lock:
        report.errors.append(f"create {body['sessionId']}: no success in {attempts} attempts")
