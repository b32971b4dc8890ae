"""`_lib.writes` on its own: the exact answers of the write paths, in-process.

tests/test_handlers_writes.py shows the write routes through real requests; these tests
pin what a route's status alone does not show: each problem's detail, the edges of
Content-Type and body decoding, the ETag's canonical form, and the retry loops'
decisions, with `read`/`delete`/`write_changes` stood in by plain functions. The one
store-backed test runs a real UpdateItem against the dynalite fixture.
"""

from __future__ import annotations

import base64
import calendar
import hashlib
import json
import time
from collections.abc import Iterator
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest
from documented_events import LambdaContext
from handler_env import create_tables, handler_lib

from draht.local.store import dynamodb_client


@pytest.fixture
def writes() -> Iterator[ModuleType]:
    with handler_lib("writes") as module:
        yield module


def request(
    writes: ModuleType,
    headers: dict[str, str] | None = None,
    body: str | None = None,
    *,
    base64_encoded: bool = False,
    context: Any = None,
) -> Any:
    event: dict[str, Any] = {"headers": headers or {}, "isBase64Encoded": base64_encoded}
    if body is not None:
        event["body"] = body
    return writes.Request(event, context)


def problem_of(writes: ModuleType, call: Any, *args: Any, **kwargs: Any) -> Any:
    with pytest.raises(writes.Problem) as caught:
        call(*args, **kwargs)
    return caught.value


# --- request bodies -----------------------------------------------------------------------


def test_a_request_without_a_body_has_an_empty_one(writes: ModuleType) -> None:
    assert writes._body_bytes({}) == b""
    assert writes._body_bytes({"body": None, "isBase64Encoded": False}) == b""


def test_a_base64_body_with_characters_outside_the_alphabet_is_400(writes: ModuleType) -> None:
    # validate=False would drop the "!" and read "e30=" as "{}".
    failure = problem_of(writes, writes._body_bytes, {"body": "e3!0=", "isBase64Encoded": True})
    assert (failure.status, str(failure)) == (
        400,
        "the body is not valid base64, as isBase64Encoded says",
    )


def test_a_body_string_with_a_lone_surrogate_is_400_not_utf_8(writes: ModuleType) -> None:
    failure = problem_of(writes, writes._body_bytes, {"body": "{\ud800}"})
    assert (failure.status, str(failure)) == (400, "the body is not valid UTF-8 text")


@pytest.mark.parametrize(
    ("parameters", "charset"),
    [
        (' charset="UTF-8"', "utf-8"),
        (" charset=Latin-1", "latin-1"),
        (' charset="X-Mac"', "x-mac"),
        (" format=flowed;charset=latin-1", "latin-1"),
        (" charset=utf-8=x", "utf-8=x"),
        (" format=flowed", ""),
    ],
)
def test_the_charset_parameter_is_read_whatever_its_case_quotes_or_place(
    writes: ModuleType, parameters: str, charset: str
) -> None:
    assert writes._charset(parameters) == charset


@pytest.mark.parametrize(
    "content_type",
    ["application/json; charset=utf-8", 'application/json;charset="UTF-8"', "Application/JSON"],
)
def test_json_in_utf_8_is_read_with_or_without_a_charset(
    writes: ModuleType, content_type: str
) -> None:
    sent = request(writes, {"content-type": content_type}, '{"name": "Zoë"}')
    assert writes.json_body(sent, writes.JSON) == {"name": "Zoë"}


def test_a_body_without_content_type_is_415_saying_what_to_send(writes: ModuleType) -> None:
    failure = problem_of(writes, writes.json_body, request(writes, body="{}"), writes.JSON)
    assert (failure.status, str(failure), failure.headers) == (
        415,
        "send the body as application/json in UTF-8 (got no Content-Type)",
        {"accept-post": "application/json"},
    )


def test_a_patch_in_another_charset_is_415_advertising_merge_patch(writes: ModuleType) -> None:
    content_type = "application/merge-patch+json; charset=latin-1"
    sent = request(writes, {"content-type": content_type}, "{}")
    failure = problem_of(writes, writes.json_body, sent, writes.MERGE_PATCH)
    assert (failure.status, str(failure), failure.headers) == (
        415,
        f"send the body as application/merge-patch+json in UTF-8 (got {content_type})",
        {"accept-patch": "application/merge-patch+json"},
    )


