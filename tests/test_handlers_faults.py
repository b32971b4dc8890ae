"""When DynamoDB struggles: 503 with Retry-After inside the function timeout, 500 otherwise."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fault_store import FaultyStore
from handler_env import create_tables, loaded_handlers, put_items

from draht.local.store import Dynalite

FUNCTION_TIMEOUT_S = 10
UNREACHABLE = "the store could not be reached or did not answer in time; retry shortly"
LISTINGS = [("GET /sessions", {"clientId": "c1"}), ("GET /clients", {})]


@pytest.fixture
def misbehaving_store(dynalite: Dynalite) -> Iterator[FaultyStore]:
    with FaultyStore(dynalite.endpoint) as store:
        yield store


# Each code once and each listing at least once: a throttled call costs seconds of backoff.
@pytest.mark.parametrize(
    ("code", "route_key", "query"),
    [
        ("ProvisionedThroughputExceededException", *LISTINGS[0]),
        ("ThrottlingException", *LISTINGS[1]),
        ("RequestLimitExceeded", *LISTINGS[0]),
    ],
)
def test_throttling_is_a_503_with_retry_after_after_three_attempts(
    misbehaving_store: FaultyStore,
    code: str,
    route_key: str,
    query: dict[str, str],
) -> None:
    misbehaving_store.throttle(code)
    endpoint = misbehaving_store.endpoint
    with loaded_handlers(endpoint, {"Sessions": "sessions", "Clients": "clients"}) as handlers:
        started = time.monotonic()
        reply = handlers.call(route_key, query)
    assert time.monotonic() - started < FUNCTION_TIMEOUT_S
    assert reply.status == 503
    assert reply.headers["retry-after"] == "1"
    assert code in reply.body["detail"]
    assert misbehaving_store.requests_seen == 3


def test_a_store_slower_than_the_read_timeout_is_a_503_within_the_function_timeout(
    misbehaving_store: FaultyStore,
) -> None:
    misbehaving_store.stall(1.5)
    endpoint = misbehaving_store.endpoint
    with loaded_handlers(endpoint, {"Sessions": "sessions", "Clients": "clients"}) as handlers:
        started = time.monotonic()
        reply = handlers.call("GET /clients")
    assert time.monotonic() - started < FUNCTION_TIMEOUT_S
    assert reply.status == 503
    assert reply.headers["retry-after"] == "1"
    assert reply.body["detail"] == UNREACHABLE
    assert misbehaving_store.requests_seen == 3


@pytest.mark.parametrize(
    ("error_type", "named"),
    [
        # An error botocore has no class of its own for: only its code names it.
        ("ValidationException", "ValidationException"),
        # A type naming nothing after its `#`: botocore answers it with an empty code, as its
        # plain ClientError, and a check still says what failed.
        ("", "ClientError"),
    ],
)
def test_a_store_error_is_named_by_its_code_in_the_deep_health_check(
    misbehaving_store: FaultyStore, error_type: str, named: str
) -> None:
    misbehaving_store.throttle(error_type)
    endpoint = misbehaving_store.endpoint
    with loaded_handlers(endpoint, {"Sessions": "sessions", "Clients": "clients"}) as handlers:
        reply = handlers.call("GET /health", {"deep": "true"})
    assert reply.status == 503
    assert reply.body["checks"] == {"Sessions": f"failed: {named}", "Clients": f"failed: {named}"}


def test_a_store_stopped_mid_run_is_a_503_then_served_again(tmp_path: Path) -> None:
    store = Dynalite(data_dir=tmp_path / "store").start()
    restarted: Dynalite | None = None
    try:
        tables = create_tables(store.endpoint, "outage")
        put_items(
            store.endpoint,
            tables["Clients"],
            [
                {
                    "clientId": {"S": "c1"},
                    "name": {"S": "one"},
                    "createdAt": {"S": "2026-01-01T00:00:00Z"},
                }
            ],
        )
        with loaded_handlers(store.endpoint, tables) as handlers:
            assert handlers.call("GET /clients").status == 200
            store.stop()
            for route_key, query in LISTINGS:
                started = time.monotonic()
                reply = handlers.call(route_key, query)
                assert time.monotonic() - started < FUNCTION_TIMEOUT_S
                assert reply.status == 503, reply.body
                assert reply.headers["retry-after"] == "1"
                assert reply.body["detail"] == UNREACHABLE
            health = handlers.call("GET /health", {"deep": "true"})
            assert health.status == 503
            assert health.body["checks"] == {
                "Sessions": "failed: unreachable",
                "Clients": "failed: unreachable",
            }
            restarted = Dynalite(data_dir=tmp_path / "store", port=store.port).start()
            assert restarted.endpoint == store.endpoint
            reply = handlers.call("GET /clients")
            assert reply.status == 200
            assert [client["clientId"] for client in reply.body["clients"]] == ["c1"]
            assert handlers.call("GET /health", {"deep": "true"}).status == 200
    finally:
        store.stop()
        if restarted is not None:
            restarted.stop()


def test_an_unexpected_error_is_a_500_logged_with_the_request_id(
    dynalite: Dynalite, caplog: pytest.LogCaptureFixture
) -> None:
    tables = {"Sessions": "no-such-sessions-table", "Clients": "no-such-clients-table"}
    caplog.set_level(logging.INFO, logger="draht")
    with loaded_handlers(dynalite.endpoint, tables) as handlers:
        for route_key, query in LISTINGS:
            caplog.clear()
            reply = handlers.call(route_key, query, request_id="req-500")
            assert reply.status == 500
            assert reply.body["requestId"] == "req-500"
            assert "Traceback" not in json.dumps(reply.body)
            assert "ResourceNotFoundException" not in json.dumps(reply.body)
            failure, request_line = caplog.records
            assert failure.levelno == logging.ERROR
            assert failure.requestId == "req-500"  # type: ignore[attr-defined]
            assert failure.exc_info is not None
            assert request_line.status == 500  # type: ignore[attr-defined]
