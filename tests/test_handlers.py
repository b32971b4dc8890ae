"""The three routes against a real store (dynalite, or --dynamodb-endpoint), with real v2 events."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from documented_events import api_event
from dynamo_calls import CallRecorder
from handler_env import STAGE, Handlers, Reply, create_tables, loaded_handlers, put_items

from draht.app import app
from draht.layout import client_item, session_item, wire
from draht.local.store import Dynalite
from draht.package import HANDLERS_DIR

MANY = "client-many"
SESSIONS_OF_MANY = 30
CLIENT_COUNT = 12


def _session(client_id: str, started_at: str, session_id: str, **extra: Any) -> dict[str, Any]:
    return {**wire(session_item(client_id, started_at, session_id)), **extra}


def _client(client_id: str, **extra: Any) -> dict[str, Any]:
    return {**wire(client_item(client_id, f"Client {client_id}", "2026-01-02T03:04:05Z")), **extra}


EVERY_TYPE = {
    "count": {"N": "42"},
    "ratio": {"N": "1.5"},
    "big": {"N": "12345678901234567890"},
    "scaled": {"N": "1E+3"},
    "active": {"BOOL": True},
    "nothing": {"NULL": True},
    "tags": {"SS": ["b", "a"]},
    "scores": {"NS": ["10", "-2.5", "3"]},
    "blob": {"B": b"\x00\xff"},
    "blobs": {"BS": [b"\x02", b"\x01"]},
    "nested": {"M": {"list": {"L": [{"N": "1"}, {"S": "x"}, {"M": {}}]}}},
}
EVERY_TYPE_PLAIN = {
    "count": 42,
    "ratio": 1.5,
    "big": 12345678901234567890,
    "scaled": 1000,
    "active": True,
    "nothing": None,
    "tags": ["a", "b"],
    "scores": [-2.5, 3, 10],
    "blob": "AP8=",
    "blobs": ["AQ==", "Ag=="],
    "nested": {"list": [1, "x", {}]},
}


def _started_at(minute: int) -> str:
    return f"2026-03-01T10:{minute:02d}:00Z"


@pytest.fixture(scope="module")
def api(store_endpoint: str) -> Iterator[Handlers]:
    tables = create_tables(store_endpoint, "handlers")
    sessions = [_session(MANY, _started_at(m), f"s{m:02d}") for m in range(SESSIONS_OF_MANY - 1)]
    # Same start, so only the session id orders them.
    sessions.append(_session(MANY, _started_at(5), "s05b"))
    sessions.append(_session("client-typed", _started_at(0), "only", **EVERY_TYPE))
    sessions.append(_session("client-many-other", _started_at(59), "not-many"))
    put_items(store_endpoint, tables["Sessions"], sessions)
    clients = [_client(f"c{n:02d}") for n in range(CLIENT_COUNT - 1)]
    clients.append(_client("client-typed", **EVERY_TYPE))
    put_items(store_endpoint, tables["Clients"], clients)
    with loaded_handlers(store_endpoint, tables) as handlers:
        yield handlers


@pytest.fixture
def store_calls(api: Handlers) -> Iterator[CallRecorder]:
    """The DynamoDB operations the handlers call, observed on their real clients."""
    clients = [api.sessions.dynamodb, api.clients.dynamodb, api.health._dynamodb()]
    with CallRecorder().watching(*(client.meta.events for client in clients)) as recorder:
        yield recorder


def _all_pages(api: Handlers, route_key: str, key: str, **query: str) -> list[list[Any]]:
    pages: list[list[Any]] = []
    cursor: str | None = None
    while True:
        reply = api.call(route_key, {**query, **({"cursor": cursor} if cursor else {})})
        assert reply.status == 200, reply.body
        pages.append(reply.body[key])
        cursor = reply.body["nextCursor"]
        if cursor is None:
            return pages
        assert len(pages) <= 100, "cursors never end"


# --- health ---------------------------------------------------------------------------------


def test_health_reports_service_stage_and_time(api: Handlers) -> None:
    reply = api.call("GET /health")
    assert reply.status == 200
    assert reply.headers["content-type"] == "application/json"
    assert {k: v for k, v in reply.body.items() if k != "timestamp"} == {
        "status": "ok",
        "service": "draht",
        "stage": STAGE,
    }
    assert reply.body["timestamp"].endswith("Z")


def test_shallow_health_never_imports_the_aws_sdk() -> None:
    script = f"""
