"""Sessions: one client's listing (Query on pk), and each session's create, read, patch, delete.

A session is found by its id with one consistent Query (Limit 1) on the local index
`bySessionId` of the client's partition: its sort key starts with the start time.

No session may exist without its client, though there are no transactions (dynalite
has none). A create first claims its session id on the client item, in one write that
holds only while the client exists and is not being deleted; it writes the session,
then drops the claim. Deleting a client refuses while a claim is live or a session
exists (handlers/clients.py), so the two can never interleave into an orphan. A claim
carries the moment its request is certainly over, so one left by a crash expires.
"""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING, Any

from _lib import cursor
from _lib.dynamo import client, read_page
from _lib.http import OK, Request, Unavailable, json_response, parse_limit, required_text, serve
from _lib.resource import Resource

if TYPE_CHECKING:
    from _lib.http import Response
    from _lib.writes import Item

LIST_ROUTE = "GET /sessions"
TABLE = Resource.Sessions.name
INDEX = "bySessionId"
# Keeps `CLIENT#<clientId>` far below DynamoDB's 2048-byte partition key limit in any script.
CLIENT_ID_MAX_LENGTH = 256
SORT_KEY_MAX_BYTES = 1024
KEY_ATTRIBUTES = frozenset({"pk", "sk"})
_SORT_KEY = re.compile(r"SESSION#[^#]+#.+", re.DOTALL)
# On the client item (handlers/clients.py reads them too): live claims by session id, each
# the moment its request is certainly over; and the same moment of a delete in progress.
CLAIMS = "sessionClaims"
DELETING = "deletingUntil"
# How long a create waits for another request creating the very same session id.
CLAIM_WAIT_S = 2.0

dynamodb = client()


def handler(event: dict[str, Any], context: Any) -> Response:
    return serve(
        event,
        context,
        {
            LIST_ROUTE: list_sessions,
            "POST /sessions": create_session,
            "GET /sessions/{sessionId}": get_session,
            "PATCH /sessions/{sessionId}": patch_session,
            "DELETE /sessions/{sessionId}": delete_session,
        },
    )


def list_sessions(request: Request) -> Response:
    parameters = request.query
    client_id = required_text(parameters, "clientId", CLIENT_ID_MAX_LENGTH)
    limit = parse_limit(parameters)
    partition = {"S": partition_key(client_id)}
    start = None
    if "cursor" in parameters:
        sort_key = cursor.decode(parameters["cursor"], LIST_ROUTE, client_id, _is_sort_key)
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
    next_cursor = (
        cursor.encode(LIST_ROUTE, client_id, resume_after["sk"]["S"]) if resume_after else None
    )
    return json_response(OK, {"sessions": sessions, "nextCursor": next_cursor})


def _is_sort_key(position: str) -> bool:
    return bool(_SORT_KEY.fullmatch(position)) and len(position.encode()) <= SORT_KEY_MAX_BYTES


def partition_key(client_id: str) -> str:
    return f"CLIENT#{client_id}"


def sort_key(started_at: str, session_id: str) -> str:
    return f"SESSION#{started_at}#{session_id}"


# One session


def _ids(request: Request) -> tuple[str, str]:
    from _lib.writes import validate_id

    session_id = validate_id("SessionId", "sessionId", request.path.get("sessionId"))
    client_id = validate_id("ClientId", "clientId", request.query.get("clientId"))
    return client_id, session_id


def _find(client_id: str, session_id: str) -> Item | None:
    from _lib.dynamo import call

    response = call(
        dynamodb.query,
        TableName=TABLE,
        IndexName=INDEX,
        KeyConditionExpression="pk = :pk AND sessionId = :id",
        ExpressionAttributeValues={
            ":pk": {"S": partition_key(client_id)},
            ":id": {"S": session_id},
        },
        Limit=1,
        ConsistentRead=True,
    )
    items = response.get("Items", [])
    return dict(items[0]) if items else None


