"""The write routes: latency through `draht dev`, and what each operation costs DynamoDB.

Latency: every create, read, merge patch and delete of a client and of a session, end
to end through `draht dev` on one kept-alive connection (as a CLI talks to the API),
beside the baseline of the same single-item operation sent by boto3 straight to the
same store (PutItem, GetItem, UpdateItem, DeleteItem): the difference is what the
API adds (HTTP, routing, the worker, validation, the conditions that make a write
exact).

Capacity: the handlers run in this process against a real dynalite, and a hook on
boto3's default session asks each of their DynamoDB calls for its consumed capacity
(ReturnConsumedCapacity=INDEXES). Beside it stands the least DynamoDB charges for that
operation on an item of that size, from its documented units
(https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/provisioned-capacity-mode.html,
"Read capacity units" and "Write capacity units"; item sizes as in
https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html):
a strongly consistent read of up to 4 KB is one read unit, a write of up to 1 KB is
one write unit, and an item in a local secondary index costs one more write of its
size whenever the table write changes it
(https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/LSI.html,
"Provisioned throughput considerations for Local Secondary Indexes").

    python -m bench.writes     # prints JSON (from the project root, tests/ on sys.path)
"""

from __future__ import annotations

import json
import math
import tempfile
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from dev_process import DevProcess, unthrottled
from dynamo_calls import CallRecorder
from handler_env import create_tables, loaded_handlers
from traffic import Connection

from bench.report import Section, ms
from bench.stats import summary_ms
from draht.app import app, clients, sessions
from draht.local.store import (
    Dynalite,
    dynamodb_client,
    local_table_name,
)

ROUNDS = 300
MERGE_PATCH = {"Content-Type": "application/merge-patch+json"}
READ_UNIT_BYTES = 4096
WRITE_UNIT_BYTES = 1024

CLIENT_BODY = {
    "name": "Acme Consulting GmbH",
    "contactName": "Jane Doe",
    "email": "billing@acme.example",
    "address": "Hauptstrasse 1\n10115 Berlin",
    "country": "DE",
    "currency": "EUR",
    "hourlyRate": "95.00",
    "paymentTermsDays": 30,
}
SESSION_BODY = {
    "title": "Refactor the invoice export",
    "model": "claude-sonnet-4-5",
    "startedAt": "2026-03-02T09:00:00Z",
    "billable": True,
    "notes": "Pairing with the agent on the CSV export.",
}
SESSION_END = {
    "endedAt": "2026-03-02T10:30:00Z",
    "inputTokens": 182_000,
    "outputTokens": 41_000,
    "cost": "1.2510",
    "currency": "EUR",
    "summary": "Export rewritten; tests added.",
}


def _crud_requests(n: int) -> list[tuple[str, str, str, dict[str, Any]]]:
    """(operation, method, path, request arguments) of one round over a client and a session."""
    client_id = f"bench-client-{n:05d}"
    session = f"/sessions/s-{n:05d}?clientId={quote(client_id)}"
    return [
        ("create client", "POST", "/clients", {"body": {"clientId": client_id, **CLIENT_BODY}}),
        ("read client", "GET", f"/clients/{client_id}", {}),
        (
            "patch client",
            "PATCH",
            f"/clients/{client_id}",
            {"body": {"paymentTermsDays": 14}, "headers": MERGE_PATCH},
        ),
        (
            "create session",
            "POST",
            "/sessions",
            {"body": {"clientId": client_id, "sessionId": f"s-{n:05d}", **SESSION_BODY}},
        ),
        ("read session", "GET", session, {}),
        ("patch session", "PATCH", session, {"body": SESSION_END, "headers": MERGE_PATCH}),
        ("delete session", "DELETE", session, {}),
        ("delete client", "DELETE", f"/clients/{client_id}", {}),
    ]


