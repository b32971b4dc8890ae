"""The write routes against a real store (dynalite, or the --dynamodb-endpoint one): every
answer, and that bad input writes nothing.

Each reply is validated against the OpenAPI document (`Handlers.call`), so a status,
header or body the document does not promise fails the test that provoked it.
"""

from __future__ import annotations

import json
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from handler_env import Handlers, Reply, create_tables, loaded_handlers, put_items

from draht.layout import client_item, session_item, wire
from draht.local.store import dynamodb_client

SESSION = "GET /sessions/{sessionId}"
CLIENT = "GET /clients/{clientId}"


@pytest.fixture(scope="module")
def store(store_endpoint: str) -> dict[str, str]:
    return create_tables(store_endpoint, "writes")


@pytest.fixture(scope="module")
def api(store_endpoint: str, store: dict[str, str]) -> Iterator[Handlers]:
    with loaded_handlers(store_endpoint, store) as handlers:
        yield handlers


@pytest.fixture
def db(store_endpoint: str) -> Any:
    return dynamodb_client(store_endpoint)


def _id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def create_client(api: Handlers, **fields: Any) -> Reply:
    return api.call("POST /clients", json_body={"name": "Acme GmbH", **fields})


def new_client(api: Handlers) -> str:
    client_id = _id("client")
    assert create_client(api, clientId=client_id).status == 201
    return client_id


def create_session(api: Handlers, client_id: str, **fields: Any) -> Reply:
    return api.call("POST /sessions", json_body={"clientId": client_id, **fields})


def session_call(
    api: Handlers, method: str, client_id: str, session_id: str, **kwargs: Any
) -> Reply:
    return api.call(
        f"{method} /sessions/{{sessionId}}",
        path={"sessionId": session_id},
        query={"clientId": client_id},
        **kwargs,
    )


def client_call(api: Handlers, method: str, client_id: str, **kwargs: Any) -> Reply:
    return api.call(f"{method} /clients/{{clientId}}", path={"clientId": client_id}, **kwargs)


def stored_client(db: Any, store: dict[str, str], client_id: str) -> dict[str, Any] | None:
    item: dict[str, Any] | None = db.get_item(
        TableName=store["Clients"], Key={"clientId": {"S": client_id}}, ConsistentRead=True
    ).get("Item")
    return item


def stored_sessions(db: Any, store: dict[str, str], client_id: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = db.query(
        TableName=store["Sessions"],
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"CLIENT#{client_id}"}},
        ConsistentRead=True,
    )["Items"]
    return items


SESSION_FIELDS = {
    "title": "Fix the login redirect loop",
    "model": "claude-sonnet-4-5",
    "startedAt": "2026-11-29T10:00:00Z",
    "endedAt": "2026-11-29T10:45:00Z",
    "inputTokens": 120000,
    "outputTokens": 8000,
    "cost": "0.480000",
    "currency": "USD",
    "billable": True,
    "notes": "",
    "summary": "Fixed; see the pull request.",
}


# --- clients: create ---------------------------------------------------------------------


def test_create_client_answers_201_with_location_etag_and_the_stored_client(
    api: Handlers, db: Any, store: dict[str, str]
) -> None:
    client_id = _id("acme")
    reply = create_client(api, clientId=client_id, email="billing@acme.example", currency="EUR")
    assert reply.status == 201
    assert reply.headers["location"] == f"/clients/{client_id}"
    assert reply.headers["etag"].startswith('"')
    assert reply.body["clientId"] == client_id
    assert reply.body["email"] == "billing@acme.example"
    assert reply.body["version"] == 1
    assert stored_client(db, store, client_id) is not None


def test_create_client_generates_an_id_when_none_is_given(api: Handlers) -> None:
    reply = create_client(api)
    assert reply.status == 201
    assert uuid.UUID(reply.body["clientId"]).version == 4
    assert reply.headers["location"] == f"/clients/{reply.body['clientId']}"


def test_a_whole_number_written_with_a_fraction_of_zero_is_stored_and_answered_whole(
    api: Handlers, db: Any, store: dict[str, str]
) -> None:
    # JSON Schema's integer "matches any number with a zero fractional part", so 30.0 is one.
    # https://json-schema.org/draft/2020-12/json-schema-core#section-4.2.1
    client_id = _id("whole")
    reply = create_client(api, clientId=client_id, paymentTermsDays=30.0)
    assert reply.status == 201
    assert type(reply.body["paymentTermsDays"]) is int
    assert reply.body["paymentTermsDays"] == 30
    stored = stored_client(db, store, client_id)
    assert stored is not None
    assert stored["paymentTermsDays"] == {"N": "30"}


