"""What one page costs as the tables grow: DynamoDB capacity and latency at 1k, 10k, 100k items.

The handlers run in this process against dynalite, loaded as the handler tests load them, and
a hook on their own clients records what each of their real calls consumed.
"""

from __future__ import annotations

import concurrent.futures
import json
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from documented_events import LambdaContext, api_event
from dynamo_calls import CallRecorder
from handler_env import create_tables, loaded_handlers

from bench.report import Section, Target, ms
from bench.stats import summary_ms, timed
from draht.app import app
from draht.layout import client_item, session_item, wire
from draht.local.store import Dynalite, batch_write, dynamodb_client

SIZES = (1_000, 10_000, 100_000)
MEASURED_CLIENT = "client-000"
"""Holds half of all sessions, so its own partition grows with the table too."""
PAGE_LIMIT = 25
DEEP_PAGE = 11
"""Reached by following cursors: continuing a listing must cost no more than starting it."""
ROUTES = {"GET /sessions": {"clientId": MEASURED_CLIENT}, "GET /clients": {}}
# Without the key layout, one client's sessions newest first need every item of the table.
SCAN = "Baseline: full Scan of Sessions"


def _session(index: int) -> dict[str, Any]:
    client_id = MEASURED_CLIENT if index % 2 == 0 else f"client-{1 + index % 9:03d}"
    # Spread over ~3 years, one session every 15 minutes or so, unique per index.
    started_at = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(1_640_995_200 + index * 937))
    attributes = {"durationS": 60 + index % 3600, "bytesSent": 1000 + index * 7 % 100_000}
    device = ("ios", "android", "web")[index % 3]
    started_at += f".{index % 1000:03d}Z"
    return session_item(client_id, started_at, f"sess-{index:07d}", device=device, **attributes)


def _client(index: int) -> dict[str, Any]:
    created_at = f"2024-01-01T00:00:00.{index % 1000:03d}Z"
    plan = ("free", "team", "enterprise")[index % 3]
    return client_item(f"client-{index:07d}", f"Client {index}", created_at, plan=plan)


def _fill(client: Any, table: str, make: Callable[[int], dict[str, Any]], indexes: range) -> None:
    def write(share: range) -> None:
        batch_write(client, table, [{"PutRequest": {"Item": wire(make(i))}} for i in share])

    # Eight writers, each with every eighth item: 100,000 items load in seconds, not minutes.
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        list(pool.map(write, (indexes[start::8] for start in range(8))))


def _walk(handler: Any, route: str, recorder: CallRecorder) -> list[tuple[float, float, int]]:
    """One listing followed to DEEP_PAGE: each page's latency, capacity units and items read."""
    pages: list[tuple[float, float, int]] = []
    cursor: dict[str, str] = {}
    for number in range(1, DEEP_PAGE + 1):
        event = api_event(route, {**ROUTES[route], "limit": str(PAGE_LIMIT), **cursor})
        recorder.calls.clear()
        elapsed, response = timed(partial(handler, event, LambdaContext()))
        cursor = {"cursor": json.loads(response["body"]).get("nextCursor")}
        if response["statusCode"] != 200 or not cursor["cursor"]:
            raise RuntimeError(f"{route} page {number} answered {response}")
        capacity = sum(call.capacity_units for call in recorder.calls)
        pages.append((elapsed, capacity, sum(call.items_read for call in recorder.calls)))
    return pages


def _series(handlers: Any, recorder: CallRecorder, repeats: int) -> dict[str, dict[str, Any]]:
    """Page 1 and page DEEP_PAGE of each route, over `repeats` walks."""
    series = {}
    for route in ROUTES:
        handler = getattr(handlers, route.split("/")[1]).handler
        walks = [_walk(handler, route, recorder) for _ in range(repeats)]
        for number in (1, DEEP_PAGE):
            elapsed, capacity, items = zip(*(walk[number - 1] for walk in walks), strict=True)
            page = {"capacity_units": capacity[0], "items_read": items[0], **summary_ms(elapsed)}
            series[f"{route} page {number}"] = page
    return series


def _full_scan(client: Any, table: str) -> dict[str, Any]:
    scan = client.get_paginator("scan").paginate(TableName=table, ReturnConsumedCapacity="TOTAL")
    elapsed, pages = timed(lambda: list(scan))
    return {
        "capacity_units": sum(page["ConsumedCapacity"]["CapacityUnits"] for page in pages),
        "items_read": sum(page["ScannedCount"] for page in pages),
        "median_ms": round(elapsed * 1000, 1),
    }


def _ask_for_capacity(params: dict[str, Any], **_: Any) -> None:
    params["ReturnConsumedCapacity"] = "TOTAL"