def _public(item: Item) -> Item:
    return {name: value for name, value in item.items() if name not in KEY_ATTRIBUTES}


def _check_times(session: Item) -> None:
    from _lib.writes import field_error

    ended_at = session.get("endedAt")
    if ended_at is not None and ended_at < session["startedAt"]:
        raise field_error("endedAt", f"must not be before startedAt ({session['startedAt']})")


def get_session(request: Request) -> Response:
    from _lib.dynamo import plain
    from _lib.writes import item_response, not_found

    client_id, session_id = _ids(request)
    stored = _find(client_id, session_id)
    if stored is None:
        raise not_found(f"session {session_id} of client {client_id}")
    return item_response(OK, _public(plain(stored)))


def create_session(request: Request) -> Response:
    from urllib.parse import quote

    from _lib.dynamo import ConditionFailed, plain, write
    from _lib.http import CONFLICT, Problem
    from _lib.writes import (
        JSON,
        create_fields,
        created,
        deadline_ms,
        json_body,
        new_id,
        same_or_conflict,
        stored_item,
        utc_second,
        validate,
    )

    body = json_body(request, JSON)
    validate("SessionCreate", body)
    client_id = body["clientId"]
    session_id = body.get("sessionId") or new_id()
    started_at = body.get("startedAt") or utc_second()
    session = {**body, "clientId": client_id, "sessionId": session_id, "startedAt": started_at}
    _check_times(session)
    # What a retry must repeat: ids are equal by lookup, a generated start time differs.
    compared = tuple(
        name
        for name in create_fields("SessionCreate")
        if name not in ("clientId", "sessionId") and (name != "startedAt" or "startedAt" in body)
    )
    what = f"session {session_id} of client {client_id}"
    claim = deadline_ms(request)
    _claim(client_id, session_id, claim)
    try:
        existing = _find(client_id, session_id)
        if existing is None:
            item = stored_item(
                {
                    "pk": partition_key(client_id),
                    "sk": sort_key(started_at, session_id),
                    **session,
                }
            )
            try:
                write(
                    dynamodb.put_item,
                    TableName=TABLE,
                    Item=item,
                    ConditionExpression="attribute_not_exists(pk)",
                )
            except ConditionFailed:
                # Written by a program that does not claim (the seed, say): it is the stored one.
                existing = _find(client_id, session_id)
                if existing is None:
                    raise Problem(CONFLICT, f"another item holds the key of {what}") from None
            else:
                location = (
                    f"/sessions/{quote(session_id, safe='')}?clientId={quote(client_id, safe='')}"
                )
                return created(_public(plain(item)), location)
        return same_or_conflict(_public(plain(existing)), body, compared, what)
    finally:
        _release(client_id, session_id, claim)


def _claim(client_id: str, session_id: str, claim: int) -> None:
    """Claim `session_id` on its client: 422 without the client, 409 while it is being deleted."""
    from _lib.dynamo import ConditionFailed, error_code, write
    from _lib.writes import now_ms

    names = {"#claims": CLAIMS, "#id": session_id, "#deleting": DELETING}
    waited_until = time.monotonic() + CLAIM_WAIT_S
    pause = 0.02
    map_added = False
    while True:
        now = now_ms()
        try:
            write(
                dynamodb.update_item,
                TableName=Resource.Clients.name,
                Key={"clientId": {"S": client_id}},
                UpdateExpression="SET #claims.#id = :claim",
                ConditionExpression="attribute_exists(clientId)"
                " AND (attribute_not_exists(#deleting) OR #deleting < :now)"
                " AND (attribute_not_exists(#claims.#id) OR #claims.#id < :now)",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues={":claim": {"N": str(claim)}, ":now": {"N": str(now)}},
            )
            return
        except ConditionFailed:
            _refuse_claim(client_id, session_id, now)
        except Exception as error:
            # A client item written before claims existed has no map to hold one yet.
            if error_code(error) != "ValidationException":
                raise
            if map_added:
                # A store that checks the path before the condition: the client may be gone.
                _refuse_claim(client_id, session_id, now)
                raise
            _add_claims_map(client_id)
            map_added = True
            continue
        # The same session id is being created by another request right now: wait for it.
        if time.monotonic() > waited_until:
            raise Unavailable(f"another request is creating session {session_id}")
        time.sleep(pause)
        pause = min(pause * 2, 0.25)


