"""Cursors: every kind of bad cursor is a 400 that never reaches DynamoDB."""

from __future__ import annotations

import base64
import hashlib
import json
import string
from collections.abc import Iterator
from typing import Any

import pytest
from dynamo_calls import CallRecorder
from handler_env import Handlers, create_tables, loaded_handlers, put_items

BASE64URL_ALPHABET = string.ascii_letters + string.digits + "-_"
ALICE = "alice"
BOB = "bob"
# Separators, escapes, control and astral characters, at the longest clientId allowed.
UNUSUAL = ('#:%\\"\x00\n é💥' * 26)[:256]


def _session(client_id: str, n: int) -> dict[str, Any]:
    started_at = f"2026-04-01T00:00:{n:02d}Z"
    return {
        "pk": {"S": f"CLIENT#{client_id}"},
        "sk": {"S": f"SESSION#{started_at}#{client_id}-{n}"},
        "clientId": {"S": client_id},
        "sessionId": {"S": f"{client_id}-{n}"},
        "startedAt": {"S": started_at},
    }


@pytest.fixture(scope="module")
def api(store_endpoint: str) -> Iterator[Handlers]:
    tables = create_tables(store_endpoint, "cursors")
    put_items(
        store_endpoint,
        tables["Sessions"],
        [_session(c, n) for c in (ALICE, BOB, UNUSUAL) for n in range(4)],
    )
    clients = [
        {"clientId": {"S": c}, "name": {"S": c}, "createdAt": {"S": "2026-01-01T00:00:00Z"}}
        for c in ("alice", "bob", "carol")
    ]
    put_items(store_endpoint, tables["Clients"], clients)
    with loaded_handlers(store_endpoint, tables) as handlers:
        yield handlers


@pytest.fixture
def store_calls(api: Handlers) -> Iterator[CallRecorder]:
    clients = (api.sessions.dynamodb, api.clients.dynamodb)
    with CallRecorder().watching(*(client.meta.events for client in clients)) as recorder:
        yield recorder


def _sessions_cursor(api: Handlers, client_id: str = ALICE) -> str:
    cursor: str = api.call("GET /sessions", {"clientId": client_id, "limit": "1"}).body[
        "nextCursor"
    ]
    return cursor


def _clients_cursor(api: Handlers) -> str:
    cursor: str = api.call("GET /clients", {"limit": "1"}).body["nextCursor"]
    return cursor


def _forge(payload: Any) -> str:
    """A cursor built the way the handlers build one, around any payload."""
    body = json.dumps(payload, separators=(",", ":")).encode()
    checksum = hashlib.sha256(b"draht-cursor\x00" + body).digest()[:8]
    return base64.urlsafe_b64encode(body + checksum).rstrip(b"=").decode()


def _assert_rejected(api: Handlers, route_key: str, cursor: str, store_calls: CallRecorder) -> str:
    query = {"cursor": cursor, **({"clientId": ALICE} if route_key == "GET /sessions" else {})}
    reply = api.call(route_key, query)
    assert reply.status == 400, (cursor, reply.body)
    assert reply.body["title"] == "Bad Request"
    assert store_calls.operations == [], "a bad cursor reached DynamoDB"
    detail: str = reply.body["detail"]
    assert "cursor" in detail
    return detail


def test_a_cursor_is_unpadded_base64url(api: Handlers) -> None:
    for cursor in (_sessions_cursor(api), _clients_cursor(api)):
        assert cursor.replace("-", "").replace("_", "").isalnum()
        assert "=" not in cursor


def test_a_forged_cursor_in_the_right_shape_stays_inside_the_listing(api: Handlers) -> None:
    # Without a secret a checksum can be recomputed; such a cursor is only a start position.
    cursor = _forge([1, "GET /sessions", ALICE, "SESSION#2026-04-01T00:00:02Z#alice-2"])
    reply = api.call("GET /sessions", {"clientId": ALICE, "cursor": cursor})
    assert [s["sessionId"] for s in reply.body["sessions"]] == ["alice-1", "alice-0"]


@pytest.mark.parametrize(
    "cursor",
    ["", "!!!", "not base64", "a", "abc=", "YWJj", "aGVsbG8gd29ybGQ", "x" * 20001, "é"],
    ids=[
        "empty",
        "punctuation",
        "space",
        "one-char",
        "padded",
        "short",
        "no-checksum",
        "huge",
        "non-ascii",
    ],
)
@pytest.mark.parametrize("route_key", ["GET /sessions", "GET /clients"])
def test_a_malformed_cursor_is_refused(
    api: Handlers, store_calls: CallRecorder, route_key: str, cursor: str
) -> None:
    _assert_rejected(api, route_key, cursor, store_calls)