import json, sys
sys.path.insert(0, {str(HANDLERS_DIR)!r})
import health
event = json.loads(sys.stdin.read())
response = health.handler(event, None)
assert response["statusCode"] == 200, response
loaded = sorted(name for name in sys.modules if name.split(".")[0] in ("boto3", "botocore"))
assert not loaded, loaded
"""
    env = {"DRAHT_RESOURCE_App": json.dumps({"name": "draht", "stage": STAGE}), "PATH": ""}
    event = json.dumps(api_event("GET /health"))
    subprocess.run([sys.executable, "-c", script], input=event, text=True, env=env, check=True)


def test_deep_health_checks_every_linked_table(api: Handlers) -> None:
    reply = api.call("GET /health", {"deep": "true"})
    assert reply.status == 200
    assert reply.body["checks"] == {"Sessions": "ok", "Clients": "ok"}


def test_deep_false_is_the_shallow_check(api: Handlers) -> None:
    reply = api.call("GET /health", {"deep": "false"})
    assert reply.status == 200
    assert "checks" not in reply.body


@pytest.mark.parametrize("deep", ["", "TRUE", "1", "yes", "true,true"])
def test_deep_must_be_true_or_false(api: Handlers, deep: str) -> None:
    reply = api.call("GET /health", [("deep", value) for value in deep.split(",")])
    assert reply.status == 400
    assert "deep" in reply.body["detail"]


def _deep_health(store_endpoint: str, prefix: str, **changed_tables: str) -> Reply:
    """A deep check by handlers whose links name `changed_tables` instead of, or besides, the
    app's tables (which exist under `prefix`)."""
    tables = {**create_tables(store_endpoint, prefix), **changed_tables}
    with loaded_handlers(store_endpoint, tables) as handlers:
        return handlers.call("GET /health", {"deep": "true"})


def test_deep_health_is_degraded_and_names_the_missing_table(store_endpoint: str) -> None:
    reply = _deep_health(store_endpoint, "health-degraded", Clients="health-degraded-missing-table")
    assert reply.status == 503
    assert reply.headers["retry-after"] == "1"
    assert reply.body["status"] == "degraded"
    assert reply.body["checks"] == {
        "Sessions": "ok",
        "Clients": "failed: ResourceNotFoundException",
    }


@pytest.mark.parametrize(
    ("archive", "failure"),
    [
        ("health-links-archive", "ResourceNotFoundException"),
        # TableName has a minimum length of 1: botocore refuses an empty one before any
        # request, so there is no AWS error code to report, only what broke.
        # https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_DescribeTable.html#API_DescribeTable_RequestSyntax
        ("", "ParamValidationError"),
    ],
)
def test_deep_health_checks_whatever_tables_its_links_name(
    store_endpoint: str, archive: str, failure: str
) -> None:
    reply = _deep_health(store_endpoint, "health-links", Archive=archive)
    assert reply.status == 503
    assert reply.body["checks"] == {
        "Sessions": "ok",
        "Clients": "ok",
        "Archive": f"failed: {failure}",
    }


# --- sessions -------------------------------------------------------------------------------


def _expected_sessions_of_many() -> list[str]:
    ids = [f"s{m:02d}" for m in range(SESSIONS_OF_MANY - 1)] + ["s05b"]
    starts = {session_id: _started_at(int(session_id[1:3])) for session_id in ids}
    return sorted(ids, key=lambda session_id: (starts[session_id], session_id), reverse=True)


def test_sessions_come_newest_first_and_only_for_that_client(api: Handlers) -> None:
    reply = api.call("GET /sessions", {"clientId": MANY, "limit": "100"})
    assert reply.status == 200
    assert [s["sessionId"] for s in reply.body["sessions"]] == _expected_sessions_of_many()
    assert {s["clientId"] for s in reply.body["sessions"]} == {MANY}
    assert reply.body["nextCursor"] is None