def test_a_retried_client_create_returns_the_stored_client_once(
    api: Handlers, db: Any, store: dict[str, str]
) -> None:
    client_id = _id("retry")
    first = create_client(api, clientId=client_id, vatId="DE123456789")
    again = create_client(api, clientId=client_id, vatId="DE123456789")
    assert (first.status, again.status) == (201, 200)
    assert again.body == first.body
    assert again.headers["etag"] == first.headers["etag"]
    assert stored_client(db, store, client_id) is not None


def test_the_same_client_id_with_other_content_is_a_conflict_and_changes_nothing(
    api: Handlers, db: Any, store: dict[str, str]
) -> None:
    client_id = _id("taken")
    create_client(api, clientId=client_id)
    before = stored_client(db, store, client_id)
    reply = create_client(api, clientId=client_id, name="Someone Else")
    assert reply.status == 409
    assert "name" in reply.body["detail"]
    assert stored_client(db, store, client_id) == before


# --- clients: read -------------------------------------------------------------------------


def test_get_client_reads_what_was_written_with_the_same_etag(api: Handlers) -> None:
    client_id = _id("read")
    created = create_client(api, clientId=client_id, paymentTermsDays=30)
    reply = client_call(api, "GET", client_id)
    assert reply.status == 200
    assert reply.body == created.body
    assert reply.headers["etag"] == created.headers["etag"]


def test_get_an_unknown_client_is_404(api: Handlers) -> None:
    assert client_call(api, "GET", _id("nobody")).status == 404


@pytest.mark.parametrize("client_id", ["x" * 257, "tab\there", "new\nline"])
def test_a_client_id_the_key_layout_cannot_hold_is_400(api: Handlers, client_id: str) -> None:
    reply = client_call(api, "GET", client_id)
    assert reply.status == 400
    assert "clientId" in reply.body["detail"]


def test_bookkeeping_attributes_never_reach_a_reader(
    api: Handlers, db: Any, store: dict[str, str]
) -> None:
    client_id = new_client(api)
    assert create_session(api, client_id).status == 201
    db.update_item(
        TableName=store["Clients"],
        Key={"clientId": {"S": client_id}},
        UpdateExpression="SET deletingUntil = :past",
        ExpressionAttributeValues={":past": {"N": "1"}},
    )
    reply = client_call(api, "GET", client_id)
    assert "sessionClaims" in stored_client(db, store, client_id)  # type: ignore[operator]
    assert not {"sessionClaims", "deletingUntil"} & set(reply.body)
    listed = [
        client
        for page in _pages(api, "GET /clients", "clients")
        for client in page
        if client["clientId"] == client_id
    ]
    assert listed == [reply.body]


def _pages(api: Handlers, route_key: str, key: str, **query: str) -> Iterator[list[Any]]:
    cursor: str | None = None
    while True:
        reply = api.call(
            route_key, {**query, "limit": "100", **({"cursor": cursor} if cursor else {})}
        )
        assert reply.status == 200
        yield reply.body[key]
        cursor = reply.body["nextCursor"]
        if cursor is None:
            return


# --- clients: merge patch ------------------------------------------------------------------


def merge(api: Handlers, client_id: str, patch: Any, **headers: str) -> Reply:
    return client_call(api, "PATCH", client_id, json_body=patch, headers=headers)


def test_patch_sets_and_removes_fields_and_raises_the_version(api: Handlers) -> None:
    client_id = _id("patch")
    create_client(api, clientId=client_id, email="old@acme.example", notes="keep")
    reply = merge(api, client_id, {"email": None, "phone": "+49 40 1234567"})
    assert reply.status == 200
    assert "email" not in reply.body
    assert reply.body["phone"] == "+49 40 1234567"
    assert reply.body["notes"] == "keep"
    assert reply.body["version"] == 2
    assert client_call(api, "GET", client_id).body == reply.body


