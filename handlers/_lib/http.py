"""API Gateway v2 in and out: query parameters, JSON and problem+json responses, one log line.

Every handler runs its work through `serve`, so each request gets the same error
mapping (400 for bad input, 503 when the store is struggling, 500 for anything
else) and exactly one structured log line, whatever happens.
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
BAD_REQUEST = 400
INTERNAL_SERVER_ERROR = 500
SERVICE_UNAVAILABLE = 503
# Problem titles are the reason phrases. The standard library's HTTPStatus would build a
# sixty-member enum on every cold start (about 1.5 ms) for these three.
_TITLES = {
    BAD_REQUEST: "Bad Request",
    INTERNAL_SERVER_ERROR: "Internal Server Error",
    SERVICE_UNAVAILABLE: "Service Unavailable",
}

LIMIT_DEFAULT = 25
LIMIT_MAX = 100
RETRY_AFTER_S = 1

# No sign, no leading zeros, ASCII digits only: int() would also take "+5", " 5", "1_0".
_LIMIT = re.compile(r"[1-9][0-9]{0,2}")


class BadRequest(Exception):
    """The client sent something this route cannot serve; the message is the problem's detail."""


class Unavailable(Exception):
    """The store throttled or could not be reached after retries: worth retrying shortly."""


def query_parameters(event: Mapping[str, Any]) -> dict[str, str]:
    # API Gateway omits the key without a query string and joins repeated names with commas.
    return dict(event.get("queryStringParameters") or {})


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
    status: int, detail: str, request_id: str, headers: Mapping[str, str] | None = None
) -> Response:
    """An RFC 9457 body; `about:blank` because the status and its phrase say what kind it is."""
    body = {
        "type": "about:blank",
        "title": _TITLES[status],
        "status": status,
        "detail": detail,
        "requestId": request_id,
    }
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
    route: str,
    event: Mapping[str, Any],
    context: Any,
    work: Callable[[dict[str, str]], Response],
) -> Response:
    """Run `work(query_parameters)` and turn what it raises into problem responses."""
    started = time.perf_counter()
    rid = request_id(event, context)
    try:
        response = work(query_parameters(event))
    except BadRequest as error:
        response = problem(BAD_REQUEST, str(error), rid)
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