def test_sessions_are_plain_json_without_keys(api: Handlers) -> None:
    reply = api.call("GET /sessions", {"clientId": "client-typed"})
    (session,) = reply.body["sessions"]
    assert session == {
        "clientId": "client-typed",
        "sessionId": "only",
        "startedAt": _started_at(0),
        "version": 1,
        **EVERY_TYPE_PLAIN,
    }


def test_sessions_default_to_pages_of_25(api: Handlers) -> None:
    pages = _all_pages(api, "GET /sessions", "sessions", clientId=MANY)
    assert [len(page) for page in pages] == [25, SESSIONS_OF_MANY - 25]


@pytest.mark.parametrize("limit", [1, 4, 5, 6, 7, 10, 15, 29, 30, 31, 100])
def test_sessions_pages_return_every_session_once_in_order(api: Handlers, limit: int) -> None:
    pages = _all_pages(api, "GET /sessions", "sessions", clientId=MANY, limit=str(limit))
    flat = [session["sessionId"] for page in pages for session in page]
    assert flat == _expected_sessions_of_many()
    # Full pages, then one last non-empty page: an exact multiple ends without an empty page.
    assert all(len(page) == limit for page in pages[:-1])
    assert 0 < len(pages[-1]) <= limit


def test_a_client_without_sessions_gets_an_empty_last_page(api: Handlers) -> None:
    reply = api.call("GET /sessions", {"clientId": "client-unknown"})
    assert reply.status == 200
    assert reply.body == {"sessions": [], "nextCursor": None}


def test_sessions_are_read_by_query_only(api: Handlers, store_calls: CallRecorder) -> None:
    _all_pages(api, "GET /sessions", "sessions", clientId=MANY, limit="7")
    assert set(store_calls.operations) == {"Query"}


# --- clients --------------------------------------------------------------------------------


def test_clients_are_plain_json(api: Handlers) -> None:
    reply = api.call("GET /clients")
    assert reply.status == 200
    by_id = {client["clientId"]: client for client in reply.body["clients"]}
    assert by_id["client-typed"] == {
        "clientId": "client-typed",
        "name": "Client client-typed",
        "createdAt": "2026-01-02T03:04:05Z",
        "version": 1,
        **EVERY_TYPE_PLAIN,
    }
    assert by_id["c00"] == {
        "clientId": "c00",
        "name": "Client c00",
        "createdAt": "2026-01-02T03:04:05Z",
        "version": 1,
    }
    assert len(by_id) == CLIENT_COUNT
    assert reply.body["nextCursor"] is None


@pytest.mark.parametrize("limit", [1, 3, 4, 5, 11, 12, 13])
def test_clients_pages_return_every_client_once(api: Handlers, limit: int) -> None:
    pages = _all_pages(api, "GET /clients", "clients", limit=str(limit))
    flat = [client["clientId"] for page in pages for client in page]
    assert sorted(flat) == sorted([f"c{n:02d}" for n in range(CLIENT_COUNT - 1)] + ["client-typed"])
    assert len(flat) == CLIENT_COUNT
    assert all(len(page) == limit for page in pages[:-1])
    assert 0 < len(pages[-1]) <= limit


def test_clients_are_read_by_scan_only(api: Handlers, store_calls: CallRecorder) -> None:
    _all_pages(api, "GET /clients", "clients", limit="5")
    assert set(store_calls.operations) == {"Scan"}


LAMBDA_RESPONSE_MAX_BYTES = 6 * 1024 * 1024