def test_patch_leaves_attributes_other_programs_wrote(
    api: Handlers, store_endpoint: str, store: dict[str, str]
) -> None:
    client_id = _id("legacy")
    legacy = client_item(client_id, "Legacy Ltd", "2026-01-02T03:04:05Z", plan="enterprise")
    del legacy["version"]
    put_items(store_endpoint, store["Clients"], [wire(legacy)])
    reply = merge(api, client_id, {"country": "GB"})
    assert reply.status == 200
    assert reply.body["plan"] == "enterprise"
    assert reply.body["version"] == 1


def test_patch_with_the_current_etag_applies(api: Handlers) -> None:
    client_id = _id("match")
    etag = create_client(api, clientId=client_id).headers["etag"]
    reply = merge(api, client_id, {"country": "DE"}, **{"If-Match": etag})
    assert reply.status == 200
    assert reply.headers["etag"] != etag


def test_patch_with_a_stale_etag_is_412_and_writes_nothing(api: Handlers) -> None:
    client_id = _id("stale")
    stale = create_client(api, clientId=client_id).headers["etag"]
    merge(api, client_id, {"country": "DE"})
    current = client_call(api, "GET", client_id)
    reply = merge(api, client_id, {"country": "AT"}, **{"If-Match": stale})
    assert reply.status == 412
    assert client_call(api, "GET", client_id).body == current.body


def test_a_weak_etag_never_matches(api: Handlers) -> None:
    client_id = _id("weak")
    etag = create_client(api, clientId=client_id).headers["etag"]
    assert merge(api, client_id, {"country": "DE"}, **{"If-Match": f"W/{etag}"}).status == 412


def test_if_match_star_needs_only_that_the_client_exists(api: Handlers) -> None:
    client_id = _id("star")
    create_client(api, clientId=client_id)
    assert merge(api, client_id, {"country": "DE"}, **{"If-Match": "*"}).status == 200


def test_of_concurrent_patches_with_one_etag_exactly_one_wins(api: Handlers) -> None:
    client_id = _id("race")
    etag = create_client(api, clientId=client_id).headers["etag"]

    def patch(n: int) -> int:
        return merge(api, client_id, {"notes": f"writer {n}"}, **{"If-Match": etag}).status

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = sorted(pool.map(patch, range(8)))
    assert statuses == [200] + [412] * 7
    assert client_call(api, "GET", client_id).body["version"] == 2


def test_concurrent_patches_without_if_match_all_apply(api: Handlers) -> None:
    client_id = _id("merge-all")
    create_client(api, clientId=client_id)
    fields = ["contactName", "phone", "address", "country"]
    values = ["Jana Petersen", "+49 40 1234567", "Hamburg", "DE"]

    def patch(index: int) -> int:
        return merge(api, client_id, {fields[index]: values[index]}).status

    with ThreadPoolExecutor(max_workers=4) as pool:
        assert list(pool.map(patch, range(4))) == [200] * 4
    body = client_call(api, "GET", client_id).body
    assert [body[field] for field in fields] == values
    assert body["version"] == 5


def test_patch_of_an_unknown_client_is_404(api: Handlers) -> None:
    assert merge(api, _id("nobody"), {"country": "DE"}).status == 404


def test_patch_cannot_remove_the_required_name(api: Handlers) -> None:
    client_id = new_client(api)
    reply = merge(api, client_id, {"name": None})
    assert reply.status == 400
    assert reply.body["errors"] == [{"pointer": "/name", "detail": "must be string"}]


def test_a_patched_client_must_stay_valid_as_a_whole(api: Handlers) -> None:
    client_id = new_client(api)
    reply = merge(api, client_id, {"hourlyRate": "95.00"})
    assert reply.status == 400
    assert reply.body["errors"] == [
        {"pointer": "/currency", "detail": "is required with hourlyRate"}
    ]


def test_patch_must_be_a_merge_patch(api: Handlers) -> None:
    client_id = new_client(api)
    reply = client_call(
        api,
        "PATCH",
        client_id,
        body=json.dumps({"country": "DE"}),
        headers={"content-type": "application/json"},
    )
    assert reply.status == 415
    assert reply.headers["accept-patch"] == "application/merge-patch+json"


def test_patch_cannot_change_the_client_id(api: Handlers) -> None:
    client_id = new_client(api)
    reply = merge(api, client_id, {"clientId": "other"})
    assert reply.status == 400
    assert reply.body["errors"] == [{"pointer": "/clientId", "detail": "unknown field"}]