def _refuse_claim(client_id: str, session_id: str, now: int) -> None:
    """Why a claim failed, as the answer to the create: returns only if it is worth waiting."""
    from _lib.dynamo import call, plain
    from _lib.http import CONFLICT, UNPROCESSABLE_CONTENT, Problem

    response = call(
        dynamodb.get_item,
        TableName=Resource.Clients.name,
        Key={"clientId": {"S": client_id}},
        ConsistentRead=True,
        ProjectionExpression="clientId, #deleting",
        ExpressionAttributeNames={"#deleting": DELETING},
    )
    stored = response.get("Item")
    if stored is None:
        raise Problem(UNPROCESSABLE_CONTENT, f"no client {client_id} exists; create it first")
    deleting = plain(stored).get(DELETING)
    if deleting is not None and deleting >= now:
        raise Problem(CONFLICT, f"client {client_id} is being deleted")


def _add_claims_map(client_id: str) -> None:
    from contextlib import suppress

    from _lib.dynamo import ConditionFailed, write

    # Failing means no client (the claim answers 422 next) or another request added the map.
    with suppress(ConditionFailed):
        write(
            dynamodb.update_item,
            TableName=Resource.Clients.name,
            Key={"clientId": {"S": client_id}},
            UpdateExpression="SET #claims = :empty",
            ConditionExpression="attribute_exists(clientId) AND attribute_not_exists(#claims)",
            ExpressionAttributeNames={"#claims": CLAIMS},
            ExpressionAttributeValues={":empty": {"M": {}}},
        )


def _release(client_id: str, session_id: str, claim: int) -> None:
    """Drop this request's own claim; one that cannot be dropped now expires at its moment."""
    from _lib.dynamo import write
    from _lib.http import logger

    try:
        write(
            dynamodb.update_item,
            TableName=Resource.Clients.name,
            Key={"clientId": {"S": client_id}},
            UpdateExpression="REMOVE #claims.#id",
            ConditionExpression="#claims.#id = :claim",
            ExpressionAttributeNames={"#claims": CLAIMS, "#id": session_id},
            ExpressionAttributeValues={":claim": {"N": str(claim)}},
        )
    # The answer is already decided; a claim left behind only delays its client's deletion.
    except Exception:
        logger.warning("a session claim was left to expire", exc_info=True)


def patch_session(request: Request) -> Response:
    from _lib.writes import conditional_update, merge_patch

    client_id, session_id = _ids(request)

    def write_changes(stored: Item, changes: dict[str, Any]) -> Item:
        key = {"pk": stored["pk"], "sk": stored["sk"]}
        return conditional_update(dynamodb.update_item, TABLE, key, stored, changes)

    return merge_patch(
        request,
        "SessionPatch",
        "SessionCreate",
        read=lambda: _find(client_id, session_id),
        public=_public,
        write_changes=write_changes,
        check=_check_times,
        what=f"session {session_id} of client {client_id}",
    )


def delete_session(request: Request) -> Response:
    from _lib.writes import conditional_delete, delete_versioned

    client_id, session_id = _ids(request)

    def delete(stored: Item) -> None:
        key = {"pk": stored["pk"], "sk": stored["sk"]}
        conditional_delete(dynamodb.delete_item, TABLE, key, stored)

    return delete_versioned(
        request,
        read=lambda: _find(client_id, session_id),
        public=_public,
        delete=delete,
        what=f"session {session_id} of client {client_id}",
    )
