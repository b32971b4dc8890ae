"""Fuzzing `draht dev` with schemathesis, driven by the API's own OpenAPI document.

Every check schemathesis has runs on every response, with these deliberate
substitutions, each stricter than what it replaces:

- A cursor is opaque: the document can say its alphabet and length, not that the
  API issued it, so a random string that fits the schema is no valid cursor and the
  API rightly answers 400. Where schemathesis means to send valid data, the cursor
  it drew becomes the position inside a cursor issued (by the handlers' own encoder)
  for that very listing: valid in truth, and with fuzzed content past the checksum.
  Random cursors are then asserted to be refused with 400, by their own test below.
- A method no route declares gets what API Gateway answers to any unmatched request,
  404 `{"message":"Not Found"}`, which `draht dev` reproduces; schemathesis's generic
  `unsupported_method` expects 405 instead. That exact gateway answer is asserted.
- Where schemathesis means to send valid data, a drawn body is made valid in truth
  where JSON Schema cannot say what valid is (`valid_in_truth`): a session is created
  for a client that exists (an unknown one is a 422, asserted by the handler tests),
  never ends before it starts, an amount keeps its currency on the patched item, and a
  drawn `If-Match` (no item's current ETag, so a 412) is left out.
- Invalid data may also be refused with 413 (a body over 64 KiB is refused for its
  size before its content is read) or 412 (an `If-Match` that is no entity tag
  matches no ETag, RFC 9110 section 13.1.1).

One check is added: a problem's `status` must be its response's HTTP status, which
the document states in words only.

Besides single requests, `LinkedWorkflow` follows the document's links (a create,
then reads, patches and deletes of what it created, and sessions of a created
client) under the same checks, and every scenario deletes what it created, so each
starts from the seeded data.

Every request is signed as the server's auth wants (`draht dev` checks it as
deployed), so the document fuzzed is the one for a stage without auth: what is
fuzzed is the API behind the authorizer, which the auth tests cover on their own.

Bounded by default (12 linked scenarios of up to 10 steps); `DRAHT_LONG=1` (`make
fuzz-long`) runs at least 1,000 generated requests and at least 1,000 linked steps.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote, unquote, urlencode

import hypothesis
import pytest
import schemathesis
from dev_process import DevProcess, unthrottled
from hypothesis import strategies as st
from openapi_check import assert_problem_repeats_the_status
from schemathesis.checks import CHECKS, load_all_checks
from schemathesis.specs.openapi.checks import unsupported_method
from traffic import Connection, list_all

from draht.app import app
from draht.openapi import PROBLEM_MEDIA_TYPE, document
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
# An invalid body that is also over 64 KiB is refused for its size before its content is read:
# 413 rejects it as surely as a 400 would. An If-Match that is no entity tag matches no ETag:
# the precondition fails (412), as RFC 9110 section 13.1.1 compares.
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


known_clients: set[str] = set()
"""Every client that exists: the seeded ones, and those the fuzz created and did not delete."""
# Later than any start time the document admits, so a patched end never precedes its start.
LATEST_END = "9999-12-31T23:59:59Z"


@schema.hook
def map_case(context: Any, case: Any) -> Any:
    return valid_in_truth(case)


def valid_in_truth(case: Any) -> Any:
    """A positive case, made valid where the document cannot say what valid is."""
    if case.meta is None or not case.meta.generation.mode.is_positive:
        return case
    route_key = f"{case.method.upper()} {case.path}"
    query = case.query
    if isinstance(query, dict) and isinstance(query.get("cursor"), str):
        scope = query.get("clientId", "") if route_key == "GET /sessions" else ""
        if isinstance(scope, str):
            query["cursor"] = encode_cursor(route_key, scope, _position(route_key, query["cursor"]))
    if case.headers and case.headers.get("If-Match") not in (None, "*"):
        # A drawn ETag is no item's current one: a valid conditional request carries a real one.
        del case.headers["If-Match"]
    if isinstance(case.body, dict):
        _satisfy_cross_field_rules(route_key, case.body)
    return case


def _satisfy_cross_field_rules(route_key: str, body: dict[str, Any]) -> None:
    """Make a drawn body valid in truth where JSON Schema cannot say what valid is."""
    if route_key == "POST /sessions":
        client_id = body.get("clientId")
        if client_id not in known_clients and known_clients:
            # A session is billed to an existing client (an unknown one is a 422).
            clients = sorted(known_clients)
            body["clientId"] = clients[len(str(client_id)) % len(clients)]
        ended_at, started_at = body.get("endedAt"), body.get("startedAt")
        if isinstance(ended_at, str) and (not isinstance(started_at, str) or started_at > ended_at):
            # A session never ends before it starts; left out, the start is now.
            body["startedAt"] = ended_at
    elif route_key == "PATCH /sessions/{sessionId}":
        if isinstance(body.get("endedAt"), str):
            body["endedAt"] = LATEST_END
        _keep_amount_with_currency(body, "cost")
    elif route_key == "PATCH /clients/{clientId}":
        _keep_amount_with_currency(body, "hourlyRate")


def _keep_amount_with_currency(patch: dict[str, Any], amount: str) -> None:
    """An amount needs its currency on the patched item as a whole, not only in a create."""
    if "currency" in patch and patch["currency"] is None:
        patch[amount] = None
    elif patch.get(amount) is not None:
        patch.setdefault("currency", "EUR")


def _track_clients(case: Any, response: Any) -> None:
    route_key = f"{case.method.upper()} {case.path}"
    if route_key == "POST /clients" and response.status_code in (200, 201):
        known_clients.add(json.loads(response.content)["clientId"])
    elif route_key == "DELETE /clients/{clientId}" and response.status_code == 204:
        known_clients.discard(case.path_parameters["clientId"])


def undeclared_method_gets_gateway_not_found(ctx: Any, response: Any, case: Any) -> bool | None:
    declared = {method.upper() for method in DOCUMENT["paths"].get(case.path, {})}
    if case.method.upper() in declared:
        return None
    assert response.status_code == 404, f"{case.method} {case.path} answered {response.status_code}"
    assert json.loads(response.content) == {"message": "Not Found"}
    return True


def problem_repeats_the_http_status(ctx: Any, response: Any, case: Any) -> bool | None:
    (media_type,) = response.headers.get("content-type", [""])
    if media_type != PROBLEM_MEDIA_TYPE:
        return None
    assert_problem_repeats_the_status(
        response.status_code, media_type, json.loads(response.content)
    )
    return True


@pytest.fixture(scope="module")
def live(
    tmp_path_factory: pytest.TempPathFactory, live_store_endpoint: str | None
) -> Iterator[DevProcess]:
    folder = tmp_path_factory.mktemp("fuzz-store")
    args = ["--data-dir", str(folder), *unthrottled(folder)]
    if live_store_endpoint is not None:
        args += ["--dynamodb-endpoint", live_store_endpoint]
    with DevProcess(args) as server:
        server.seed_sample_data()
        known_clients.update(_all_client_ids(server.url))
        yield server
    if LONG:
        assert len(sent) >= LONG_RUN_MINIMUM_REQUESTS, f"only {len(sent)} requests were generated"


def _all_client_ids(url: str) -> list[str]:
    connection = Connection(url)
    try:
        return [client["clientId"] for client in list_all(connection, "/clients", {}, "clients")]
    finally:
        connection.close()


def test_every_schemathesis_check_is_enabled() -> None:
    load_all_checks()
    config = schema.config.checks_config_for()
    disabled = [
        name for name in CHECKS.get_all_names() if not config.get_by_name(name=name).enabled
    ]
    assert disabled == []


CHECK_CHANGES: dict[str, Any] = {
    "excluded_checks": [unsupported_method],
    "additional_checks": [
        undeclared_method_gets_gateway_not_found,
        problem_repeats_the_http_status,
    ],
}


@schema.parametrize()
@FUZZ_SETTINGS
def test_every_response_conforms_to_the_document(case: Any, live: DevProcess) -> None:
    sent.append(case.operation.label)
    # Again here: some of schemathesis's phases build their cases without the map_case hook.
    valid_in_truth(case)
    response = case.call(base_url=live.url, auth=live.requests_auth())
    _track_clients(case, response)
    case.validate_response(response, **CHECK_CHANGES)


STATEFUL_SCENARIOS = 150 if LONG else 12
STATEFUL_STEPS_PER_SCENARIO = 20 if LONG else 10
LONG_RUN_MINIMUM_STEPS = 1000
stateful_steps: list[str] = []


class LinkedWorkflow(schema.as_state_machine()):  # type: ignore[misc]
    """Scenarios that follow the document's links: a create, then reads, patches and deletes
    of what it created (and sessions of a created client), each answer under every check."""

    server: DevProcess

    def setup(self) -> None:
        self.created: list[str] = []

    def teardown(self) -> None:
        # Each scenario starts from the seeded data, so that Hypothesis can replay one: the
        # sessions and clients it created are deleted again (sessions first, as the API asks).
        connection = Connection(self.server.url)
        try:
            for path in sorted(self.created, key=lambda path: not path.startswith("/sessions")):
                status, _, body = connection.request("DELETE", path)
                assert status in (204, 404), f"DELETE {path}: {status} {body}"
                if path.startswith("/clients/"):
                    known_clients.discard(unquote(path.removeprefix("/clients/")))
        finally:
            connection.close()

    def get_call_kwargs(self, case: Any) -> dict[str, Any]:
        return {"base_url": self.server.url, "auth": self.server.requests_auth()}

    def before_call(self, case: Any) -> None:
        # The state machine draws its cases without the schema's map_case hook.
        valid_in_truth(case)

    def after_call(self, response: Any, case: Any) -> None:
        _track_clients(case, response)
        if case.method.upper() == "POST" and response.status_code in (200, 201):
            item = json.loads(response.content)
            if case.path == "/clients":
                self.created.append(f"/clients/{quote(item['clientId'], safe='')}")
            else:
                query = urlencode({"clientId": item["clientId"]})
                self.created.append(f"/sessions/{quote(item['sessionId'], safe='')}?{query}")

    def validate_response(
        self, response: Any, case: Any, additional_checks: Any = None, **kwargs: Any
    ) -> None:
        stateful_steps.append(case.operation.label)
        case.validate_response(response, transport_kwargs=kwargs, **CHECK_CHANGES)


def test_linked_scenarios_conform_with_no_server_error(live: DevProcess) -> None:
    LinkedWorkflow.server = live
    LinkedWorkflow.run(
        settings=hypothesis.settings(
            max_examples=STATEFUL_SCENARIOS,
            stateful_step_count=STATEFUL_STEPS_PER_SCENARIO,
            deadline=None,
            derandomize=not LONG,
            suppress_health_check=list(hypothesis.HealthCheck),
            # A failure is reported as found: shrinking would replay it against a store
            # that other scenarios have changed meanwhile.
            phases=(hypothesis.Phase.explicit, hypothesis.Phase.reuse, hypothesis.Phase.generate),
        )
    )
    followed = {label for label in stateful_steps if not label.startswith("POST ")}
    # The links were followed, not only the creates tried.
    assert {
        f"{method} {path}"
        for method in ("GET", "PATCH", "DELETE")
        for path in ("/clients/{clientId}", "/sessions/{sessionId}")
    } <= followed, followed
    if LONG:
        assert len(stateful_steps) >= LONG_RUN_MINIMUM_STEPS, len(stateful_steps)


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