# --- clients: delete -----------------------------------------------------------------------


def test_delete_client_is_204_then_404(api: Handlers, db: Any, store: dict[str, str]) -> None:
    client_id = new_client(api)
    assert client_call(api, "DELETE", client_id).status == 204
    assert stored_client(db, store, client_id) is None
    assert client_call(api, "DELETE", client_id).status == 404


def test_delete_client_with_a_stale_etag_is_412_and_keeps_it(
    api: Handlers, db: Any, store: dict[str, str]
) -> None:
    client_id = _id("keep")
    stale = create_client(api, clientId=client_id).headers["etag"]
    merge(api, client_id, {"country": "DE"})
    reply = client_call(api, "DELETE", client_id, headers={"If-Match": stale})
    assert reply.status == 412
    assert stored_client(db, store, client_id) is not None


def test_a_client_with_sessions_cannot_be_deleted(
    api: Handlers, db: Any, store: dict[str, str]
) -> None:
    client_id = new_client(api)
    session_id = create_session(api, client_id).body["sessionId"]
    reply = client_call(api, "DELETE", client_id)
    assert reply.status == 409
    assert "sessions" in reply.body["detail"]
    assert "deletingUntil" not in stored_client(db, store, client_id)  # type: ignore[operator]
    assert session_call(api, "DELETE", client_id, session_id).status == 204
    assert client_call(api, "DELETE", client_id).status == 204


def _set_claim(db: Any, store: dict[str, str], client_id: str, until_ms: int) -> None:
    db.update_item(
        TableName=store["Clients"],
        Key={"clientId": {"S": client_id}},
        UpdateExpression="SET sessionClaims.#id = :until",
        ExpressionAttributeNames={"#id": "in-flight"},
        ExpressionAttributeValues={":until": {"N": str(until_ms)}},
    )


def test_a_client_cannot_be_deleted_while_a_session_create_holds_a_claim(
    api: Handlers, db: Any, store: dict[str, str]
) -> None:
    client_id = new_client(api)
    _set_claim(db, store, client_id, int(time.time() * 1000) + 60_000)
    reply = client_call(api, "DELETE", client_id)
    assert reply.status == 409
    assert "being created" in reply.body["detail"]
    assert stored_client(db, store, client_id) is not None


def test_a_claim_left_by_a_crash_expires_and_the_client_can_be_deleted(
    api: Handlers, db: Any, store: dict[str, str]
) -> None:
    client_id = new_client(api)
    _set_claim(db, store, client_id, int(time.time() * 1000) - 1)
    assert client_call(api, "DELETE", client_id).status == 204


def _set_deleting(db: Any, store: dict[str, str], client_id: str, until_ms: int) -> None:
    db.update_item(
        TableName=store["Clients"],
        Key={"clientId": {"S": client_id}},
        UpdateExpression="SET deletingUntil = :until",
        ExpressionAttributeValues={":until": {"N": str(until_ms)}},
    )


def test_no_session_can_be_created_while_its_client_is_being_deleted(
    api: Handlers, db: Any, store: dict[str, str]
) -> None:
    client_id = new_client(api)
    _set_deleting(db, store, client_id, int(time.time() * 1000) + 60_000)
    reply = create_session(api, client_id)
    assert reply.status == 409
    assert "being deleted" in reply.body["detail"]
    assert stored_sessions(db, store, client_id) == []
    assert client_call(api, "DELETE", client_id).status == 409


def test_a_delete_mark_left_by_a_crash_expires(
    api: Handlers, db: Any, store: dict[str, str]
) -> None:
    client_id = new_client(api)
    _set_deleting(db, store, client_id, int(time.time() * 1000) - 1)
    assert create_session(api, client_id).status == 201
    assert client_call(api, "DELETE", client_id).status == 409


# --- sessions: create ----------------------------------------------------------------------


def test_create_session_answers_201_with_location_etag_and_every_field(
    api: Handlers, db: Any, store: dict[str, str]
) -> None:
    client_id = new_client(api)
    reply = create_session(api, client_id, sessionId="s-1", **SESSION_FIELDS)
    assert reply.status == 201
    assert reply.headers["location"] == f"/sessions/s-1?clientId={client_id}"
    assert {name: reply.body[name] for name in SESSION_FIELDS} == SESSION_FIELDS
    assert reply.body["version"] == 1
    assert not {"pk", "sk"} & set(reply.body)
    (item,) = stored_sessions(db, store, client_id)
    assert item["sk"] == {"S": "SESSION#2026-11-29T10:00:00Z#s-1"}
    assert item["cost"] == {"S": "0.480000"}