def test_pages_of_large_items_stay_within_lambdas_response_limit(store_endpoint: str) -> None:
    # Quotes double when the body is escaped, and again in Lambda's response envelope.
    notes = '"' * 300_000
    tables = create_tables(store_endpoint, "large-items")
    put_items(
        store_endpoint,
        tables["Clients"],
        [_client(f"big{n}", notes={"S": notes}) for n in range(10)],
    )
    seen: list[str] = []
    with loaded_handlers(store_endpoint, tables) as handlers:
        cursor: str | None = None
        while True:
            event = api_event(
                "GET /clients", {"limit": "100", **({"cursor": cursor} if cursor else {})}
            )
            response = handlers.clients.handler(event, None)
            assert len(json.dumps(response)) <= LAMBDA_RESPONSE_MAX_BYTES
            body = json.loads(response["body"])
            assert body["clients"], "a page is never empty"
            seen += [client["clientId"] for client in body["clients"]]
            cursor = body["nextCursor"]
            if cursor is None:
                break
    assert sorted(seen) == [f"big{n}" for n in range(10)]


# What a page's items may add to a Lambda response (PAGE_BYTES_MAX in handlers/_lib/dynamo.py),
# met exactly by FULL_PAGE_CLIENTS clients of equal size.
PAGE_BYTES_MAX = 5_000_000
FULL_PAGE_CLIENTS = 16


@pytest.fixture(scope="module")
def full_page_tables(dynalite: Dynalite) -> dict[str, str]:
    """Clients that, counted as a listing counts a page's bytes (each item as JSON, escaped
    again as the body), fill a page to its cap exactly. Each is some 312 KB: dynalite, like
    DynamoDB, ends a Scan at 1 MB, so no page comes from a single Scan."""
    tables = create_tables(dynalite.endpoint, "full-page")
    share, rest = divmod(PAGE_BYTES_MAX, FULL_PAGE_CLIENTS)
    assert rest == 0
    clients = []
    for n in range(FULL_PAGE_CLIENTS):
        client_id = f"full{n:02d}"
        unpadded = _page_bytes([{"clientId": client_id, "notes": ""}])
        clients.append({"clientId": {"S": client_id}, "notes": {"S": "n" * (share - unpadded)}})
    put_items(dynalite.endpoint, tables["Clients"], clients)
    return tables


@pytest.fixture
def full_page(dynalite: Dynalite, full_page_tables: dict[str, str]) -> Iterator[Handlers]:
    with loaded_handlers(dynalite.endpoint, full_page_tables) as handlers:
        yield handlers


def _page_bytes(items: list[dict[str, Any]]) -> int:
    return sum(len(json.dumps(json.dumps(item))) for item in items)


def test_a_page_may_fill_its_byte_cap_exactly(full_page: Handlers) -> None:
    response = full_page.clients.handler(api_event("GET /clients", {"limit": "100"}), None)
    body = json.loads(response["body"])
    assert _page_bytes(body["clients"]) == PAGE_BYTES_MAX
    assert len(body["clients"]) == FULL_PAGE_CLIENTS
    assert body["nextCursor"] is None


def test_a_page_reads_one_item_more_than_it_holds_even_across_1_mb_scans(
    full_page: Handlers,
) -> None:
    # "A single Scan operation reads up to the maximum number of items set (if using the Limit
    # parameter) or a maximum of 1 MB of data": the Scan that continues a page asks only for
    # what the page still lacks, plus the one item that tells whether more follow.
    # https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_Scan.html
    events = full_page.clients.dynamodb.meta.events
    with CallRecorder().watching(events) as recorder:
        response = full_page.clients.handler(api_event("GET /clients", {"limit": "4"}), None)
    assert len(json.loads(response["body"])["clients"]) == 4
    assert len(recorder.calls) > 1
    assert sum(call.items_read for call in recorder.calls) == 4 + 1


# --- what each function calls is what its link grants --------------------------------------