def test_a_body_over_the_limit_is_413_giving_its_size_and_the_limit(writes: ModuleType) -> None:
    sent = request(writes, {"content-type": "application/json"}, " " * 65_537)
    failure = problem_of(writes, writes.json_body, sent, writes.JSON)
    assert (failure.status, str(failure)) == (
        413,
        "the body is 65537 bytes; at most 65536 are taken",
    )


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_not_json_numbers(writes: ModuleType, constant: str) -> None:
    sent = request(writes, {"content-type": "application/json"}, f'{{"rate": {constant}}}')
    failure = problem_of(writes, writes.json_body, sent, writes.JSON)
    assert (failure.status, str(failure)) == (
        400,
        f"the body is not JSON: {constant} is not a JSON number",
    )


def test_members_given_twice_are_400_naming_each_once(writes: ModuleType) -> None:
    body = '{"b": 1, "a": 1, "b": 2, "a": 2, "c": 3}'
    sent = request(writes, {"content-type": "application/json"}, body)
    failure = problem_of(writes, writes.json_body, sent, writes.JSON)
    assert str(failure) == "the body is not JSON: a member is given twice: a, b"


@pytest.mark.parametrize(
    ("body", "base64_encoded"),
    [
        ('{"name": "\\ud800"}', False),
        (base64.b64encode(b'{"name": "\xff"}').decode("ascii"), True),
    ],
)
def test_json_that_no_utf_8_string_can_hold_is_400(
    writes: ModuleType, body: str, base64_encoded: bool
) -> None:
    sent = request(
        writes, {"content-type": "application/json"}, body, base64_encoded=base64_encoded
    )
    failure = problem_of(writes, writes.json_body, sent, writes.JSON)
    assert (failure.status, str(failure)) == (400, "the body is not valid UTF-8 text")


def test_a_body_that_is_not_json_is_400_with_the_parser_s_reason(writes: ModuleType) -> None:
    sent = request(writes, {"content-type": "application/json"}, '{"name": ')
    failure = problem_of(writes, writes.json_body, sent, writes.JSON)
    assert str(failure).startswith("the body is not JSON: Expecting value: line 1")


# --- validation ---------------------------------------------------------------------------


def test_json_pointers_escape_tilde_and_slash(writes: ModuleType) -> None:
    # RFC 6901 section 3: "~" is written "~0" and "/" is written "~1".
    assert writes._pointer("a~/b") == "/a~0~1b"
    assert writes._name_pointer("data.a.b") == "/a/b"


def test_a_message_without_the_field_prefix_is_kept_whole(writes: ModuleType) -> None:
    error = SimpleNamespace(message="must be object", name="data.name")
    assert writes._rest(error) == "must be object"


def test_a_field_error_reads_as_the_field_and_its_rule(writes: ModuleType) -> None:
    failure = writes.field_error("endedAt", "must not be before startedAt")
    assert str(failure) == "endedAt must not be before startedAt"
    assert failure.errors == [{"pointer": "/endedAt", "detail": "must not be before startedAt"}]


def test_every_kind_of_broken_rule_is_listed_together(writes: ModuleType) -> None:
    failure = problem_of(
        writes, writes.validate, "ClientCreate", {"bogus": 1, "zzz": 2, "name": "", "hourlyRate": 5}
    )
    allowed = ", ".join(writes.create_fields("ClientCreate"))
    assert allowed.startswith("clientId, name, ")
    assert str(failure) == f"unknown fields: bogus, zzz (allowed: {allowed})"
    assert failure.errors == [
        {"pointer": "/currency", "detail": "is required with hourlyRate"},
        {"pointer": "/name", "detail": "must be longer than or equal to 1 characters"},
        {"pointer": "/hourlyRate", "detail": "must be string"},
        {"pointer": "/bogus", "detail": "unknown field"},
        {"pointer": "/zzz", "detail": "unknown field"},
    ]


def test_a_missing_field_and_a_missing_dependency_are_both_listed(writes: ModuleType) -> None:
    failure = problem_of(writes, writes.validate, "ClientCreate", {"hourlyRate": "5"})
    assert str(failure) == "/name is required; /currency is required with hourlyRate"
    assert [error["pointer"] for error in failure.errors] == ["/name", "/currency"]


def test_a_body_that_is_no_object_is_named_the_body(writes: ModuleType) -> None:
    failure = problem_of(writes, writes.validate, "ClientCreate", "Acme")
    assert str(failure) == "the body must be object"


def test_with_only_an_error_of_the_body_itself_is_let_pass(writes: ModuleType) -> None:
    assert writes.validate("ClientCreate", "Acme", only=("name",)) is None


def test_an_id_breaking_two_rules_names_both(writes: ModuleType) -> None:
    failure = problem_of(writes, writes.validate_id, "ClientId", "clientId", "a/" + "b" * 300)
    assert str(failure) == (
        "clientId must be shorter than or equal to 256 characters; "
        "clientId must match pattern ^[^/\\u0000-\\u001f\\u007f]+$"
    )