def test_create_session_generates_its_id_and_start_when_not_given(api: Handlers) -> None:
    client_id = new_client(api)
    before = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    reply = create_session(api, client_id)
    assert reply.status == 201
    assert uuid.UUID(reply.body["sessionId"]).version == 4
    assert reply.body["startedAt"] >= before


def test_a_retried_session_create_returns_the_stored_session_once(
    api: Handlers, db: Any, store: dict[str, str]
) -> None:
    client_id = new_client(api)
    first = create_session(api, client_id, sessionId="again", **SESSION_FIELDS)
    again = create_session(api, client_id, sessionId="again", **SESSION_FIELDS)
    assert (first.status, again.status) == (201, 200)
    assert again.body == first.body
    assert again.headers["etag"] == first.headers["etag"]
    assert len(stored_sessions(db, store, client_id)) == 1


def test_a_retry_without_a_start_time_finds_the_session_the_first_try_started(
    api: Handlers, db: Any, store: dict[str, str]
) -> None:
    client_id = new_client(api)
    first = create_session(api, client_id, sessionId="cli-1", title="Task")
    time.sleep(1.1)
    again = create_session(api, client_id, sessionId="cli-1", title="Task")
    assert (first.status, again.status) == (201, 200)
    assert again.body == first.body
    assert len(stored_sessions(db, store, client_id)) == 1


def test_concurrent_creates_of_one_session_store_it_once(
    api: Handlers, db: Any, store: dict[str, str]
) -> None:
    client_id = new_client(api)

    def create(_: int) -> int:
        return create_session(api, client_id, sessionId="twin", title="Twin").status

    with ThreadPoolExecutor(max_workers=6) as pool:
        statuses = sorted(pool.map(create, range(6)))
    assert statuses == [200] * 5 + [201]
    assert len(stored_sessions(db, store, client_id)) == 1


def test_the_same_session_id_with_other_content_is_a_conflict(
    api: Handlers, db: Any, store: dict[str, str]
) -> None:
    client_id = new_client(api)
    create_session(api, client_id, sessionId="one", title="First")
    reply = create_session(api, client_id, sessionId="one", title="Second")
    assert reply.status == 409
    assert [item["title"] for item in stored_sessions(db, store, client_id)] == [{"S": "First"}]


def test_a_session_of_an_unknown_client_is_422_and_writes_nothing(
    api: Handlers, db: Any, store: dict[str, str]
) -> None:
    client_id = _id("ghost")
    reply = create_session(api, client_id, sessionId="orphan")
    assert reply.status == 422
    assert stored_sessions(db, store, client_id) == []
    assert stored_client(db, store, client_id) is None


def test_a_session_of_a_deleted_client_is_422(api: Handlers) -> None:
    client_id = new_client(api)
    assert client_call(api, "DELETE", client_id).status == 204
    assert create_session(api, client_id).status == 422


def test_a_client_written_before_claims_existed_takes_sessions(
    api: Handlers, store_endpoint: str, store: dict[str, str]
) -> None:
    client_id = _id("old")
    put_items(
        store_endpoint,
        store["Clients"],
        [wire(client_item(client_id, "Old GmbH", "2025-01-01T00:00:00Z"))],
    )
    assert create_session(api, client_id).status == 201
    assert client_call(api, "DELETE", client_id).status == 409


def test_a_session_the_seed_wrote_is_found_by_a_retried_create(
    api: Handlers, store_endpoint: str, store: dict[str, str]
) -> None:
    client_id = new_client(api)
    seeded = session_item(client_id, "2026-11-01T09:00:00Z", "seeded", title="Seeded")
    put_items(store_endpoint, store["Sessions"], [wire(seeded)])
    reply = create_session(
        api, client_id, sessionId="seeded", startedAt="2026-11-01T09:00:00Z", title="Seeded"
    )
    assert reply.status == 200
    assert reply.body["title"] == "Seeded"


# --- sessions: bad input -------------------------------------------------------------------


def _bad(reply: Reply, status: int = 400) -> Reply:
    assert reply.status == status, reply.body
    assert reply.headers["content-type"] == "application/problem+json"
    return reply


