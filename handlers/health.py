"""GET /health: liveness, and with ?deep=true whether each table linked to it answers.

The shallow path is what load balancers and uptime checks call, so it imports no
AWS SDK: boto3 is loaded on the first deep check only.
"""

from __future__ import annotations

import time
from functools import cache

from _lib.http import (
    OK,
    RETRY_AFTER_S,
    SERVICE_UNAVAILABLE,
    BadRequest,
    Request,
    json_response,
    serve,
)
from _lib.resource import Resource, linked_tables

# Not importing `typing` or `datetime` keeps them off the cold start (see _lib.http).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from _lib.http import Response
    from mypy_boto3_dynamodb import DynamoDBClient

ROUTE = "GET /health"
# UPDATING tables still serve reads and writes; every other non-ACTIVE status does not.
SERVING_STATUSES = frozenset({"ACTIVE", "UPDATING"})


def handler(event: dict[str, Any], context: Any) -> Response:
    return serve(event, context, {ROUTE: health})


def health(request: Request) -> Response:
    deep = request.query.get("deep", "false")
    if deep not in ("true", "false"):
        raise BadRequest(f"deep must be true or false (got {deep!r})")
    body: dict[str, Any] = {
        "status": "ok",
        "service": "draht",
        "stage": Resource.App.stage,
        "timestamp": _utc_timestamp(),
    }
    if deep == "false":
        return json_response(OK, body)
    checks = _check_tables()
    if all(result == "ok" for result in checks.values()):
        return json_response(OK, {**body, "checks": checks})
    return json_response(
        SERVICE_UNAVAILABLE,
        {**body, "status": "degraded", "checks": checks},
        {"retry-after": str(RETRY_AFTER_S)},
    )


def _utc_timestamp() -> str:
    """ISO 8601 UTC with milliseconds, e.g. 2026-11-26T06:02:06.433Z."""
    now = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now * 1000) % 1000:03d}Z"


def _check_tables() -> dict[str, str]:
    from concurrent.futures import ThreadPoolExecutor

    tables = linked_tables()
    # In parallel: a store that does not answer costs one round of retries, not one per table.
    with ThreadPoolExecutor(max_workers=max(1, len(tables))) as pool:
        return dict(zip(tables, pool.map(_check_table, tables), strict=True))


def _check_table(name: str) -> str:
    from _lib.dynamo import failure_name

    table = getattr(Resource, name).name
    try:
        status = _dynamodb().describe_table(TableName=table)["Table"].get("TableStatus", "")
    # Whatever went wrong is this check's answer, not the request's failure.
    except Exception as error:
        return f"failed: {failure_name(error)}"
    return "ok" if status in SERVING_STATUSES else f"failed: table is {status}"


@cache
def _dynamodb() -> DynamoDBClient:
    from _lib.dynamo import client

    return client()
