"""Clients: the listing (Scan), and each client's create, read, patch and delete.

A client with sessions cannot be deleted (409): its sessions are deleted first, one
by one, by whoever owns them. Deleting is three conditional writes on the client item,
never a transaction: mark it as being deleted (from then on no session create can
claim on it), check that no session create holds a live claim and that no session
exists (a consistent Query, Limit 1), then delete it if the mark is still its own;
otherwise remove the mark and answer 409. The mark carries the moment its request is
certainly over, so one a crash leaves behind expires (handlers/sessions.py explains
the claims).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from _lib import cursor
from _lib.dynamo import client, read_page
from _lib.http import OK, Request, json_response, parse_limit, serve
from _lib.resource import Resource

if TYPE_CHECKING:
    from _lib.http import Response
    from _lib.writes import Item

LIST_ROUTE = "GET /clients"
TABLE = Resource.Clients.name
# DynamoDB's limit for a partition key value.
CLIENT_ID_MAX_BYTES = 2048
# Clients are one listing for everyone: there is no client to bind their cursors to.
SCOPE = ""
# The bookkeeping of in-flight writes (see handlers/sessions.py): never part of a client.
CLAIMS = "sessionClaims"
DELETING = "deletingUntil"
BOOKKEEPING = frozenset({CLAIMS, DELETING})

dynamodb = client()


def handler(event: dict[str, Any], context: Any) -> Response:
    return serve(
        event,
        context,
        {
            LIST_ROUTE: list_clients,
            "POST /clients": create_client,
            "GET /clients/{clientId}": get_client,
            "PATCH /clients/{clientId}": patch_client,
            "DELETE /clients/{clientId}": delete_client,
        },
    )


def list_clients(request: Request) -> Response:
    parameters = request.query
    limit = parse_limit(parameters)
    start = None
    if "cursor" in parameters:
        client_id = cursor.decode(parameters["cursor"], LIST_ROUTE, SCOPE, _is_client_id)
        start = {"clientId": {"S": client_id}}
    clients, resume_after = read_page(
        dynamodb.scan, {"TableName": TABLE}, limit, start, hidden=BOOKKEEPING
    )
    next_cursor = (
        cursor.encode(LIST_ROUTE, SCOPE, resume_after["clientId"]["S"]) if resume_after else None
    )
    return json_response(OK, {"clients": clients, "nextCursor": next_cursor})


def _is_client_id(position: str) -> bool:
    return 1 <= len(position.encode()) <= CLIENT_ID_MAX_BYTES


# One client


def _client_id(request: Request) -> str:
    from _lib.writes import validate_id

    return validate_id("ClientId", "clientId", request.path.get("clientId"))


def _key(client_id: str) -> dict[str, Any]:
    return {"clientId": {"S": client_id}}


def _read(client_id: str) -> Item | None:
    from _lib.dynamo import call

    response = call(dynamodb.get_item, TableName=TABLE, Key=_key(client_id), ConsistentRead=True)
    item = response.get("Item")
    return dict(item) if item is not None else None


def _public(item: Item) -> Item:
    return {name: value for name, value in item.items() if name not in BOOKKEEPING}


def get_client(request: Request) -> Response:
    from _lib.dynamo import plain
    from _lib.writes import item_response, not_found

    client_id = _client_id(request)
    stored = _read(client_id)
    if stored is None:
        raise not_found(f"client {client_id}")
    return item_response(OK, _public(plain(stored)))


def create_client(request: Request) -> Response:
    from urllib.parse import quote

    from _lib.dynamo import ConditionFailed, plain, write
    from _lib.writes import (
        JSON,
        create_fields,
        created,
        json_body,
        new_id,
        same_or_conflict,
        stored_item,
        utc_second,
        validate,
    )

    body = json_body(request, JSON)
    validate("ClientCreate", body)
    client_id = body.get("clientId") or new_id()
    item = stored_item({**body, "clientId": client_id, "createdAt": utc_second()})
    compared = tuple(name for name in create_fields("ClientCreate") if name != "clientId")
    for _ in range(2):
        try:
            write(
                dynamodb.put_item,
                TableName=TABLE,
                # The claims map exists from the start, so a session create can claim at once.
                Item={**item, CLAIMS: {"M": {}}},
                ConditionExpression="attribute_not_exists(clientId)",
            )
        except ConditionFailed:
            stored = _read(client_id)
            if stored is None:
                # Deleted between the two calls: the id is free again.
                continue
            return same_or_conflict(_public(plain(stored)), body, compared, f"client {client_id}")
        return created(plain(item), f"/clients/{quote(client_id, safe='')}")
    from _lib.http import CONFLICT, Problem

    raise Problem(CONFLICT, f"client {client_id} was created and deleted meanwhile; retry")


def patch_client(request: Request) -> Response:
    from _lib.writes import conditional_update, merge_patch

    client_id = _client_id(request)

    def write_changes(stored: Item, changes: dict[str, Any]) -> Item:
        return conditional_update(dynamodb.update_item, TABLE, _key(client_id), stored, changes)

    return merge_patch(
        request,
        "ClientPatch",
        "ClientCreate",
        read=lambda: _read(client_id),
        public=_public,
        write_changes=write_changes,
        what=f"client {client_id}",
    )


def delete_client(request: Request) -> Response:
    import secrets

    from _lib.dynamo import ConditionFailed, plain, write
    from _lib.http import CONFLICT, Problem
    from _lib.writes import (
        ATTEMPTS,
        VERSION_NAMES,
        deadline_ms,
        deleted,
        etag,
        if_match,
        not_found,
        now_ms,
        stale,
        version_condition,
    )

    client_id = _client_id(request)
    what = f"client {client_id}"
    names = {"#deleting": DELETING, **VERSION_NAMES}
    for _ in range(ATTEMPTS):
        stored = _read(client_id)
        if stored is None:
            raise not_found(what)
        pinned = if_match(request, etag(_public(plain(stored))))
        now = now_ms()
        # The moment this request is certainly over, made unique by a fraction: the mark's owner.
        mark = {"N": f"{deadline_ms(request)}.{secrets.randbelow(10**9) + 1:09d}"}
        condition, values = version_condition(stored)
        try:
            marked = write(
                dynamodb.update_item,
                TableName=TABLE,
                Key=_key(client_id),
                UpdateExpression="SET #deleting = :mark",
                ConditionExpression=f"attribute_exists(clientId) AND {condition}"
                " AND (attribute_not_exists(#deleting) OR #deleting < :now)",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues={**values, ":mark": mark, ":now": {"N": str(now)}},
                ReturnValues="ALL_NEW",
            )["Attributes"]
        except ConditionFailed:
            current = _read(client_id)
            if current is None:
                raise not_found(what) from None
            deleting = plain(current).get(DELETING)
            if deleting is not None and deleting >= now:
                raise Problem(CONFLICT, f"{what} is being deleted by another request") from None
            if pinned:
                raise stale() from None
            continue
        try:
            claims = plain(marked).get(CLAIMS) or {}
            if any(until >= now for until in claims.values()):
                raise Problem(CONFLICT, f"sessions of {what} are being created; delete them first")
            if _has_sessions(client_id):
                raise Problem(CONFLICT, f"{what} has sessions; delete them first")
            write(
                dynamodb.delete_item,
                TableName=TABLE,
                Key=_key(client_id),
                ConditionExpression="#deleting = :mark",
                ExpressionAttributeNames={"#deleting": DELETING},
                ExpressionAttributeValues={":mark": mark},
            )
        except ConditionFailed:
            # Another delete took over a mark this request outlived; decide again.
            continue
        except BaseException:
            # A 409, or the store failing (503): session creates need not wait for the mark.
            _unmark(client_id, mark)
            raise
        return deleted()
    raise Problem(CONFLICT, f"{what} kept changing while it was being deleted; retry")


def _has_sessions(client_id: str) -> bool:
    from _lib.dynamo import call

    response = call(
        dynamodb.query,
        TableName=Resource.Sessions.name,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"CLIENT#{client_id}"}},
        ProjectionExpression="pk",
        Limit=1,
        ConsistentRead=True,
    )
    return bool(response.get("Items"))


def _unmark(client_id: str, mark: dict[str, str]) -> None:
    """Remove this request's own mark; one that cannot be removed now expires at its moment."""
    from _lib.dynamo import write
    from _lib.http import logger

    try:
        write(
            dynamodb.update_item,
            TableName=TABLE,
            Key=_key(client_id),
            UpdateExpression="REMOVE #deleting",
            ConditionExpression="#deleting = :mark",
            ExpressionAttributeNames={"#deleting": DELETING},
            ExpressionAttributeValues={":mark": mark},
        )
    # The answer (409) is decided; a mark left behind only delays session creates until it ends.
    except Exception:
        logger.warning("a delete mark was left to expire", exc_info=True)