@pytest.mark.parametrize(
    ("fields", "pointer"),
    [
        ({"inputTokens": -1}, "/inputTokens"),
        ({"outputTokens": 1.5}, "/outputTokens"),
        ({"outputTokens": 10**13}, "/outputTokens"),
        ({"cost": 0.48, "currency": "USD"}, "/cost"),
        ({"cost": "0.1234567", "currency": "USD"}, "/cost"),
        ({"cost": "1.00"}, "/currency"),
        ({"currency": "usd"}, "/currency"),
        ({"billable": "yes"}, "/billable"),
        ({"title": ""}, "/title"),
        ({"title": "x" * 201}, "/title"),
        ({"startedAt": "2026-11-29T10:00:00+01:00"}, "/startedAt"),
        ({"startedAt": "2026-02-30T10:00:00Z"}, "/startedAt"),
        ({"startedAt": "2026-11-29T10:00:00.5Z"}, "/startedAt"),
        ({"sessionId": "a/b"}, "/sessionId"),
        ({"sessionId": "x" * 129}, "/sessionId"),
        ({"startedAt": "2026-11-29T10:00:00Z", "endedAt": "2026-11-29T09:59:59Z"}, "/endedAt"),
    ],
)
def test_a_field_breaking_its_rule_is_400_pointing_at_it_and_writes_nothing(
    api: Handlers, db: Any, store: dict[str, str], fields: dict[str, Any], pointer: str
) -> None:
    client_id = new_client(api)
    reply = _bad(create_session(api, client_id, **fields))
    assert {error["pointer"] for error in reply.body["errors"]} == {pointer}
    assert stored_sessions(db, store, client_id) == []


def test_every_broken_field_is_listed_at_once(api: Handlers) -> None:
    reply = _bad(create_session(api, new_client(api), inputTokens=-1, billable=1, title=""))
    pointers = sorted(error["pointer"] for error in reply.body["errors"])
    assert pointers == ["/billable", "/inputTokens", "/title"]


def test_unknown_fields_are_400_naming_each(api: Handlers) -> None:
    reply = _bad(create_session(api, new_client(api), durationMinutes=3, colour="red"))
    assert reply.body["detail"].startswith("unknown fields: colour, durationMinutes")
    assert reply.body["errors"] == [
        {"pointer": "/colour", "detail": "unknown field"},
        {"pointer": "/durationMinutes", "detail": "unknown field"},
    ]


def test_a_missing_client_id_points_at_it(api: Handlers) -> None:
    reply = _bad(api.call("POST /sessions", json_body={"title": "No client"}))
    assert reply.body["errors"] == [{"pointer": "/clientId", "detail": "is required"}]


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        '{"clientId": "a", "clientId": "b"}',
        '{"clientId": "a", "inputTokens": NaN}',
        '{"clientId": "\\ud800"}',
        "[]",
        "",
    ],
)
def test_a_body_that_is_not_a_json_object_is_400(api: Handlers, body: str) -> None:
    reply = api.call("POST /sessions", body=body, headers={"content-type": "application/json"})
    _bad(reply)


def test_a_body_that_is_not_utf_8_is_400(api: Handlers) -> None:
    reply = api.call(
        "POST /sessions", body=b'{"clientId": "\xff"}', headers={"content-type": "application/json"}
    )
    _bad(reply)


def test_a_base64_encoded_json_body_is_read(api: Handlers) -> None:
    client_id = new_client(api)
    body = json.dumps({"clientId": client_id, "title": "Encoded"}).encode()
    reply = api.call("POST /sessions", body=body, headers={"content-type": "application/json"})
    assert reply.status == 201


@pytest.mark.parametrize(
    "content_type",
    [None, "text/plain", "application/merge-patch+json", "application/json; charset=latin-1"],
)
def test_a_body_of_another_media_type_is_415(api: Handlers, content_type: str | None) -> None:
    headers = {"content-type": content_type} if content_type else {}
    reply = api.call("POST /sessions", body=json.dumps({"clientId": "a"}), headers=headers)
    _bad(reply, 415)
    assert reply.headers["accept-post"] == "application/json"


