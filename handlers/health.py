"""GET /health: liveness, and with ?deep=true whether each linked table answers.

The shallow path is what load balancers and uptime checks call, so it imports no
AWS SDK: boto3 is loaded on the first deep check only.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from _lib.http import RETRY_AFTER_S, BadRequest, Response, json_response, serve
from _lib.resource import LinkError, Resource

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

ROUTE = "GET /health"
CHECKED_TABLES = ("Sessions", "Clients")
# UPDATING tables still serve reads and writes; every other non-ACTIVE status does not.
SERVING_STATUSES = frozenset({"ACTIVE", "UPDATING"})


def handler(event: dict[str, Any], context: Any) -> Response:
    return serve(ROUTE, event, context, health)


def health(parameters: dict[str, str]) -> Response:
    deep = parameters.get("deep", "false")
    if deep not in ("true", "false"):
        raise BadRequest(f"deep must be true or false (got {deep!r})")
    body: dict[str, Any] = {
        "status": "ok",
        "service": "draht",
        "stage": Resource.App.stage,
        "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
    }
    if deep == "false":
        return json_response(HTTPStatus.OK, body)
    checks = _check_tables()
    if all(result == "ok" for result in checks.values()):
        return json_response(HTTPStatus.OK, {**body, "checks": checks})
    return json_response(
        HTTPStatus.SERVICE_UNAVAILABLE,
        {**body, "status": "degraded", "checks": checks},
        {"retry-after": str(RETRY_AFTER_S)},
    )


def _check_tables() -> dict[str, str]:
    from concurrent.futures import ThreadPoolExecutor

    # In parallel: a store that does not answer costs one round of retries, not one per table.
    with ThreadPoolExecutor(max_workers=len(CHECKED_TABLES)) as pool:
        return dict(zip(CHECKED_TABLES, pool.map(_check_table, CHECKED_TABLES), strict=True))


def _check_table(name: str) -> str:
    from _lib.dynamo import failure_name

    try:
        table = getattr(Resource, name).name
    except LinkError:
        return "failed: not linked"
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
