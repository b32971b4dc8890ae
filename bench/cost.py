"""What one page costs as the tables grow: DynamoDB capacity and latency at 1k, 10k, 100k items.

The handlers run in this process against a real dynalite, loaded as the handler
tests load them (tests/handler_env.py): their own client, their own Query or Scan.
A hook on those clients asks every DynamoDB call for its consumed capacity and
records the answer, so the figures are the handler's real calls, not a
reconstruction of them.

The baseline is what serving the same page without the key layout would cost: one
client's sessions newest-first from a table without `pk`/`sk` needs a Scan of the
whole table (every item read, then sorted in memory), which grows with the table.
"""

from __future__ import annotations

import concurrent.futures
import json
import time
from collections.abc import Callable, Iterator
from typing import Any

from documented_events import LambdaContext, api_event
from dynamo_calls import CallRecorder, DynamoCall
from handler_env import create_tables, loaded_handlers

from bench.stats import summary_ms
from draht.app import app
from draht.layout import client_item, session_item, wire
from draht.local.store import (
    BATCH_WRITE_LIMIT,
    Dynalite,
    batch_write,
    dynamodb_client,
)

SIZES = (1_000, 10_000, 100_000)
MEASURED_CLIENT = "client-000"
"""Holds half of all sessions, so its own partition grows with the table too."""
OTHER_CLIENTS = 9
PAGE_LIMIT = 25
DEEP_PAGE = 10
"""The deep page is reached by following this many cursors: continuing must cost no more."""

_WRITERS = 8


def _ask_for_capacity(params: dict[str, Any], **_: Any) -> None:
    params["ReturnConsumedCapacity"] = "TOTAL"


def _session_item(index: int) -> dict[str, Any]:
    client_id = MEASURED_CLIENT if index % 2 == 0 else f"client-{1 + index % OTHER_CLIENTS:03d}"
    # Spread over ~3 years, one session every 15 minutes or so, unique per index.
    started_at = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(1_640_995_200 + index * 937))
    started_at += f".{index % 1000:03d}Z"
    return wire(
        session_item(
            client_id,
            started_at,
            f"sess-{index:07d}",
            durationS=60 + index % 3600,
            device=("ios", "android", "web")[index % 3],
            bytesSent=1000 + index * 7 % 100_000,
        )
    )


def _client_item(index: int) -> dict[str, Any]:
    return wire(
        client_item(
            f"client-{index:07d}",
            f"Client {index}",
            f"2024-01-01T00:00:00.{index % 1000:03d}Z",
            plan=("free", "team", "enterprise")[index % 3],
        )
    )


def _write_all(
    client: Any, table_name: str, make: Callable[[int], dict[str, Any]], indexes: range
) -> None:
    def write_batch(start: int) -> None:
        requests = [
            {"PutRequest": {"Item": make(index)}}
            for index in range(start, min(start + BATCH_WRITE_LIMIT, indexes.stop))
        ]
        batch_write(client, table_name, requests)

    with concurrent.futures.ThreadPoolExecutor(_WRITERS) as pool:
        list(pool.map(write_batch, range(indexes.start, indexes.stop, BATCH_WRITE_LIMIT)))


def _pages(
    handler: Callable[[dict[str, Any], Any], dict[str, Any]],
    route_key: str,
    query: dict[str, str],
    recorder: CallRecorder,
) -> Iterator[tuple[float, list[DynamoCall], dict[str, Any]]]:
    """Each page of the listing in turn: its latency, the store calls it made, its body."""
    cursor: str | None = None
    while True:
        page_query = {**query, "limit": str(PAGE_LIMIT)}
        if cursor is not None:
            page_query["cursor"] = cursor
        recorder.calls.clear()
        started = time.perf_counter()
        response = handler(api_event(route_key, page_query), LambdaContext())
        elapsed = time.perf_counter() - started
        if response["statusCode"] != 200:
            raise RuntimeError(f"{route_key} answered {response['statusCode']}: {response}")
        body = json.loads(response["body"])
        yield elapsed, list(recorder.calls), body
        cursor = body["nextCursor"]
        if cursor is None:
            return