def test_an_id_with_a_lone_surrogate_is_400_naming_it(writes: ModuleType) -> None:
    failure = problem_of(writes, writes.validate_id, "ClientId", "clientId", "a\ud800")
    assert (failure.status, str(failure)) == (400, "clientId is not valid UTF-8")


# --- versions, ETags and preconditions ----------------------------------------------------


def test_the_etag_is_a_digest_of_the_canonical_json(writes: ModuleType) -> None:
    # Canonical: keys sorted, no spaces, UTF-8 as is; the first 16 bytes of its SHA-256.
    body = {"version": 2, "name": "Zoë", "tags": [1, 2]}
    canonical = '{"name":"Zoë","tags":[1,2],"version":2}'.encode()
    digest = base64.urlsafe_b64encode(hashlib.sha256(canonical).digest()[:16]).rstrip(b"=")
    assert writes.etag(body) == f'"{digest.decode("ascii")}"'
    assert writes.etag(dict(reversed(body.items()))) == writes.etag(body)


def test_if_match_star_does_not_pin_a_version(writes: ModuleType) -> None:
    assert writes.if_match(request(writes, {"if-match": " * "}), '"abc"') is False
    assert writes.if_match(request(writes), '"abc"') is False


def test_if_match_pins_the_version_it_lists_among_others(writes: ModuleType) -> None:
    sent = request(writes, {"if-match": '"old","abc"'})
    assert writes.if_match(sent, '"abc"') is True


def test_if_match_naming_no_current_etag_is_412_with_the_current_one(writes: ModuleType) -> None:
    failure = problem_of(writes, writes.if_match, request(writes, {"if-match": '"old"'}), '"abc"')
    assert (failure.status, str(failure), failure.headers) == (
        412,
        "If-Match names no current ETag of this item: it changed since it was read",
        {"etag": '"abc"'},
    )


def test_problems_of_the_write_paths_say_what_happened(writes: ModuleType) -> None:
    stale = writes.stale()
    assert (stale.status, str(stale)) == (
        412,
        "the item changed since the ETag in If-Match was issued",
    )
    missing = writes.not_found("client c1")
    assert (missing.status, str(missing)) == (404, "no client c1")


def test_a_repeated_create_with_other_content_names_every_differing_field(
    writes: ModuleType,
) -> None:
    stored = {"name": "Acme", "email": "a@example.com", "phone": "+49 1"}
    requested = {"name": "Other", "phone": "+49 1"}
    failure = problem_of(
        writes, writes.same_or_conflict, stored, requested, ("name", "email", "phone"), "client c"
    )
    assert (failure.status, str(failure)) == (
        409,
        "client c exists with other content (name, email differ); choose another id, or patch it",
    )


def test_a_new_item_is_stored_at_version_1_with_its_write_time(writes: ModuleType) -> None:
    item = writes.stored_item({"name": "Acme"})
    assert set(item) == {"name", "version", "updatedAt"}
    assert item["version"] == {"N": "1"}


