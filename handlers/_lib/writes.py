"""Writes that happen exactly once: checked bodies, versions with ETags, conditional writes.

Imported by the write routes only, so a listing's cold start does not pay for it.
Bodies are checked by the validators draht/package.py generates from the OpenAPI
document's request schemas; this module only turns their findings into problems.

Every item carries `version`, raised by one on each write; the ETag is a digest of
the item as the API returns it (version included), so it is a strong validator that
also tells apart a deleted and re-created item of the same id. Every write is
conditional on the version it read: of concurrent writers that read the same
version, exactly one succeeds.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from _lib.dynamo import ConditionFailed, plain, wire, wire_value, write
from _lib.http import (
    CONFLICT,
    CONTENT_TOO_LARGE,
    CREATED,
    NO_CONTENT,
    NOT_FOUND,
    OK,
    PRECONDITION_FAILED,
    UNSUPPORTED_MEDIA_TYPE,
    BadRequest,
    Problem,
    Request,
    json_response,
)

if TYPE_CHECKING:
    from _lib.http import Response

JSON = "application/json"
MERGE_PATCH = "application/merge-patch+json"
BODY_MAX_BYTES = 64 * 1024
# A write without If-Match that keeps losing to concurrent writers gives up after this many.
ATTEMPTS = 10
# How long past a request's own deadline its in-flight DynamoDB call may still land.
IN_FLIGHT_MARGIN_MS = 5000
# Used when the context cannot say how long the request may still run (Lambda's maximum).
DEFAULT_REMAINING_MS = 900_000

Item = dict[str, Any]


def now_ms() -> int:
    return int(time.time() * 1000)


def utc_second() -> str:
    """ISO 8601 UTC to the second: the fixed width every timestamp here has."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def new_id() -> str:
    import uuid

    return str(uuid.uuid4())


def deadline_ms(request: Request) -> int:
    """A moment by which this request's writes have certainly landed or never will.

    Lambda ends an invocation at its timeout, so nothing it sent can arrive later than
    its remaining time plus the time a request already on the wire takes.
    """
    remaining = request.remaining_ms() or DEFAULT_REMAINING_MS
    return now_ms() + remaining + IN_FLIGHT_MARGIN_MS


# Request bodies


def json_body(request: Request, media_type: str) -> Any:
    """The request's JSON body, sent as `media_type`, at most BODY_MAX_BYTES; else a problem."""
    content_type = request.headers.get("content-type", "")
    essence, _, parameters = content_type.partition(";")
    charset = _charset(parameters)
    if essence.strip().lower() != media_type or charset not in ("", "utf-8"):
        advertised = "accept-patch" if media_type == MERGE_PATCH else "accept-post"
        raise Problem(
            UNSUPPORTED_MEDIA_TYPE,
            f"send the body as {media_type} in UTF-8 (got {content_type or 'no Content-Type'})",
            headers={advertised: media_type},
        )
    data = _body_bytes(request.event)
    if len(data) > BODY_MAX_BYTES:
        raise Problem(
            CONTENT_TOO_LARGE, f"the body is {len(data)} bytes; at most {BODY_MAX_BYTES} are taken"
        )
    try:
        document = json.loads(
            data.decode("utf-8"), object_pairs_hook=_unique_members, parse_constant=_no_constant
        )
        # JSON can spell a lone surrogate (\ud800), which no DynamoDB string can hold.
        json.dumps(document, ensure_ascii=False).encode("utf-8")
    except UnicodeError:
        raise BadRequest("the body is not valid UTF-8 text") from None
    except ValueError as error:
        raise BadRequest(f"the body is not JSON: {error}") from None
    return document


def _charset(parameters: str) -> str:
    for parameter in parameters.split(";"):
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset":
            return value.strip().strip('"').lower()
    return ""


def _body_bytes(event: Mapping[str, Any]) -> bytes:
    body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        try:
            return base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise BadRequest("the body is not valid base64, as isBase64Encoded says") from None
    try:
        return str(body).encode("utf-8")
    except UnicodeError:
        raise BadRequest("the body is not valid UTF-8 text") from None


def _unique_members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    members = dict(pairs)
    if len(members) != len(pairs):
        names = [name for name, _ in pairs]
        repeated = sorted({name for name in names if names.count(name) > 1})
        raise ValueError(f"a member is given twice: {', '.join(repeated)}")
    return members


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


# Validation, by the generated validators