def measure(sizes: tuple[int, ...] = SIZES, repeats: int = 15) -> dict[str, Any]:
    levels = []
    recorder = CallRecorder()
    with Dynalite() as store:
        client = dynamodb_client(store.endpoint)
        tables = create_tables(store.endpoint, app.name)
        with loaded_handlers(store.endpoint, tables) as handlers:
            for events in (
                module.dynamodb.meta.events for module in (handlers.sessions, handlers.clients)
            ):
                events.register("provide-client-params.dynamodb", _ask_for_capacity)
                recorder.attach(events)
            for loaded, size in zip((0, *sizes), sizes, strict=False):
                _fill(client, tables["Sessions"], _session, range(loaded, size))
                _fill(client, tables["Clients"], _client, range(loaded, size))
                series = _series(handlers, recorder, repeats)
                series[SCAN] = _full_scan(client, tables["Sessions"])
                levels.append({"items_per_table": size, "series": series})
    return {"page_limit": PAGE_LIMIT, "measured_client": MEASURED_CLIENT, "levels": levels}


def _flat(cost: dict[str, Any]) -> bool:
    """The structural fact behind a flat cost: a page reads the same items at every size."""
    levels = [level["series"] for level in cost["levels"]]
    pages = [name for name in levels[0] if name != SCAN]
    return all(len({series[name]["items_read"] for series in levels}) == 1 for name in pages)


def _cell(page: dict[str, Any]) -> str:
    return f"{page['capacity_units']:g} RCU, {page['items_read']:,} items, {ms(page['median_ms'])}"


def section(cost: dict[str, Any]) -> Section:
    first, last, flat = cost["levels"][0], cost["levels"][-1], _flat(cost)
    growth = {
        name: last["series"][name]["capacity_units"] / f["capacity_units"]
        for name, f in first["series"].items()
    }
    scan_growth = growth.pop(SCAN)
    target = Target(
        f"Page cost flat from {first['items_per_table']:,} to {last['items_per_table']:,} items",
        f"capacity x{max(growth.values()):.3g} per page (full Scan baseline x{scan_growth:.3f})",
        flat,
        "a page reads more items as the tables grow.",
    )
    return Section(
        "Cost as data grows",
        f"Both tables filled to each size (half of all sessions belong to"
        f" `{cost['measured_client']}`, so its partition grows too). The handlers run in-process"
        " against dynalite; a hook on boto3 asks each of their DynamoDB calls for"
        " `ReturnConsumedCapacity` and records what dynalite reports. Pages of"
        f" {cost['page_limit']}; page {DEEP_PAGE} is reached by following cursors. Baseline:"
        " what the sessions page would cost without the key layout, a Scan of the whole table."
        "\n\n![Read capacity and latency per page against table size](bench/cost.png)",
        ["Items per table", *first["series"]],
        [
            [f"{level['items_per_table']:,}", *map(_cell, level["series"].values())]
            for level in cost["levels"]
        ],
        [
            "Items read per page stay at the page size plus one (the look-ahead that keeps the last"
            " page from carrying a cursor) at every size."
        ]
        if flat
        else [],
        [target],
    )


def plot(cost: dict[str, Any], path: Path) -> None:
    """Capacity and latency of each page against table size, beside the full Scan's."""
    import matplotlib

    matplotlib.use("Agg")  # headless: no display on CI or build machines
    import matplotlib.pyplot as plt  # after choosing the backend, which pyplot reads on import

    sizes = [level["items_per_table"] for level in cost["levels"]]
    figure, panels = plt.subplots(1, 2, figsize=(11, 4.2))
    for axes, metric in zip(panels, ("capacity_units", "median_ms"), strict=True):
        for name in cost["levels"][0]["series"]:
            values = [level["series"][name][metric] for level in cost["levels"]]
            style = "s--" if name == SCAN else "o-" if name.endswith(" page 1") else "o:"
            axes.plot(sizes, values, style, label=name)
        axes.set(xscale="log", yscale="log", xlabel="items in each table")
        axes.set_xticks(sizes, [f"{size:,}" for size in sizes])
        axes.grid(True, which="major", alpha=0.3)
    panels[0].set(title="DynamoDB read capacity per page", ylabel="read capacity units (dynalite)")
    panels[1].set(title="Median latency per page", ylabel="milliseconds")
    panels[0].legend(fontsize=8, loc="upper left")
    verdict = "the same" if _flat(cost) else "more"
    figure.suptitle(f"A page of {cost['page_limit']} items costs {verdict} as the tables grow")
    figure.tight_layout()
    # Fixed metadata keeps the committed PNG byte-stable when the figures do not change.
    figure.savefig(path, dpi=110, metadata={"Software": None})
    plt.close(figure)