def test_timestamps_are_utc_whatever_the_local_zone(
    writes: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TZ", "Asia/Kathmandu")
    time.tzset()
    try:
        before = time.time()
        stamp = writes.utc_second()
        after = time.time()
    finally:
        monkeypatch.undo()
        time.tzset()
    parsed = calendar.timegm(time.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ"))
    assert int(before) <= parsed <= int(after)


def test_a_deadline_is_the_remaining_time_plus_the_in_flight_margin(writes: ModuleType) -> None:
    for context, remaining in ((LambdaContext(remaining_ms=10_000), 10_000), (None, 900_000)):
        before = int(time.time() * 1000)
        deadline = writes.deadline_ms(request(writes, context=context))
        after = int(time.time() * 1000)
        assert before + remaining + 5000 <= deadline <= after + remaining + 5000


# --- the retry loops ----------------------------------------------------------------------

STORED = {"clientId": {"S": "c1"}, "name": {"S": "Acme"}, "email": {"S": "a@example.com"}}
PUBLIC = {"clientId": "c1", "name": "Acme", "email": "a@example.com"}


def identity(item: dict[str, Any]) -> dict[str, Any]:
    return item


def patch_request(writes: ModuleType, patch: Any, **headers: str) -> Any:
    return request(
        writes, {"content-type": "application/merge-patch+json", **headers}, json.dumps(patch)
    )


def test_deleting_with_the_current_etag_deletes(writes: ModuleType) -> None:
    deleted: list[Any] = []
    sent = request(writes, {"if-match": writes.etag(PUBLIC)})
    answer = writes.delete_versioned(sent, lambda: STORED, identity, deleted.append, "client c1")
    assert answer["statusCode"] == 204
    assert deleted == [STORED]


def test_a_delete_without_if_match_retries_after_a_concurrent_write(writes: ModuleType) -> None:
    attempts: list[Any] = []

    def delete(stored: Any) -> None:
        attempts.append(stored)
        if len(attempts) == 1:
            raise writes.ConditionFailed

    answer = writes.delete_versioned(request(writes), lambda: STORED, identity, delete, "c")
    assert (answer["statusCode"], len(attempts)) == (204, 2)


def test_a_delete_that_keeps_losing_gives_up_with_409(writes: ModuleType) -> None:
    def delete(stored: Any) -> None:
        raise writes.ConditionFailed

    failure = problem_of(
        writes, writes.delete_versioned, request(writes), lambda: STORED, identity, delete, "c1"
    )
    assert (failure.status, str(failure)) == (
        409,
        "c1 kept changing while it was being deleted; retry",
    )


def test_deleting_a_missing_item_is_404_naming_it(writes: ModuleType) -> None:
    failure = problem_of(
        writes, writes.delete_versioned, request(writes), lambda: None, identity, print, "client c1"
    )
    assert (failure.status, str(failure)) == (404, "no client c1")


def never_written(stored: Any, changes: Any) -> Any:
    raise AssertionError("nothing to write")


def patch_client(
    writes: ModuleType, patch: Any, read: Any, write_changes: Any, check: Any = None
) -> Any:
    """merge_patch as PATCH /clients/{clientId} calls it, with `read`/`write_changes` given."""
    sent = patch_request(writes, patch)
    return writes.merge_patch(
        sent, "ClientPatch", "ClientCreate", read, identity, write_changes, "client c1", check
    )


def test_patching_a_missing_item_is_404_naming_it(writes: ModuleType) -> None:
    failure = problem_of(writes, patch_client, writes, {"name": "B"}, lambda: None, never_written)
    assert (failure.status, str(failure)) == (404, "no client c1")


def test_a_patch_changing_nothing_answers_the_item_without_writing(writes: ModuleType) -> None:
    answer = patch_client(writes, {"name": "Acme", "phone": None}, lambda: STORED, never_written)
    assert answer["statusCode"] == 200
    assert json.loads(answer["body"]) == PUBLIC
    assert answer["headers"]["etag"] == writes.etag(PUBLIC)


def test_null_removes_a_field_from_what_is_checked_and_written(writes: ModuleType) -> None:
    checked: list[Any] = []
    written: list[Any] = []

    def write_changes(stored: Any, changes: Any) -> Any:
        written.append(changes)
        return {"clientId": {"S": "c1"}, "name": {"S": "Acme"}}

    patch = {"email": None, "phone": None}
    answer = patch_client(writes, patch, lambda: STORED, write_changes, checked.append)
    assert checked == [{"clientId": "c1", "name": "Acme"}]
    assert written == [{"email": None}]
    assert json.loads(answer["body"]) == {"clientId": "c1", "name": "Acme"}


def test_a_patch_that_keeps_losing_gives_up_with_409(writes: ModuleType) -> None:
    def write_changes(stored: Any, changes: Any) -> Any:
        raise writes.ConditionFailed

    failure = problem_of(writes, patch_client, writes, {"name": "B"}, lambda: STORED, write_changes)
    assert (failure.status, str(failure)) == (
        409,
        "client c1 kept changing while this patch was applied; retry",
    )


# --- against the store ------------------------------------------------------------------


def test_an_update_removes_several_fields_and_stamps_updated_at(
    writes: ModuleType, store_endpoint: str
) -> None:
    table = create_tables(store_endpoint, "writes-unit")["Clients"]
    db = dynamodb_client(store_endpoint)
    key = {"clientId": {"S": "c1"}}
    stored = {**key, "name": {"S": "Acme"}, "email": {"S": "a@b.c"}, "phone": {"S": "+49 1"}}
    stored |= {"version": {"N": "4"}, "updatedAt": {"S": "2020-01-01T00:00:00Z"}}
    db.put_item(TableName=table, Item=stored)
    written = writes.conditional_update(
        db.update_item, table, key, stored, {"email": None, "phone": None, "name": "B"}
    )
    assert set(written) == {"clientId", "name", "version", "updatedAt"}
    assert (written["name"], written["version"]) == ({"S": "B"}, {"N": "5"})
    assert written["updatedAt"] != stored["updatedAt"]
