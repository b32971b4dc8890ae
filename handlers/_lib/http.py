"""API Gateway v2 in and out: requests, JSON and problem+json responses, one log line.

Every handler runs its routes through `serve`, so each request gets the same error
mapping (the problem a route raises, 503 when the store is struggling, 500 for
anything else) and exactly one structured log line, whatever happens.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from collections.abc import Callable, Mapping

# The health path's cold start is measured in milliseconds and `typing` costs about two:
# type checkers honour a module-level TYPE_CHECKING constant without importing it.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    Response = dict[str, Any]

logger = logging.getLogger("draht")
# With JSON logs Lambda sets AWS_LAMBDA_LOG_LEVEL and the root logger's level from it; without,
# the root logger stays at WARNING and would drop the request line, which is INFO.
if "AWS_LAMBDA_LOG_LEVEL" not in os.environ:
    logger.setLevel(logging.INFO)

OK = 200
CREATED = 201
NO_CONTENT = 204
BAD_REQUEST = 400
NOT_FOUND = 404
CONFLICT = 409
PRECONDITION_FAILED = 412
CONTENT_TOO_LARGE = 413
UNSUPPORTED_MEDIA_TYPE = 415
UNPROCESSABLE_CONTENT = 422
INTERNAL_SERVER_ERROR = 500
SERVICE_UNAVAILABLE = 503
# Problem titles are the reason phrases (RFC 9110 section 15). The standard library's
# HTTPStatus would build a sixty-member enum on every cold start (about 1.5 ms) for these.
_TITLES = {
    BAD_REQUEST: "Bad Request",
    NOT_FOUND: "Not Found",
    CONFLICT: "Conflict",
    PRECONDITION_FAILED: "Precondition Failed",
    CONTENT_TOO_LARGE: "Content Too Large",
    UNSUPPORTED_MEDIA_TYPE: "Unsupported Media Type",
    UNPROCESSABLE_CONTENT: "Unprocessable Content",
    INTERNAL_SERVER_ERROR: "Internal Server Error",
    SERVICE_UNAVAILABLE: "Service Unavailable",
}

LIMIT_DEFAULT = 25
LIMIT_MAX = 100
RETRY_AFTER_S = 1

# No sign, no leading zeros, ASCII digits only: int() would also take "+5", " 5", "1_0".
_LIMIT = re.compile(r"[1-9][0-9]{0,2}")


class Problem(Exception):
    """An answer other than success, as RFC 9457 problem+json: the message is its detail."""

    def __init__(
        self,
        status: int,
        detail: str,
        errors: list[dict[str, str]] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.errors = errors
        self.headers = headers


class BadRequest(Problem):
    """The client sent something this route cannot serve."""

    def __init__(self, detail: str, errors: list[dict[str, str]] | None = None) -> None:
        super().__init__(BAD_REQUEST, detail, errors)


class Unavailable(Exception):
    """The store throttled or could not be reached after retries: worth retrying shortly."""


class Request:
    """What a route reads of its v2 event: parameters, headers and the raw body."""

    def __init__(self, event: Mapping[str, Any], context: Any) -> None:
        self.event = event
        self.context = context
        # API Gateway omits the key without a query string and joins repeated names with commas.
        self.query: dict[str, str] = dict(event.get("queryStringParameters") or {})
        self.path: dict[str, str] = dict(event.get("pathParameters") or {})
        # Payload 2.0 headers are lower-case already; lowering again costs nothing and is safe.
        self.headers: dict[str, str] = {
            name.lower(): value for name, value in (event.get("headers") or {}).items()
        }

    def remaining_ms(self) -> int:
        remaining = getattr(self.context, "get_remaining_time_in_millis", None)
        return int(remaining()) if callable(remaining) else 0


def required_text(parameters: Mapping[str, str], name: str, max_length: int) -> str:
    value = parameters.get(name)
    if value is None:
        raise BadRequest(f"{name} is required")
    if not 1 <= len(value) <= max_length:
        raise BadRequest(f"{name} must be 1 to {max_length} characters long")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise BadRequest(f"{name} is not valid UTF-8") from None
    return value


def parse_limit(parameters: Mapping[str, str]) -> int:
    raw = parameters.get("limit")
    if raw is None:
        return LIMIT_DEFAULT
    if not _LIMIT.fullmatch(raw) or int(raw) > LIMIT_MAX:
        raise BadRequest(f"limit must be a whole number from 1 to {LIMIT_MAX} (got {raw!r})")
    return int(raw)


def json_response(status: int, body: Any, headers: Mapping[str, str] | None = None) -> Response:
    return {
        "statusCode": status,
        "headers": {"content-type": "application/json", **(headers or {})},
        "body": json.dumps(body, separators=(",", ":"), ensure_ascii=False),
    }


def problem(
    status: int,
    detail: str,
    request_id: str,
    headers: Mapping[str, str] | None = None,
    errors: list[dict[str, str]] | None = None,
) -> Response:
    """An RFC 9457 body; `about:blank` because the status and its phrase say what kind it is."""
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": _TITLES[status],
        "status": status,
        "detail": detail,
        "requestId": request_id,
    }
    if errors:
        body["errors"] = errors
    return {
        "statusCode": status,
        "headers": {"content-type": "application/problem+json", **(headers or {})},
        "body": json.dumps(body, separators=(",", ":"), ensure_ascii=False),
    }


def request_id(event: Mapping[str, Any], context: Any) -> str:
    from_gateway = (event.get("requestContext") or {}).get("requestId")
    if isinstance(from_gateway, str) and from_gateway:
        return from_gateway
    return str(getattr(context, "aws_request_id", "") or "unknown")


def serve(
    event: Mapping[str, Any],
    context: Any,
    routes: Mapping[str, Callable[[Request], Response]],
) -> Response:
    """Run the event's route and turn what it raises into problem responses."""
    started = time.perf_counter()
    rid = request_id(event, context)
    route = str(event.get("routeKey", ""))
    try:
        work = routes.get(route)
        if work is None:
            raise LookupError(f"this function serves no route {route!r}")
        response = work(Request(event, context))
    except Problem as error:
        response = problem(error.status, str(error), rid, error.headers, error.errors)
    except Unavailable as error:
        response = problem(
            SERVICE_UNAVAILABLE,
            f"{error}; retry shortly",
            rid,
            {"retry-after": str(RETRY_AFTER_S)},
        )
    except Exception:
        logger.exception("unhandled error", extra={"requestId": rid, "route": route})
        response = problem(
            INTERNAL_SERVER_ERROR,
            f"unexpected error; quote request id {rid} when reporting it",
            rid,
        )
    latency_ms = round((time.perf_counter() - started) * 1000, 1)
    status = response["statusCode"]
    logger.info(
        "%s %s %d %.1f ms",
        rid,
        route,
        status,
        latency_ms,
        extra={"requestId": rid, "route": route, "status": status, "latencyMs": latency_ms},
    )
    return response
