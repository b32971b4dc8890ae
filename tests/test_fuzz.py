"""Fuzzing `draht dev` with schemathesis, driven by the API's own OpenAPI document.

Every check schemathesis has runs on every response, with these deliberate
substitutions, each stricter than what it replaces:

- A cursor is opaque: the document can say its alphabet and length, not that the
  API issued it, so a random string that fits the schema is no valid cursor and the
  API rightly answers 400. Where schemathesis means to send valid data, the cursor
  it drew becomes the position inside a cursor issued (by the handlers' own encoder)
  for that very listing: valid in truth, and with fuzzed content past the checksum.
  Random cursors are then asserted to be refused with 400, by their own test below.
- A session's `endedAt` is never before its `startedAt`: where schemathesis means to
  send valid data, a drawn pair in the wrong order is put in order.
- A method no route declares gets what API Gateway answers to any unmatched request,
  404 `{"message":"Not Found"}`, which `draht dev` reproduces; schemathesis's generic
  `unsupported_method` expects 405 instead. That exact gateway answer is asserted.

Every request is signed as the server's auth wants (`draht dev` checks it as
deployed), so the document fuzzed is the one for a stage without auth: what is
fuzzed is the API behind the authorizer, which the auth tests cover on their own.

Bounded by default; `DRAHT_LONG=1` (`make fuzz-long`) runs at least 1,000
generated requests.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
from collections.abc import Callable, Iterator
from typing import Any

import hypothesis
import pytest
import schemathesis
from dev_process import DevProcess, unthrottled
from hypothesis import strategies as st
from schemathesis.checks import CHECKS, load_all_checks
from schemathesis.specs.openapi.checks import unsupported_method
from traffic import Connection

from draht.app import app
from draht.openapi import document
from draht.package import HANDLERS_DIR

LONG = os.environ.get("DRAHT_LONG") == "1"
EXAMPLES_PER_OPERATION = 400 if LONG else 50
# The bounded run draws the same cases every time, so `make test` cannot flake; the long
# run draws new ones each time it runs.
FUZZ_SETTINGS = hypothesis.settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    derandomize=not LONG,
    suppress_health_check=[hypothesis.HealthCheck.too_slow],
)
LONG_RUN_MINIMUM_REQUESTS = 1000

DOCUMENT = document(app, auth="none")
schema = schemathesis.openapi.from_dict(DOCUMENT)
# A schema cannot know state: a valid body may name a client that does not exist (422) and a
# valid If-Match an ETag that is not current (412). Both are documented answers, not rejections.
_acceptance = schema.config.checks.positive_data_acceptance
_acceptance.expected_statuses = [*_acceptance.expected_statuses, "412", "422"]
# An If-Match that is no entity tag matches no ETag: the precondition fails (412), as RFC 9110
# section 13.1.1 compares; a body over 64 KiB is refused as too large (413) before it is read.
# Schema-violating data long enough passes HTTP API's 10,240-byte quota on the request line
# and header values: the gateway refuses it with 431 before any handler sees it.
_rejection = schema.config.checks.negative_data_rejection
_rejection.expected_statuses = [*_rejection.expected_statuses, "412", "413", "431"]
sent: list[str] = []


def _issued_cursor_encoder() -> Callable[[str, str, str], str]:
    """The handlers' own `cursor.encode`, imported without leaving `handlers/` importable."""
    sys.path.insert(0, str(HANDLERS_DIR))
    try:
        module = importlib.import_module("_lib.cursor")
    finally:
        sys.path.remove(str(HANDLERS_DIR))
        for name in [name for name in sys.modules if name == "_lib" or name.startswith("_lib.")]:
            del sys.modules[name]
    encode: Callable[[str, str, str], str] = module.encode
    return encode


encode_cursor = _issued_cursor_encoder()


def _position(route_key: str, drawn: str) -> str:
    """A well-formed key position built from a drawn cursor: a session sort key, or a clientId."""
    # Both stay within the handlers' bounds for a position (1 KiB and 2 KiB of UTF-8).
    if route_key == "GET /sessions":
        return f"SESSION#2026-01-01T00:00:00.000Z#{drawn[:900]}"
    return drawn[:2000]


def _never_ended_before_started(body: Any) -> None:
    """A session's endedAt is never before its startedAt (now, when not given): a rule across
    two fields, stated in the document's words but beyond what a schema can express."""
    if not isinstance(body, dict) or not isinstance(body.get("endedAt"), str):
        return
    started = body.get("startedAt")
    if not isinstance(started, str):
        body["startedAt"] = body["endedAt"]
    elif body["endedAt"] < started:
        body["startedAt"], body["endedAt"] = body["endedAt"], started


@schema.hook
def map_case(context: Any, case: Any) -> Any:
    query = case.query
    if case.meta is None or not case.meta.generation.mode.is_positive:
        return case
    if f"{case.method.upper()} {case.path}" == "POST /sessions":
        _never_ended_before_started(case.body)
    if not isinstance(query, dict) or not isinstance(query.get("cursor"), str):
        return case
    route_key = f"{case.method.upper()} {case.path}"
    scope = query.get("clientId", "") if route_key == "GET /sessions" else ""
    if not isinstance(scope, str):
        return case
    query["cursor"] = encode_cursor(route_key, scope, _position(route_key, query["cursor"]))
    return case


def undeclared_method_gets_gateway_not_found(ctx: Any, response: Any, case: Any) -> bool | None:
    declared = {method.upper() for method in DOCUMENT["paths"].get(case.path, {})}
    if case.method.upper() in declared:
        return None
    assert response.status_code == 404, f"{case.method} {case.path} answered {response.status_code}"
    assert json.loads(response.content) == {"message": "Not Found"}
    return True


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevProcess]:
    folder = tmp_path_factory.mktemp("fuzz-store")
    with DevProcess(["--data-dir", str(folder), *unthrottled(folder)]) as server:
        server.seed_sample_data()
        yield server
    if LONG:
        assert len(sent) >= LONG_RUN_MINIMUM_REQUESTS, f"only {len(sent)} requests were generated"


def test_every_schemathesis_check_is_enabled() -> None:
    load_all_checks()
    config = schema.config.checks_config_for()
    disabled = [
        name for name in CHECKS.get_all_names() if not config.get_by_name(name=name).enabled
    ]
    assert disabled == []


@schema.parametrize()
@FUZZ_SETTINGS
def test_every_response_conforms_to_the_document(case: Any, live: DevProcess) -> None:
    sent.append(case.operation.label)
    case.call_and_validate(
        base_url=live.url,
        auth=live.requests_auth(),
        excluded_checks=[unsupported_method],
        additional_checks=[undeclared_method_gets_gateway_not_found],
    )


@hypothesis.given(
    forged=st.from_regex(r"[A-Za-z0-9_-]{1,200}", fullmatch=True),
    route=st.sampled_from(["/clients", "/sessions"]),
)
@FUZZ_SETTINGS
def test_a_cursor_the_api_did_not_issue_is_refused(
    forged: str, route: str, live: DevProcess
) -> None:
    query = {"cursor": forged, **({"clientId": "any-client"} if route == "/sessions" else {})}
    connection = Connection(live.url)
    try:
        status, headers, body = connection.get(route, query)
    finally:
        connection.close()
    sent.append(f"GET {route}")
    assert status == 400
    assert headers["content-type"] == "application/problem+json"
    assert body["status"] == 400 and body["requestId"]