def _measure_page(
    handler: Callable[[dict[str, Any], Any], dict[str, Any]],
    route_key: str,
    query: dict[str, str],
    recorder: CallRecorder,
    repeats: int,
) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    for label, page_number in (("first_page", 1), ("deep_page", DEEP_PAGE + 1)):
        latencies: list[float] = []
        calls: list[DynamoCall] = []
        for _ in range(repeats):
            for number, (elapsed, page_calls, _body) in enumerate(
                _pages(handler, route_key, query, recorder), start=1
            ):
                if number == page_number:
                    latencies.append(elapsed)
                    calls = page_calls
                    break
        figures[label] = {
            **summary_ms(latencies),
            "capacity_units": sum(call.capacity_units for call in calls),
            "items_read": sum(call.items_read for call in calls),
            "store_calls": [call.operation for call in calls],
        }
    return figures


def _full_scan_baseline(store_client: Any, table_name: str) -> dict[str, Any]:
    """Every item of the table read once: the cost of a listing the key layout avoids."""
    units = 0.0
    items = 0
    started = time.perf_counter()
    request: dict[str, Any] = {"TableName": table_name, "ReturnConsumedCapacity": "TOTAL"}
    while True:
        answer = store_client.scan(**request)
        units += answer["ConsumedCapacity"]["CapacityUnits"]
        items += answer["ScannedCount"]
        if "LastEvaluatedKey" not in answer:
            break
        request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]
    return {
        "capacity_units": units,
        "items_read": items,
        "latency_ms": round((time.perf_counter() - started) * 1000, 1),
    }


def measure(sizes: tuple[int, ...] = SIZES, repeats: int = 15) -> dict[str, Any]:
    levels: list[dict[str, Any]] = []
    with Dynalite() as store:
        store_client = dynamodb_client(store.endpoint)
        tables = create_tables(store.endpoint, app.name)
        with loaded_handlers(store.endpoint, tables) as handlers:
            handler_clients = [handlers.sessions.dynamodb, handlers.clients.dynamodb]
            for client in handler_clients:
                client.meta.events.register("provide-client-params.dynamodb", _ask_for_capacity)
            recorder = CallRecorder()
            for client in handler_clients:
                recorder.attach(client.meta.events)
            loaded = 0
            for size in sizes:
                _write_all(store_client, tables["Sessions"], _session_item, range(loaded, size))
                _write_all(store_client, tables["Clients"], _client_item, range(loaded, size))
                loaded = size
                sessions_query = {"clientId": MEASURED_CLIENT}
                levels.append(
                    {
                        "items_per_table": size,
                        "sessions": _measure_page(
                            handlers.sessions.handler,
                            "GET /sessions",
                            sessions_query,
                            recorder,
                            repeats,
                        ),
                        "clients": _measure_page(
                            handlers.clients.handler, "GET /clients", {}, recorder, repeats
                        ),
                        "full_scan_baseline": {
                            "sessions": _full_scan_baseline(store_client, tables["Sessions"]),
                        },
                    }
                )
    pages = [(r, p) for r in ("sessions", "clients") for p in ("first_page", "deep_page")]
    first, last = levels[0], levels[-1]
    return {
        "page_limit": PAGE_LIMIT,
        "deep_page_number": DEEP_PAGE + 1,
        "measured_client": MEASURED_CLIENT,
        "levels": levels,
        "capacity_growth_largest_over_smallest": {
            f"{route} {page}": round(
                last[route][page]["capacity_units"] / first[route][page]["capacity_units"], 3
            )
            for route, page in pages
        },
        # The structural fact behind a flat cost: a page reads the same items at every size.
        "page_cost_constant": all(
            len({level[route][page]["items_read"] for level in levels}) == 1
            for route, page in pages
        ),
        "baseline_growth_largest_over_smallest": round(
            last["full_scan_baseline"]["sessions"]["capacity_units"]
            / first["full_scan_baseline"]["sessions"]["capacity_units"],
            3,
        ),
    }