def validate(schema: str, document: Any, only: tuple[str, ...] | None = None) -> None:
    """400 with an `errors` entry per broken rule, each an RFC 6901 pointer into the body.

    With `only`, rules broken by other fields are not the request's doing and are let pass.
    """
    import _request_schemas as generated

    try:
        generated.VALIDATORS[schema](document)
    except generated.JsonSchemaValuesException as failure:
        errors: list[dict[str, str]] = []
        unknown: list[str] = []
        for error in failure.errors:
            if error.rule == "additionalProperties" and isinstance(error.value, dict):
                names = sorted(set(error.value) - set(generated.PROPERTIES[schema]))
                unknown += names
                errors += [{"pointer": _pointer(name), "detail": "unknown field"} for name in names]
            elif error.rule == "required" and isinstance(error.value, dict):
                errors += [
                    {"pointer": _pointer(name), "detail": "is required"}
                    for name in generated.REQUIRED[schema]
                    if name not in error.value
                ]
            elif error.rule == "dependencies" and isinstance(error.value, dict):
                errors += [
                    {"pointer": _pointer(needed), "detail": f"is required with {field}"}
                    for field, needs in generated.DEPENDENCIES[schema].items()
                    if field in error.value
                    for needed in needs
                    if needed not in error.value
                ]
            else:
                errors.append({"pointer": _name_pointer(error.name), "detail": _rest(error)})
        if only is not None:
            errors = [e for e in errors if e["pointer"][1:].split("/")[0] in only]
            if not errors:
                return
        if unknown:
            allowed = ", ".join(generated.PROPERTIES[schema])
            detail = f"unknown fields: {', '.join(unknown)} (allowed: {allowed})"
        else:
            detail = "; ".join(f"{e['pointer'] or 'the body'} {e['detail']}" for e in errors)
        raise BadRequest(detail, errors) from None


def validate_id(schema: str, name: str, value: str | None) -> str:
    """A path or query id the key layout can hold; 400 naming the parameter otherwise."""
    import _request_schemas as generated

    if value is None:
        raise BadRequest(f"{name} is required")
    try:
        generated.VALIDATORS[schema](value)
    except generated.JsonSchemaValuesException as failure:
        raise BadRequest("; ".join(f"{name} {_rest(error)}" for error in failure.errors)) from None
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise BadRequest(f"{name} is not valid UTF-8") from None
    return value


def _pointer(name: str) -> str:
    return "/" + name.replace("~", "~0").replace("/", "~1")


def _name_pointer(name: str) -> str:
    """fastjsonschema's `data.field` as the JSON pointer `/field` (our fields have no dots)."""
    parts = name.split(".")[1:]
    return "".join(_pointer(part) for part in parts)


def _rest(error: Any) -> str:
    """The message without fastjsonschema's `data.field` prefix: `must be string`."""
    message = str(error.message)
    return message[len(error.name) :].strip() if message.startswith(error.name) else message


def field_error(name: str, detail: str) -> BadRequest:
    return BadRequest(f"{name} {detail}", [{"pointer": _pointer(name), "detail": detail}])


def create_fields(schema: str) -> tuple[str, ...]:
    import _request_schemas as generated

    return generated.PROPERTIES[schema]


# Versions, ETags and preconditions


def etag(body: Mapping[str, Any]) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    digest = hashlib.sha256(canonical.encode("utf-8")).digest()[:16]
    return '"' + base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii") + '"'


def if_match(request: Request, current: str) -> bool:
    """Whether If-Match pins this exact version; 412 when it names none that is current.

    `*` only asks that the item exists. Comparison is strong (RFC 9110 section 13.1.1):
    a weak tag never matches, and neither does a value that is no entity tag at all.
    """
    header = request.headers.get("if-match")
    if header is None:
        return False
    if header.strip() == "*":
        return False
    if current in (tag.strip() for tag in header.split(",")):
        return True
    raise Problem(
        PRECONDITION_FAILED,
        "If-Match names no current ETag of this item: it changed since it was read",
        headers={"etag": current},
    )


def stale() -> Problem:
    return Problem(PRECONDITION_FAILED, "the item changed since the ETag in If-Match was issued")


VERSION_NAMES = {"#version": "version"}