@pytest.mark.parametrize("route_key", ["GET /sessions", "GET /clients"])
def test_a_cursor_with_any_one_character_changed_is_refused(
    api: Handlers, store_calls: CallRecorder, route_key: str
) -> None:
    cursor = _sessions_cursor(api) if route_key == "GET /sessions" else _clients_cursor(api)
    store_calls.calls.clear()
    for index, char in enumerate(cursor):
        # Every other character, including those that differ only in the last one's spare bits.
        for replacement in set(BASE64URL_ALPHABET) - {char}:
            tampered = cursor[:index] + replacement + cursor[index + 1 :]
            _assert_rejected(api, route_key, tampered, store_calls)
    _assert_rejected(api, route_key, cursor[:-1], store_calls)
    _assert_rejected(api, route_key, cursor + "A", store_calls)


def test_a_cursor_from_another_clients_listing_is_refused(
    api: Handlers, store_calls: CallRecorder
) -> None:
    cursor = _sessions_cursor(api, BOB)
    store_calls.calls.clear()
    detail = _assert_rejected(api, "GET /sessions", cursor, store_calls)
    assert "another client" in detail


def test_a_clients_cursor_is_refused_by_sessions(api: Handlers, store_calls: CallRecorder) -> None:
    cursor = _clients_cursor(api)
    store_calls.calls.clear()
    assert "another route" in _assert_rejected(api, "GET /sessions", cursor, store_calls)


def test_a_sessions_cursor_is_refused_by_clients(api: Handlers, store_calls: CallRecorder) -> None:
    cursor = _sessions_cursor(api)
    store_calls.calls.clear()
    assert "another route" in _assert_rejected(api, "GET /clients", cursor, store_calls)


@pytest.mark.parametrize(
    "payload",
    [
        [2, "GET /sessions", ALICE, "SESSION#2026-04-01T00:00:02Z#alice-2"],
        [True, "GET /sessions", ALICE, "SESSION#2026-04-01T00:00:02Z#alice-2"],
        [1, "GET /sessions", ALICE, "SESSION#2026-04-01T00:00:02Z#alice-2", "extra"],
        [1, "GET /sessions", ALICE],
        {"v": 1},
        "SESSION#2026-04-01T00:00:02Z#alice-2",
        [1, "GET /sessions", ALICE, {"S": "SESSION#2026-04-01T00:00:02Z#alice-2"}],
        [1, "GET /sessions", ALICE, 7],
        [1, "GET /sessions", ALICE, ""],
        [1, "GET /sessions", ALICE, "CLIENT#alice"],
        [1, "GET /sessions", ALICE, "SESSION#no-session-id"],
        [1, "GET /sessions", ALICE, "SESSION#2026#" + "x" * 1100],
        [1, "GET /sessions", ALICE, "SESSION#2026#\ud800"],
    ],
    ids=[
        "future-version",
        "boolean-version",
        "extra-field",
        "missing-position",
        "object",
        "bare-string",
        "typed-key",
        "number-key",
        "empty-key",
        "partition-key",
        "no-session-id",
        "key-too-long",
        "lone-surrogate",
    ],
)
def test_a_well_checksummed_cursor_of_the_wrong_shape_is_refused(
    api: Handlers, store_calls: CallRecorder, payload: Any
) -> None:
    _assert_rejected(api, "GET /sessions", _forge(payload), store_calls)


@pytest.mark.parametrize("position", ["", "x" * 2049], ids=["empty", "too-long"])
def test_a_clients_cursor_must_hold_a_possible_client_id(
    api: Handlers, store_calls: CallRecorder, position: str
) -> None:
    _assert_rejected(api, "GET /clients", _forge([1, "GET /clients", "", position]), store_calls)


def test_a_cursor_for_a_client_id_that_no_longer_exists_still_works(api: Handlers) -> None:
    cursor = _forge([1, "GET /clients", "", "aardvark-deleted"])
    reply = api.call("GET /clients", {"cursor": cursor})
    assert reply.status == 200


def test_cursors_page_through_an_unusual_client_id(api: Handlers) -> None:
    seen: list[str] = []
    cursor: str | None = None
    while True:
        query = {"clientId": UNUSUAL, "limit": "1", **({"cursor": cursor} if cursor else {})}
        reply = api.call("GET /sessions", query)
        assert reply.status == 200, reply.body
        seen += [session["sessionId"] for session in reply.body["sessions"]]
        cursor = reply.body["nextCursor"]
        if cursor is None:
            break
    assert seen == [f"{UNUSUAL}-{n}" for n in (3, 2, 1, 0)]