def test_a_body_over_64_kib_is_413_and_writes_nothing(
    api: Handlers, db: Any, store: dict[str, str]
) -> None:
    client_id = new_client(api)
    body = json.dumps({"clientId": client_id, "notes": "x" * (64 * 1024)})
    reply = api.call("POST /sessions", body=body, headers={"content-type": "application/json"})
    _bad(reply, 413)
    assert stored_sessions(db, store, client_id) == []


def test_a_body_of_exactly_64_kib_is_read(api: Handlers) -> None:
    client_id = new_client(api)
    document = json.dumps({"clientId": client_id})
    # JSON may end in whitespace: the body is exactly at the limit, the document small.
    body = document + " " * (64 * 1024 - len(document))
    assert len(body.encode()) == 64 * 1024
    reply = api.call("POST /sessions", body=body, headers={"content-type": "application/json"})
    assert reply.status == 201


# --- sessions: read, patch, delete ---------------------------------------------------------


def test_get_session_reads_what_was_written(api: Handlers) -> None:
    client_id = new_client(api)
    created = create_session(api, client_id, sessionId="read", **SESSION_FIELDS)
    reply = session_call(api, "GET", client_id, "read")
    assert reply.status == 200
    assert reply.body == created.body
    assert reply.headers["etag"] == created.headers["etag"]


def test_get_session_of_another_client_is_404(api: Handlers) -> None:
    client_id, other = new_client(api), new_client(api)
    create_session(api, client_id, sessionId="mine")
    assert session_call(api, "GET", other, "mine").status == 404
    assert session_call(api, "GET", client_id, "nope").status == 404


def test_get_session_needs_its_client_id(api: Handlers) -> None:
    reply = api.call(SESSION, path={"sessionId": "s"})
    assert _bad(reply).body["detail"] == "clientId is required"


def test_a_session_id_the_key_layout_cannot_hold_is_400(api: Handlers) -> None:
    reply = session_call(api, "GET", "client", "x" * 129)
    assert "sessionId" in _bad(reply).body["detail"]


def test_a_session_is_listed_once_it_is_created(api: Handlers) -> None:
    client_id = new_client(api)
    created = create_session(api, client_id, sessionId="listed", **SESSION_FIELDS)
    listed = [
        s for page in _pages(api, "GET /sessions", "sessions", clientId=client_id) for s in page
    ]
    assert listed == [created.body]


def test_patch_session_ends_it_and_raises_the_version(api: Handlers) -> None:
    client_id = new_client(api)
    created = create_session(api, client_id, sessionId="end", startedAt="2026-11-29T10:00:00Z")
    patch = {
        "endedAt": "2026-11-29T11:00:00Z",
        "outputTokens": 900,
        "cost": "0.1",
        "currency": "EUR",
    }
    reply = session_call(
        api,
        "PATCH",
        client_id,
        "end",
        json_body=patch,
        headers={"If-Match": created.headers["etag"]},
    )
    assert reply.status == 200
    assert {name: reply.body[name] for name in patch} == patch
    assert reply.body["version"] == 2
    assert session_call(api, "GET", client_id, "end").body == reply.body


def test_patch_session_with_a_stale_etag_is_412(api: Handlers) -> None:
    client_id = new_client(api)
    stale = create_session(api, client_id, sessionId="stale").headers["etag"]
    session_call(api, "PATCH", client_id, "stale", json_body={"title": "Now"})
    reply = session_call(
        api, "PATCH", client_id, "stale", json_body={"title": "Lost"}, headers={"If-Match": stale}
    )
    assert reply.status == 412
    assert session_call(api, "GET", client_id, "stale").body["title"] == "Now"


def test_patch_session_cannot_end_it_before_it_started(api: Handlers) -> None:
    client_id = new_client(api)
    create_session(api, client_id, sessionId="early", startedAt="2026-11-29T10:00:00Z")
    reply = session_call(
        api, "PATCH", client_id, "early", json_body={"endedAt": "2026-11-29T09:00:00Z"}
    )
    assert _bad(reply).body["errors"][0]["pointer"] == "/endedAt"
    assert "endedAt" not in session_call(api, "GET", client_id, "early").body


def test_patch_session_cannot_move_its_start(api: Handlers) -> None:
    client_id = new_client(api)
    create_session(api, client_id, sessionId="fixed")
    reply = session_call(
        api, "PATCH", client_id, "fixed", json_body={"startedAt": "2026-11-29T09:00:00Z"}
    )
    assert _bad(reply).body["errors"] == [{"pointer": "/startedAt", "detail": "unknown field"}]