def _through_draht_dev(rounds: int) -> dict[str, Any]:
    latencies: dict[str, list[float]] = {}
    with (
        tempfile.TemporaryDirectory(prefix="bench-writes-") as data_dir,
        DevProcess(["--data-dir", data_dir, *unthrottled(data_dir)]) as server,
    ):
        connection = Connection(server.url)
        try:
            # Warm: each function's worker has imported its handler.
            for _, method, path, kwargs in _crud_requests(rounds):
                connection.request(method, path, **kwargs)
            for n in range(rounds):
                for operation, method, path, kwargs in _crud_requests(n):
                    started = time.perf_counter()
                    status, _, body = connection.request(method, path, **kwargs)
                    latencies.setdefault(operation, []).append(time.perf_counter() - started)
                    if status not in (200, 201, 204):
                        raise RuntimeError(f"{operation}: {status} {body}")
            baseline = _store_baseline(dynamodb_client(server.store_endpoint), rounds)
        finally:
            connection.close()
    return {
        "rounds": rounds,
        "operations": {operation: summary_ms(values) for operation, values in latencies.items()},
        "store_baseline": baseline,
    }


def _store_baseline(store: Any, rounds: int) -> dict[str, Any]:
    """The same single-item operations sent by boto3 straight to the store: the floor."""
    table = local_table_name(app.name, clients)
    latencies: dict[str, list[float]] = {}

    def timed(name: str, call: Callable[..., Any], **arguments: Any) -> None:
        started = time.perf_counter()
        call(TableName=table, **arguments)
        latencies.setdefault(name, []).append(time.perf_counter() - started)

    for n in range(rounds):
        key = {"clientId": {"S": f"baseline-{n:05d}"}}
        item = {**key, **{name: {"S": str(value)} for name, value in CLIENT_BODY.items()}}
        timed("PutItem", store.put_item, Item=item)
        timed("GetItem", store.get_item, Key=key, ConsistentRead=True)
        timed(
            "UpdateItem",
            store.update_item,
            Key=key,
            UpdateExpression="SET paymentTermsDays = :days",
            ExpressionAttributeValues={":days": {"N": "14"}},
        )
        timed("DeleteItem", store.delete_item, Key=key)
    return {name: summary_ms(values) for name, values in latencies.items()}


def item_size_bytes(item: dict[str, Any]) -> int:
    """An item's size as DynamoDB counts it: each attribute's name plus its value."""
    return sum(len(name.encode()) + _value_size(value) for name, value in item.items())


def _value_size(value: dict[str, Any]) -> int:
    (kind, content), *_ = value.items()
    if kind == "S":
        return len(content.encode())
    if kind == "N":
        digits = content.lstrip("-").replace(".", "").strip("0") or "0"
        return math.ceil(len(digits) / 2) + 1
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "M":
        return 3 + sum(1 + len(k.encode()) + _value_size(v) for k, v in content.items())
    if kind == "L":
        return 3 + sum(1 + _value_size(v) for v in content)
    if kind == "B":
        return len(content)
    raise ValueError(f"no size rule here for {kind} values")


def _ask_for_capacity(params: dict[str, Any], **_: Any) -> None:
    params["ReturnConsumedCapacity"] = "INDEXES"


def _capacity() -> dict[str, Any]:
    with Dynalite() as store:
        store_client = dynamodb_client(store.endpoint)
        tables = create_tables(store.endpoint, app.name)
        with loaded_handlers(store.endpoint, tables) as handlers:
            recorder = CallRecorder()
            for client in (handlers.sessions.dynamodb, handlers.clients.dynamodb):
                client.meta.events.register("provide-client-params.dynamodb", _ask_for_capacity)
                recorder.attach(client.meta.events)
            figures: dict[str, Any] = {}
            sizes: dict[str, int] = {}
            for operation, method, path, kwargs in _crud_requests(0):
                route_key, path_parameters, query = _route_of(method, path)
                recorder.calls.clear()
                reply = handlers.call(
                    route_key, query, path=path_parameters, json_body=kwargs.get("body")
                )
                if reply.status not in (200, 201, 204):
                    raise RuntimeError(f"{operation}: {reply}")
                kind = operation.split()[1]
                # A deleted item is measured as it was last written.
                size = sizes[kind] if "delete" in operation else _stored_size(store_client, kind)
                sizes[kind] = size
                consumed = sum(call.capacity_units for call in recorder.calls)
                minimum = _minimum_charge(operation, size)
                figures[operation] = {
                    "store_calls": recorder.operations,
                    "capacity_units": consumed,
                    "bytes": size,
                    "minimum_units": minimum,
                    "over_minimum": round(consumed / minimum, 3),
                }
            return figures


