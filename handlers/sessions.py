"""GET /sessions: one client's sessions, newest first, a page at a time, read by Query on pk."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from _lib import cursor
from _lib.dynamo import client, read_page
from _lib.http import OK, json_response, parse_limit, required_text, serve
from _lib.resource import Resource

if TYPE_CHECKING:
    from _lib.http import Response

ROUTE = "GET /sessions"
TABLE = Resource.Sessions.name
# Keeps `CLIENT#<clientId>` far below DynamoDB's 2048-byte partition key limit in any script.
CLIENT_ID_MAX_LENGTH = 256
SORT_KEY_MAX_BYTES = 1024
KEY_ATTRIBUTES = frozenset({"pk", "sk"})
_SORT_KEY = re.compile(r"SESSION#[^#]+#.+", re.DOTALL)

dynamodb = client()


def handler(event: dict[str, Any], context: Any) -> Response:
    return serve(ROUTE, event, context, list_sessions)


def list_sessions(parameters: dict[str, str]) -> Response:
    client_id = required_text(parameters, "clientId", CLIENT_ID_MAX_LENGTH)
    limit = parse_limit(parameters)
    partition = {"S": f"CLIENT#{client_id}"}
    start = None
    if "cursor" in parameters:
        sort_key = cursor.decode(parameters["cursor"], ROUTE, client_id, _is_sort_key)
        start = {"pk": partition, "sk": {"S": sort_key}}
    sessions, resume_after = read_page(
        dynamodb.query,
        {
            "TableName": TABLE,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": partition},
            "ScanIndexForward": False,
        },
        limit,
        start,
        hidden=KEY_ATTRIBUTES,
    )
    next_cursor = cursor.encode(ROUTE, client_id, resume_after["sk"]["S"]) if resume_after else None
    return json_response(OK, {"sessions": sessions, "nextCursor": next_cursor})


def _is_sort_key(position: str) -> bool:
    return bool(_SORT_KEY.fullmatch(position)) and len(position.encode()) <= SORT_KEY_MAX_BYTES