def test_patch_session_removes_a_field_with_null(api: Handlers) -> None:
    client_id = new_client(api)
    create_session(api, client_id, sessionId="nulled", notes="draft")
    reply = session_call(api, "PATCH", client_id, "nulled", json_body={"notes": None})
    assert reply.status == 200
    assert "notes" not in reply.body


def test_patch_of_an_unknown_session_is_404(api: Handlers) -> None:
    reply = session_call(api, "PATCH", new_client(api), "none", json_body={"title": "x"})
    assert reply.status == 404


def test_delete_session_is_204_then_404(api: Handlers, db: Any, store: dict[str, str]) -> None:
    client_id = new_client(api)
    create_session(api, client_id, sessionId="gone")
    assert session_call(api, "DELETE", client_id, "gone").status == 204
    assert stored_sessions(db, store, client_id) == []
    assert session_call(api, "DELETE", client_id, "gone").status == 404


def test_delete_session_with_a_stale_etag_is_412(
    api: Handlers, db: Any, store: dict[str, str]
) -> None:
    client_id = new_client(api)
    stale = create_session(api, client_id, sessionId="kept").headers["etag"]
    session_call(api, "PATCH", client_id, "kept", json_body={"title": "Changed"})
    reply = session_call(api, "DELETE", client_id, "kept", headers={"If-Match": stale})
    assert reply.status == 412
    assert len(stored_sessions(db, store, client_id)) == 1


# --- no orphans ----------------------------------------------------------------------------


def test_session_creates_racing_a_client_delete_leave_no_orphan(
    api: Handlers, db: Any, store: dict[str, str]
) -> None:
    def create(client_id: str, n: int) -> int:
        return create_session(api, client_id, sessionId=f"race-{n}").status

    def delete(client_id: str) -> int:
        return client_call(api, "DELETE", client_id).status

    for _ in range(5):
        client_id = new_client(api)
        with ThreadPoolExecutor(max_workers=6) as pool:
            creates = [pool.submit(create, client_id, n) for n in range(4)]
            deletes = [pool.submit(delete, client_id) for _ in range(2)]
            statuses = [f.result() for f in creates + deletes]
        assert not [status for status in statuses if status >= 500], statuses
        sessions = stored_sessions(db, store, client_id)
        if stored_client(db, store, client_id) is None:
            assert sessions == []
        else:
            assert len(sessions) == statuses[:4].count(201)


@pytest.mark.parametrize("if_match", ["", "abc", '"unterminated', '*, "a"'])
def test_an_if_match_that_is_no_entity_tag_matches_nothing(api: Handlers, if_match: str) -> None:
    client_id = new_client(api)
    reply = merge(api, client_id, {"country": "DE"}, **{"If-Match": if_match})
    assert _bad(reply, 412).headers["etag"] == client_call(api, "GET", client_id).headers["etag"]
    assert "country" not in client_call(api, "GET", client_id).body


def test_a_session_another_program_wrote_can_be_patched_whatever_its_start_looks_like(
    api: Handlers, store_endpoint: str, store: dict[str, str]
) -> None:
    client_id = new_client(api)
    legacy = session_item(client_id, "2026-01-01T00:00:00.000Z", "legacy")
    put_items(store_endpoint, store["Sessions"], [wire(legacy)])
    reply = session_call(
        api, "PATCH", client_id, "legacy", json_body={"endedAt": "2026-01-01T01:00:00Z"}
    )
    assert reply.status == 200, reply.body
    assert reply.body["endedAt"] == "2026-01-01T01:00:00Z"


def test_a_store_failing_during_a_client_delete_leaves_no_delete_mark(
    api: Handlers, db: Any, store: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    client_id = new_client(api)
    # The handlers' own exception class: their modules are imported apart from the tests'.
    unavailable = sys.modules["_lib.http"].Unavailable

    def throttled(_: str) -> bool:
        raise unavailable("the store answered ThrottlingException")

    monkeypatch.setattr(api.clients, "_has_sessions", throttled)
    reply = client_call(api, "DELETE", client_id)
    assert reply.status == 503
    assert reply.headers["retry-after"] == "1"
    stored = stored_client(db, store, client_id)
    assert stored is not None and "deletingUntil" not in stored
    monkeypatch.undo()
    assert create_session(api, client_id).status == 201
