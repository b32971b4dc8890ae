"""`_lib.http` on its own: the error contract every handler shares, its request line, and
the query helpers' edges.

The handler suites show the same contract through real requests; these tests pin what
those cannot reach or see: every problem title, the last request-id fallback, the
latency's unit, and the log level the module sets when Lambda does not.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import pytest
from documented_events import LambdaContext, api_event
from handler_env import handler_lib

ROUTE = "GET /things"


@pytest.fixture
def http() -> Iterator[ModuleType]:
    with handler_lib("http") as module:
        yield module


def _serve(http: ModuleType, work: Callable[[Any], Any], **event: Any) -> Any:
    return http.serve({**api_event(ROUTE, request_id="req-1"), **event}, None, {ROUTE: work})


def _problem(response: dict[str, Any]) -> dict[str, Any]:
    assert response["headers"]["content-type"] == "application/problem+json"
    body: dict[str, Any] = json.loads(response["body"])
    assert body["status"] == response["statusCode"]
    assert body["type"] == "about:blank"
    return body


def test_a_bad_request_is_a_400_problem_with_its_detail(http: ModuleType) -> None:
    def work(_: Any) -> Any:
        raise http.BadRequest("limit is wrong")

    response = _serve(http, work)
    assert response["statusCode"] == 400
    assert _problem(response) == {
        "type": "about:blank",
        "title": "Bad Request",
        "status": 400,
        "detail": "limit is wrong",
        "requestId": "req-1",
    }


def test_a_problem_body_is_compact_json_in_utf_8(http: ModuleType) -> None:
    response = http.problem(400, "clientId 'é' is unknown", "req-é")
    assert response["body"] == (
        '{"type":"about:blank","title":"Bad Request","status":400,'
        '"detail":"clientId \'é\' is unknown","requestId":"req-é"}'
    )


def test_an_unavailable_store_is_a_503_problem_to_retry_after_one_second(
    http: ModuleType,
) -> None:
    def work(_: Any) -> Any:
        raise http.Unavailable("the store is throttling")

    response = _serve(http, work)
    assert response["statusCode"] == 503
    assert response["headers"]["retry-after"] == "1"
    assert _problem(response) == {
        "type": "about:blank",
        "title": "Service Unavailable",
        "status": 503,
        "detail": "the store is throttling; retry shortly",
        "requestId": "req-1",
    }


def test_anything_else_is_a_500_problem_quoting_only_the_request_id(
    http: ModuleType, caplog: pytest.LogCaptureFixture
) -> None:
    def work(_: Any) -> Any:
        raise KeyError("secret-internal-detail")

    response = _serve(http, work)
    assert response["statusCode"] == 500
    assert "retry-after" not in response["headers"]
    assert _problem(response) == {
        "type": "about:blank",
        "title": "Internal Server Error",
        "status": 500,
        "detail": "unexpected error; quote request id req-1 when reporting it",
        "requestId": "req-1",
    }
    failure = next(r for r in caplog.records if r.levelno == logging.ERROR)
    assert failure.getMessage() == "unhandled error"
    assert (failure.requestId, failure.route) == ("req-1", ROUTE)  # type: ignore[attr-defined]
    assert failure.exc_info is not None


def test_an_event_of_no_route_it_serves_is_a_500_logged_with_what_it_asked_for(
    http: ModuleType, caplog: pytest.LogCaptureFixture
) -> None:
    # A direct invocation (`aws lambda invoke` with a hand-made event) may name no route.
    event = api_event(ROUTE, request_id="req-1")
    del event["routeKey"]
    for asked, logged_route in ((event, ""), ({**event, "routeKey": "GET /nope"}, "GET /nope")):
        caplog.clear()
        assert http.serve(asked, None, {ROUTE: lambda _: None})["statusCode"] == 500
        failure = next(r for r in caplog.records if r.levelno == logging.ERROR)
        assert failure.route == logged_route  # type: ignore[attr-defined]
        assert failure.exc_info is not None
        assert str(failure.exc_info[1]) == f"this function serves no route {logged_route!r}"


def test_a_success_passes_the_query_to_the_work_and_its_response_through(
    http: ModuleType,
) -> None:
    seen: list[dict[str, str]] = []

    def work(request: Any) -> Any:
        seen.append(request.query)
        return http.json_response(200, {"ok": "é"}, {"x-extra": "1"})

    response = _serve(http, work, queryStringParameters={"a": "1,2"})
    assert seen == [{"a": "1,2"}]
    assert response == {
        "statusCode": 200,
        "headers": {"content-type": "application/json", "x-extra": "1"},
        "body": '{"ok":"é"}',
    }


@pytest.mark.parametrize(
    ("request_context", "context", "expected"),
    [
        ({"requestId": "gw-id"}, LambdaContext(aws_request_id="lambda-id"), "gw-id"),
        ({"requestId": ""}, LambdaContext(aws_request_id="lambda-id"), "lambda-id"),
        ({}, LambdaContext(aws_request_id="lambda-id"), "lambda-id"),
        (None, LambdaContext(aws_request_id="lambda-id"), "lambda-id"),
        ({"requestId": 7}, LambdaContext(aws_request_id="lambda-id"), "lambda-id"),
        ({}, None, "unknown"),
        ({}, LambdaContext(aws_request_id=""), "unknown"),
    ],
    ids=[
        "gateway",
        "empty-gateway-id",
        "no-gateway-id",
        "no-request-context",
        "non-string-gateway-id",
        "no-context",
        "empty-context-id",
    ],
)
def test_the_request_id_falls_back_from_the_gateway_to_lambda_to_unknown(
    http: ModuleType, request_context: Any, context: Any, expected: str
) -> None:
    event = {**api_event(ROUTE), "requestContext": request_context}

    def work(_: Any) -> Any:
        raise http.BadRequest("x")

    response = http.serve(event, context, {ROUTE: work})
    assert _problem(response)["requestId"] == expected


def test_the_request_line_carries_the_latency_in_milliseconds_to_a_tenth(
    http: ModuleType, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.INFO, logger="draht")
    # The clock reads 12.3456 ms apart around the work; anyone else gets the real clock.
    readings = [100.0, 100.0123456]
    real_clock = time.perf_counter
    monkeypatch.setattr(
        http.time, "perf_counter", lambda: readings.pop(0) if readings else real_clock()
    )

    _serve(http, lambda _: http.json_response(200, {}))
    (line,) = caplog.records
    assert line.latencyMs == 12.3  # type: ignore[attr-defined]
    assert line.getMessage() == f"req-1 {ROUTE} 200 12.3 ms"
    assert (line.requestId, line.route, line.status) == ("req-1", ROUTE, 200)  # type: ignore[attr-defined]


@pytest.fixture
def unset_draht_logger() -> Iterator[logging.Logger]:
    """The `draht` logger as a fresh Lambda container has it, restored afterwards."""
    logger = logging.getLogger("draht")
    level = logger.level
    logger.setLevel(logging.NOTSET)
    yield logger
    logger.setLevel(level)


def test_without_lambdas_log_level_the_request_line_is_logged_at_info(
    unset_draht_logger: logging.Logger,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # No caplog.set_level here: the level that lets the line through must be the module's.
    monkeypatch.delenv("AWS_LAMBDA_LOG_LEVEL", raising=False)
    with handler_lib("http") as http:
        assert unset_draht_logger.level == logging.INFO
        _serve(http, lambda _: http.json_response(200, {}))
    assert [r.levelno for r in caplog.records] == [logging.INFO]


def test_with_lambdas_log_level_the_module_leaves_the_level_to_lambda(
    unset_draht_logger: logging.Logger, monkeypatch: pytest.MonkeyPatch
) -> None:
    # https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs-advanced.html
    # ("Log-level filtering": Lambda sets AWS_LAMBDA_LOG_LEVEL and configures the root logger)
    monkeypatch.setenv("AWS_LAMBDA_LOG_LEVEL", "WARN")
    with handler_lib("http"):
        assert unset_draht_logger.level == logging.NOTSET


def test_query_parameters_are_the_events_or_none(http: ModuleType) -> None:
    assert http.Request({"queryStringParameters": {"a": "1"}}, None).query == {"a": "1"}
    assert http.Request({"queryStringParameters": None}, None).query == {}
    assert http.Request({}, None).query == {}


@pytest.mark.parametrize(
    ("parameters", "detail"),
    [
        ({}, "clientId is required"),
        ({"clientId": ""}, "clientId must be 1 to 5 characters long"),
        ({"clientId": "abcdef"}, "clientId must be 1 to 5 characters long"),
        ({"clientId": "a\ud800"}, "clientId is not valid UTF-8"),
    ],
)
def test_required_text_refuses_missing_empty_long_and_broken_text(
    http: ModuleType, parameters: dict[str, str], detail: str
) -> None:
    with pytest.raises(http.BadRequest) as raised:
        http.required_text(parameters, "clientId", 5)
    assert str(raised.value) == detail


@pytest.mark.parametrize("value", ["a", "abcde", "é💥"])
def test_required_text_accepts_one_to_max_characters(http: ModuleType, value: str) -> None:
    assert http.required_text({"clientId": value}, "clientId", 5) == value


@pytest.mark.parametrize(
    ("raw", "limit"), [(None, 25), ("1", 1), ("9", 9), ("42", 42), ("100", 100)]
)
def test_a_limit_is_a_plain_whole_number_from_1_to_100(
    http: ModuleType, raw: str | None, limit: int
) -> None:
    assert http.parse_limit({} if raw is None else {"limit": raw}) == limit


@pytest.mark.parametrize("raw", ["0", "101", "999", "1000", "05", "+5", " 5", "1_0", "2.5e1", ""])
def test_any_other_limit_is_refused_naming_the_range(http: ModuleType, raw: str) -> None:
    with pytest.raises(http.BadRequest) as raised:
        http.parse_limit({"limit": raw})
    assert str(raised.value) == f"limit must be a whole number from 1 to 100 (got {raw!r})"


def test_a_problem_lists_its_errors_when_it_has_some(http: ModuleType) -> None:
    errors = [{"field": "/name", "message": "must be a string"}]
    body = json.loads(http.problem(400, "the body is invalid", "req-1", None, errors)["body"])
    assert body["errors"] == errors
    assert "errors" not in json.loads(http.problem(400, "d", "req-1")["body"])


def test_a_bad_request_with_errors_reaches_the_problem_body(http: ModuleType) -> None:
    errors = [{"field": "/name", "message": "must be a string"}]

    def work(_: Any) -> Any:
        raise http.BadRequest("the body is invalid", errors)

    assert _problem(_serve(http, work))["errors"] == errors


def test_a_route_reads_the_time_lambda_leaves_it(http: ModuleType) -> None:
    assert http.Request({}, LambdaContext(remaining_ms=1234)).remaining_ms() == 1234
    assert http.Request({}, None).remaining_ms() == 0


# serve mutants 20 (the route's work gets no context) and 24 (a problem's own headers dropped).


def test_the_route_receives_the_invocation_context(http: ModuleType) -> None:
    context = LambdaContext()
    seen: list[Any] = []

    def work(request: Any) -> Any:
        seen.append(request.context)
        return http.json_response(200, {})

    http.serve(api_event(ROUTE, request_id="req-1"), context, {ROUTE: work})
    assert seen == [context]


def test_a_problem_keeps_the_headers_it_was_raised_with(http: ModuleType) -> None:
    def work(_: Any) -> Any:
        raise http.Problem(503, "the store is busy", headers={"retry-after": "1"})

    response = _serve(http, work)
    assert (response["statusCode"], response["headers"]["retry-after"]) == (503, "1")