def test_each_handler_calls_exactly_the_actions_its_links_grant(
    api: Handlers, store_calls: CallRecorder
) -> None:
    def every_sessions_route() -> None:
        _all_pages(api, "GET /sessions", "sessions", clientId=MANY)
        path, query = {"sessionId": "granted"}, {"clientId": "c00"}
        create = {"clientId": "c00", "sessionId": "granted"}
        assert api.call("POST /sessions", json_body=create).status == 201
        assert api.call("POST /sessions", json_body={"clientId": "nobody"}).status == 422
        assert api.call("GET /sessions/{sessionId}", query, path=path).status == 200
        patch = {"title": "Granted"}
        patched = api.call("PATCH /sessions/{sessionId}", query, path=path, json_body=patch)
        assert patched.status == 200
        assert api.call("DELETE /sessions/{sessionId}", query, path=path).status == 204

    def every_clients_route() -> None:
        _all_pages(api, "GET /clients", "clients", limit="5")
        path = {"clientId": "granted"}
        created = api.call("POST /clients", json_body={"clientId": "granted", "name": "G"})
        assert created.status == 201
        assert api.call("GET /clients/{clientId}", path=path).status == 200
        patch = {"name": "Granted"}
        assert api.call("PATCH /clients/{clientId}", path=path, json_body=patch).status == 200
        assert api.call("DELETE /clients/{clientId}", path=path).status == 204

    calls: dict[str, Callable[[], object]] = {
        "Health": lambda: api.call("GET /health", {"deep": "true"}),
        "ListSessions": every_sessions_route,
        "ListClients": every_clients_route,
    }
    for function in app.functions:
        store_calls.calls.clear()
        calls[function.name]()
        granted = {action for link in function.links for action in link.actions}
        assert {f"dynamodb:{name}" for name in store_calls.operations} == granted, function.name


# --- invalid input --------------------------------------------------------------------------

INVALID_LIMITS = [
    "0",
    "101",
    "-1",
    "abc",
    "1.5",
    "",
    "+5",
    " 5",
    "05",
    "1_0",
    "1e1",
    "\u0665",
    "5,5",
]


@pytest.mark.parametrize("limit", INVALID_LIMITS)
@pytest.mark.parametrize("route_key", ["GET /sessions", "GET /clients"])
def test_a_limit_outside_1_to_100_is_a_bad_request(
    api: Handlers, store_calls: CallRecorder, route_key: str, limit: str
) -> None:
    query = [("clientId", MANY)] + [("limit", part) for part in limit.split(",")]
    reply = api.call(route_key, query, request_id="req-limit")
    assert reply.status == 400
    assert reply.headers["content-type"] == "application/problem+json"
    assert reply.body["type"] == "about:blank"
    assert reply.body["title"] == "Bad Request"
    assert reply.body["status"] == 400
    assert reply.body["requestId"] == "req-limit"
    assert "limit" in reply.body["detail"]
    assert store_calls.operations == []


@pytest.mark.parametrize(
    "query",
    [{}, {"clientId": ""}, {"clientId": "x" * 257}, {"limit": "5"}],
    ids=["missing", "empty", "too-long", "missing-with-limit"],
)
def test_sessions_need_a_client_id(
    api: Handlers, store_calls: CallRecorder, query: dict[str, str]
) -> None:
    reply = api.call("GET /sessions", query)
    assert reply.status == 400
    assert "clientId" in reply.body["detail"]
    assert store_calls.operations == []


def test_the_longest_client_id_is_served(api: Handlers) -> None:
    reply = api.call("GET /sessions", {"clientId": "é" * 256})
    assert reply.status == 200
    assert reply.body == {"sessions": [], "nextCursor": None}


def test_the_request_id_falls_back_to_the_lambda_context(api: Handlers) -> None:
    event = api_event("GET /sessions")
    del event["requestContext"]["requestId"]

    class Context:
        aws_request_id = "lambda-request-id"

    response = api.sessions.handler(event, Context())
    assert json.loads(response["body"])["requestId"] == "lambda-request-id"


# --- logging --------------------------------------------------------------------------------


def test_each_request_logs_one_line_without_item_contents(
    api: Handlers, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="draht")
    reply: Reply = api.call("GET /sessions", {"clientId": MANY, "limit": "3"}, request_id="req-log")
    assert reply.status == 200
    (record,) = caplog.records
    fields = {name: getattr(record, name) for name in ("requestId", "route", "status", "latencyMs")}
    assert fields["requestId"] == "req-log"
    assert fields["route"] == "GET /sessions"
    assert fields["status"] == 200
    assert 0 <= fields["latencyMs"] < 10_000
    assert "s29" not in caplog.text and MANY not in caplog.text