def _stored_size(store_client: Any, kind: str) -> int:
    table = local_table_name(app.name, clients if kind == "client" else sessions)
    items = store_client.scan(TableName=table, ConsistentRead=True)["Items"]
    return max(item_size_bytes(item) for item in items)


def _minimum_charge(operation: str, size: int) -> float:
    verb, kind = operation.split()
    if verb == "read":
        return float(math.ceil(size / READ_UNIT_BYTES))
    writes = math.ceil(size / WRITE_UNIT_BYTES)
    # A session is also in the bySessionId local index, written with each table write.
    return float(writes * (2 if kind == "session" else 1))


def _route_of(method: str, path: str) -> tuple[str, dict[str, str], dict[str, str]]:
    target, _, query_string = path.partition("?")
    query = dict(part.split("=", 1) for part in query_string.split("&")) if query_string else {}
    parts = target.strip("/").split("/")
    if len(parts) == 1:
        return f"{method} /{parts[0]}", {}, query
    name = "clientId" if parts[0] == "clients" else "sessionId"
    return f"{method} /{parts[0]}/{{{name}}}", {name: parts[1]}, query


def measure(rounds: int = ROUNDS) -> dict[str, Any]:
    return {"latency": _through_draht_dev(rounds), "capacity": _capacity()}


# The store operation each API operation is measured beside.
_STORE_OPERATION = {
    "create": "PutItem",
    "read": "GetItem",
    "patch": "UpdateItem",
    "delete": "DeleteItem",
}


def section(writes: dict[str, Any]) -> Section:
    latency, capacity = writes["latency"], writes["capacity"]
    rows = []
    for operation, f in latency["operations"].items():
        store_operation = _STORE_OPERATION[operation.split()[0]]
        floor = latency["store_baseline"][store_operation]
        units = capacity[operation]
        rows.append(
            [
                operation,
                ms(f["median_ms"]),
                ms(f["p99_ms"]),
                f"{store_operation} {ms(floor['median_ms'])} (p99 {ms(floor['p99_ms'])})",
                ", ".join(units["store_calls"]),
                f"{units['capacity_units']:g}",
                f"{units['minimum_units']:g} ({units['bytes']:,} B item)",
            ]
        )
    return Section(
        "Create, read, patch and delete",
        f"{latency['rounds']} rounds (bench/writes.py), each creating, reading, patching and"
        " deleting a client and one of its sessions through `draht dev` on one kept-alive"
        " connection. Baseline: the same single-item operation sent by boto3 straight to the"
        " same dynalite, in the same run. Capacity: each handler's own DynamoDB calls, asked"
        " for `ReturnConsumedCapacity` by a boto3 hook, as dynalite reports them, beside the"
        " least DynamoDB charges for that operation on an item of that size (a strongly"
        " consistent read per 4 KB, a write per 1 KB, and for a session one more write of its"
        " local index `bySessionId`).",
        [
            "Operation",
            "Median",
            "p99",
            "Store alone: median (p99)",
            "Store calls",
            "Capacity consumed",
            "Least charge",
        ],
        rows,
        [
            "What is above the least charge pays for exactness: the If-Match read before a"
            " patch, a session create's claim on its client and its release, and a client"
            " delete's mark and its check for sessions."
        ],
    )


if __name__ == "__main__":
    print(json.dumps(measure(rounds=50), indent=2))