def version_condition(stored: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """The condition that a stored item is still at the version read, with its values; items
    other programs wrote may have no version yet. Its names are VERSION_NAMES."""
    version = stored.get("version")
    if version is None:
        return "attribute_not_exists(#version)", {}
    return "#version = :version", {":version": version}


def _version(stored: Mapping[str, Any]) -> int:
    version = stored.get("version")
    return int(version["N"]) if version is not None else 0


# Answers


def item_response(status: int, body: Item, headers: Mapping[str, str] | None = None) -> Response:
    return json_response(status, body, {"etag": etag(body), **(headers or {})})


def created(body: Item, location: str) -> Response:
    return item_response(CREATED, body, {"location": location})


def deleted() -> Response:
    return {"statusCode": NO_CONTENT, "headers": {}, "body": ""}


def not_found(what: str) -> Problem:
    return Problem(NOT_FOUND, f"no {what}")


def same_or_conflict(
    stored: Item, requested: Mapping[str, Any], compared: tuple[str, ...], what: str
) -> Response:
    """A repeated create: the stored item when it holds what was asked, else 409."""
    differing = [
        name
        for name in compared
        if (name in stored) != (name in requested) or stored.get(name) != requested.get(name)
    ]
    if differing:
        raise Problem(
            CONFLICT,
            f"{what} exists with other content ({', '.join(differing)} differ); choose another"
            " id, or patch it",
        )
    return item_response(OK, stored)


# Merge patch (RFC 7396) under the item's version


def merge_patch(
    request: Request,
    patch_schema: str,
    create_schema: str,
    read: Callable[[], Item | None],
    public: Callable[[Item], Item],
    write_changes: Callable[[Item, dict[str, Any]], Item],
    what: str,
    check: Callable[[Item], None] | None = None,
) -> Response:
    """Apply the body as a merge patch to the item `read` returns, conditional on its version.

    The patched item must still be valid as a whole: its writable fields are checked
    against the create schema, then by `check` (rules across fields).
    """
    patch = json_body(request, MERGE_PATCH)
    validate(patch_schema, patch)
    fields = create_fields(create_schema)
    for _ in range(ATTEMPTS):
        stored = read()
        if stored is None:
            raise not_found(what)
        current = public(plain(stored))
        pinned = if_match(request, etag(current))
        merged = {**current}
        for name, value in patch.items():
            if value is None:
                merged.pop(name, None)
            else:
                merged[name] = value
        # Fields a patch cannot change (ids, the start) are as stored, whoever wrote them.
        validate(
            create_schema,
            {name: merged[name] for name in fields if name in merged},
            only=create_fields(patch_schema),
        )
        if check is not None:
            check(merged)
        changes = {
            name: value
            for name, value in patch.items()
            if (value is None and name in current)
            or (value is not None and current.get(name) != value)
        }
        if not changes:
            return item_response(OK, current)
        try:
            updated = write_changes(stored, changes)
        except ConditionFailed:
            if pinned:
                raise stale() from None
            continue
        return item_response(OK, public(plain(updated)))
    raise Problem(CONFLICT, f"{what} kept changing while this patch was applied; retry")


def conditional_update(
    update: Callable[..., Any],
    table: str,
    key: dict[str, Any],
    stored: Mapping[str, Any],
    changes: Mapping[str, Any],
) -> Item:
    """Set or remove (None) each changed field and raise the version, if it is still the read one.

    Returns the item as written. Attributes the change does not name (those other programs
    wrote, and the bookkeeping of in-flight writes) are left as they are.
    """
    names: dict[str, str] = {**VERSION_NAMES, "#updatedAt": "updatedAt"}
    values: dict[str, Any] = {
        ":next": wire_value(_version(stored) + 1),
        ":now": {"S": utc_second()},
    }
    sets = ["#version = :next", "#updatedAt = :now"]
    removes = []
    for index, (name, value) in enumerate(sorted(changes.items())):
        names[f"#f{index}"] = name
        if value is None:
            removes.append(f"#f{index}")
        else:
            values[f":f{index}"] = wire_value(value)
            sets.append(f"#f{index} = :f{index}")
    expression = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
    condition, condition_values = version_condition(stored)
    key_name = next(iter(key))
    names["#key"] = key_name
    response = write(
        update,
        TableName=table,
        Key=key,
        UpdateExpression=expression,
        ConditionExpression=f"attribute_exists(#key) AND {condition}",
        ExpressionAttributeNames=names,
        ExpressionAttributeValues={**values, **condition_values},
        ReturnValues="ALL_NEW",
    )
    return dict(response["Attributes"])


def conditional_delete(
    delete: Callable[..., Any], table: str, key: dict[str, Any], stored: Mapping[str, Any]
) -> None:
    condition, values = version_condition(stored)
    parameters: dict[str, Any] = {
        "TableName": table,
        "Key": key,
        "ConditionExpression": condition,
        "ExpressionAttributeNames": VERSION_NAMES,
    }
    if values:
        parameters["ExpressionAttributeValues"] = values
    write(delete, **parameters)


def delete_versioned(
    request: Request,
    read: Callable[[], Item | None],
    public: Callable[[Item], Item],
    delete: Callable[[Item], None],
    what: str,
) -> Response:
    """Delete the item `read` returns if it is still at the version read (and If-Match's)."""
    for _ in range(ATTEMPTS):
        stored = read()
        if stored is None:
            raise not_found(what)
        pinned = if_match(request, etag(public(plain(stored))))
        try:
            delete(stored)
        except ConditionFailed:
            if pinned:
                raise stale() from None
            continue
        return deleted()
    raise Problem(CONFLICT, f"{what} kept changing while it was being deleted; retry")


def stored_item(fields: Mapping[str, Any]) -> dict[str, Any]:
    """An item ready for PutItem: version 1, written now."""
    return wire({**fields, "version": 1, "updatedAt": utc_second()})
