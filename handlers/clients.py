"""GET /clients: every client, a page at a time, read by Scan."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from _lib import cursor
from _lib.dynamo import client, read_page
from _lib.http import OK, json_response, parse_limit, serve
from _lib.resource import Resource

if TYPE_CHECKING:
    from _lib.http import Response

ROUTE = "GET /clients"
TABLE = Resource.Clients.name
# DynamoDB's limit for a partition key value.
CLIENT_ID_MAX_BYTES = 2048
# Clients are one listing for everyone: there is no client to bind their cursors to.
SCOPE = ""

dynamodb = client()


def handler(event: dict[str, Any], context: Any) -> Response:
    return serve(ROUTE, event, context, list_clients)


def list_clients(parameters: dict[str, str]) -> Response:
    limit = parse_limit(parameters)
    start = None
    if "cursor" in parameters:
        client_id = cursor.decode(parameters["cursor"], ROUTE, SCOPE, _is_client_id)
        start = {"clientId": {"S": client_id}}
    clients, resume_after = read_page(dynamodb.scan, {"TableName": TABLE}, limit, start)
    next_cursor = (
        cursor.encode(ROUTE, SCOPE, resume_after["clientId"]["S"]) if resume_after else None
    )
    return json_response(OK, {"clients": clients, "nextCursor": next_cursor})


def _is_client_id(position: str) -> bool:
    return 1 <= len(position.encode()) <= CLIENT_ID_MAX_BYTES
