"""The API's OpenAPI 3.1 document, generated from the app declaration.

Paths, methods and which routes need credentials come from `app.routes`; what each
route accepts and returns is described once here, in `ROUTE_DOCS`, keyed by route
key. `document` refuses an app whose routes and `ROUTE_DOCS` disagree, so a route
cannot ship undocumented and a removed one cannot linger in the document.

The bounds below are the handlers' own (handlers/_lib/http.py, cursor.py,
sessions.py); tests/test_openapi.py checks they agree and that real responses
validate against these schemas.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from importlib.metadata import version
from typing import Any

from draht.model import App, DeclarationError, Route
from draht.settings import AuthMode

Schema = dict[str, Any]

LIMIT_MAX = 100
LIMIT_DEFAULT = 25
CLIENT_ID_MAX_LENGTH = 256
# `SESSION#<startedAt>#<sessionId>` must stay within DynamoDB's 1,024-byte sort key: 128
# characters are at most 512 bytes of UTF-8.
SESSION_ID_MAX_LENGTH = 128
# A path segment holds an id only without `/`; control characters have no place in keys.
ID_PATTERN = "^[^/\\u0000-\\u001f\\u007f]+$"
CURSOR_MAX_LENGTH = 20000
CURSOR_PATTERN = "^[A-Za-z0-9_-]+$"
# One fixed width to the second, so the sort key orders sessions as their start times.
UTC_SECOND_PATTERN = "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$"
DECIMAL_PATTERN = "^(0|[1-9][0-9]{0,11})([.][0-9]{1,6})?$"
TOKENS_MAX = 10**12
REQUEST_BODY_MAX_BYTES = 64 * 1024
# Small enough that every valid body fits REQUEST_BODY_MAX_BYTES even when each character is
# written as a JSON escaped surrogate pair (12 bytes): a body over the limit is never valid.
LONG_TEXT_MAX_LENGTH = 2000

PROBLEM_MEDIA_TYPE = "application/problem+json"
JSON_MEDIA_TYPE = "application/json"
MERGE_PATCH_MEDIA_TYPE = "application/merge-patch+json"


def _ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def _page(field: str, item_schema: str) -> Schema:
    """A listing page: up to LIMIT_MAX items under `field`, and the cursor to the next page."""
    return {
        "type": "object",
        "required": [field, "nextCursor"],
        "additionalProperties": False,
        "properties": {
            field: {"type": "array", "maxItems": LIMIT_MAX, "items": _ref(item_schema)},
            "nextCursor": _ref("NextCursor"),
        },
    }


# What every health answer carries besides its status, healthy or not.
_HEALTH_IDENTITY: Schema = {
    "service": {"const": "draht"},
    "stage": {"type": "string", "minLength": 1},
    "timestamp": {"type": "string", "format": "date-time"},
}


def _text(description: str, max_length: int, min_length: int = 1) -> Schema:
    return {
        "type": "string",
        "minLength": min_length,
        "maxLength": max_length,
        "description": description,
    }


def _utc(description: str) -> Schema:
    return {
        "type": "string",
        "format": "date-time",
        "pattern": UTC_SECOND_PATTERN,
        "maxLength": 20,
        "description": f"{description} ISO 8601 UTC to the second, e.g. 2026-11-29T14:05:00Z.",
    }


def _decimal(description: str) -> Schema:
    return {
        "type": "string",
        "pattern": DECIMAL_PATTERN,
        "maxLength": 19,
        "description": f"{description} An exact decimal as a string (never a float): up to 12"
        ' digits, then up to 6 after the point, e.g. "0.4213".',
    }


_CURRENCY: Schema = {
    "type": "string",
    "pattern": "^[A-Z]{3}$",
    "maxLength": 3,
    "description": "ISO 4217 currency code, e.g. EUR.",
}
CLIENT_ID: Schema = {
    "type": "string",
    "minLength": 1,
    "maxLength": CLIENT_ID_MAX_LENGTH,
    "pattern": ID_PATTERN,
    "description": "The client's id: 1 to 256 characters, no `/` and no control characters.",
}
SESSION_ID: Schema = {
    "type": "string",
    "minLength": 1,
    "maxLength": SESSION_ID_MAX_LENGTH,
    "pattern": ID_PATTERN,
    "description": "The session's id, unique within its client: 1 to 128 characters, no `/`"
    " and no control characters. Generate it yourself to retry a create safely.",
}
_TOKENS: Schema = {"type": "integer", "minimum": 0, "maximum": TOKENS_MAX}
# RFC 9110 section 13.1.1: `*`, or entity tags (section 8.8.3), each optionally weak.
IF_MATCH: Schema = {
    "type": "string",
    "pattern": '^([*]|(W/)?"[!#-~]*"( *, *(W/)?"[!#-~]*")*)$',
}

# What a client of Draht may write on a session, beside its ids and start.
SESSION_FIELDS: dict[str, Schema] = {
    "title": _text("What the session was about, as an invoice line shows it.", 200),
    "model": _text("The AI model the agent ran, e.g. claude-sonnet-4-5.", 100),
    "endedAt": _utc("When the session ended, never before startedAt."),
    "inputTokens": {**_TOKENS, "description": "Tokens sent to the model."},
    "outputTokens": {**_TOKENS, "description": "Tokens the model produced."},
    "cost": _decimal("What the session cost, in `currency`; requires `currency`."),
    "currency": _CURRENCY,
    "billable": {"type": "boolean", "description": "Whether the session goes on an invoice."},
    "notes": _text("The freelancer's own notes.", LONG_TEXT_MAX_LENGTH, min_length=0),
    "summary": _text("What was done, for the client to read.", LONG_TEXT_MAX_LENGTH, min_length=0),
}
SESSION_IMMUTABLE: dict[str, Schema] = {
    "clientId": {**CLIENT_ID, "description": "The client the session is billed to; must exist."},
    "sessionId": SESSION_ID,
    "startedAt": _utc("When the session started; now when left out."),
}

# What a freelancer puts on an invoice about a client.
CLIENT_FIELDS: dict[str, Schema] = {
    "name": _text("The client's name, as invoices address it.", 200),
    "contactName": _text("The person to address.", 200),
    "email": {
        "type": "string",
        "format": "email",
        "maxLength": 254,
        "description": "Billing email.",
    },
    "phone": {
        "type": "string",
        "pattern": "^[+]?[0-9][0-9 ()./-]{2,31}$",
        "maxLength": 32,
        "description": "Phone.",
    },
    "address": _text("Postal address as printed on invoices, lines separated by \\n.", 1000),
    "country": {
        "type": "string",
        "pattern": "^[A-Z]{2}$",
        "maxLength": 2,
        "description": "ISO 3166-1 alpha-2 country code, e.g. DE.",
    },
    "vatId": {
        "type": "string",
        "pattern": "^[A-Za-z0-9][A-Za-z0-9 .+*-]{1,31}$",
        "maxLength": 32,
        "description": "VAT or other tax id, e.g. DE123456789.",
    },
    "currency": _CURRENCY,
    "hourlyRate": _decimal("The agreed rate per hour, in `currency`; requires `currency`."),
    "paymentTermsDays": {
        "type": "integer",
        "minimum": 0,
        "maximum": 365,
        "description": "Days an invoice may stay unpaid.",
    },
    "notes": _text("The freelancer's own notes.", LONG_TEXT_MAX_LENGTH, min_length=0),
}


def _create(
    description: str,
    fields: dict[str, Schema],
    required: list[str],
    dependent: dict[str, list[str]],
) -> Schema:
    return {
        "type": "object",
        "description": description,
        "required": required,
        "additionalProperties": False,
        "properties": fields,
        "dependentRequired": dependent,
    }


def merge_patch(schema: Schema, immutable: tuple[str, ...]) -> Schema:
    """The RFC 7396 patch of a create schema: any writable field; null removes an optional one."""
    properties = {}
    for name, field in schema["properties"].items():
        if name in immutable:
            continue
        if name not in schema["required"]:
            field = {**field, "type": [field["type"], "null"]}
        properties[name] = field
    return {
        "type": "object",
        "description": "A JSON Merge Patch (RFC 7396): the fields to set; null removes one."
        " The patched resource must still be valid as a whole.",
        "additionalProperties": False,
        "properties": properties,
    }


_SESSION_CREATE = _create(
    "A new session of an existing client. Retrying with the same sessionId and content"
    " returns the stored session.",
    {**SESSION_IMMUTABLE, **SESSION_FIELDS},
    ["clientId"],
    {"cost": ["currency"]},
)
_CLIENT_CREATE = _create(
    "A new client; clientId is generated when left out. Retrying with the same clientId and"
    " content returns the stored client.",
    {"clientId": CLIENT_ID, **CLIENT_FIELDS},
    ["name"],
    {"hourlyRate": ["currency"]},
)
# What request bodies and ids are validated against; draht/package.py generates the handlers'
# validator code from exactly these.
REQUEST_SCHEMAS: dict[str, Schema] = {
    "SessionCreate": _SESSION_CREATE,
    "SessionPatch": merge_patch(_SESSION_CREATE, tuple(SESSION_IMMUTABLE)),
    "ClientCreate": _CLIENT_CREATE,
    "ClientPatch": merge_patch(_CLIENT_CREATE, ("clientId",)),
    "ClientId": CLIENT_ID,
    "SessionId": SESSION_ID,
}

# Set by the API on every write; never accepted in a request.
_VERSION: Schema = {
    "type": "integer",
    "minimum": 1,
    "description": "Raised by one on every write; the ETag header validates it.",
}
_UPDATED_AT = _utc("When the item was last written.")

SCHEMAS: dict[str, Schema] = {
    "Problem": {
        "type": "object",
        "description": (
            "An RFC 9457 problem: `detail` says what went wrong; `status` repeats the HTTP status."
        ),
        "required": ["type", "title", "status", "detail", "requestId"],
        "additionalProperties": False,
        "properties": {
            "type": {"type": "string", "format": "uri-reference"},
            "title": {"type": "string"},
            "status": {"type": "integer", "minimum": 400, "maximum": 599},
            "detail": {"type": "string"},
            "requestId": {"type": "string", "minLength": 1},
            "errors": {
                "description": "With 400 for a body: each field that is wrong, where and why.",
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "object",
                    "required": ["pointer", "detail"],
                    "additionalProperties": False,
                    "properties": {
                        "pointer": {
                            "type": "string",
                            "description": "RFC 6901 JSON pointer into the request body.",
                        },
                        "detail": {"type": "string"},
                    },
                },
            },
        },
    },
    "HealthOk": {
        "type": "object",
        "required": ["status", "service", "stage", "timestamp"],
        "additionalProperties": False,
        "properties": {
            "status": {"const": "ok"},
            **_HEALTH_IDENTITY,
            "checks": {
                "description": "Present with deep=true: each linked table, by name.",
                "type": "object",
                "additionalProperties": {"const": "ok"},
            },
        },
    },
    "HealthDegraded": {
        "type": "object",
        "required": ["status", "service", "stage", "timestamp", "checks"],
        "additionalProperties": False,
        "properties": {
            "status": {"const": "degraded"},
            **_HEALTH_IDENTITY,
            "checks": {
                "description": "Each linked table: `ok` or `failed: <reason>`; one failed.",
                "type": "object",
                "additionalProperties": {"type": "string", "pattern": "^(ok|failed: .+)$"},
                "not": {"additionalProperties": {"const": "ok"}},
            },
        },
    },
    "Session": {
        "type": "object",
        "description": "A stored session: every attribute but the keys pk and sk.",
        "required": ["clientId", "sessionId", "startedAt"],
        # Explicit, since generators read a missing keyword as a closed type, and the API
        # passes every stored attribute through.
        "additionalProperties": True,
        "properties": {
            "clientId": {"type": "string", "minLength": 1},
            "sessionId": {"type": "string", "minLength": 1},
            "startedAt": {"type": "string", "format": "date-time"},
            **SESSION_FIELDS,
            "version": _VERSION,
            "updatedAt": _UPDATED_AT,
        },
        "not": {"anyOf": [{"required": ["pk"]}, {"required": ["sk"]}]},
    },
    "Client": {
        "type": "object",
        "description": "A stored client, every attribute passed through.",
        "required": ["clientId", "name", "createdAt"],
        "additionalProperties": True,
        "properties": {
            "clientId": {"type": "string", "minLength": 1},
            "name": {"type": "string"},
            "createdAt": {"type": "string", "format": "date-time"},
            **{name: field for name, field in CLIENT_FIELDS.items() if name != "name"},
            "version": _VERSION,
            "updatedAt": _UPDATED_AT,
        },
    },
    "NextCursor": {
        "description": "Pass as `cursor` for the next page; null on the last page.",
        "oneOf": [
            {"type": "string", "minLength": 1, "pattern": CURSOR_PATTERN},
            {"type": "null"},
        ],
    },
    "SessionPage": _page("sessions", "Session"),
    "ClientPage": _page("clients", "Client"),
    "GatewayMessage": {
        "type": "object",
        "description": "An answer of API Gateway itself, given before any function runs.",
        "required": ["message"],
        "properties": {"message": {"type": "string"}},
    },
    **{name: schema for name, schema in REQUEST_SCHEMAS.items() if schema["type"] == "object"},
}

_LIMIT: Schema = {
    "name": "limit",
    "in": "query",
    "required": False,
    "description": f"Items per page, {LIMIT_DEFAULT} when left out.",
    "schema": {"type": "integer", "minimum": 1, "maximum": LIMIT_MAX, "default": LIMIT_DEFAULT},
}
_CURSOR: Schema = {
    "name": "cursor",
    "in": "query",
    "required": False,
    "description": "The previous page's nextCursor, for this same route (and clientId) only.",
    "schema": {
        "type": "string",
        "minLength": 1,
        "maxLength": CURSOR_MAX_LENGTH,
        "pattern": CURSOR_PATTERN,
    },
}
_RETRY_AFTER: Schema = {
    "description": "Seconds to wait before retrying.",
    "required": True,
    "schema": {"type": "integer", "minimum": 0},
}


def _json(description: str, schema: str) -> Schema:
    return {"description": description, "content": {JSON_MEDIA_TYPE: {"schema": _ref(schema)}}}


def _problem(status: int, description: str) -> Schema:
    # The schema is the bare reference: generated clients then give every error one typed
    # `Problem`, where a narrowing of `status` (allOf + const) makes openapi-python-client
    # drop the response. That `status` equals the HTTP status is checked on every reply
    # by the tests instead (tests/openapi_check.py).
    response: Schema = {
        "description": description,
        "content": {PROBLEM_MEDIA_TYPE: {"schema": _ref("Problem")}},
    }
    if status == 503:
        response["headers"] = {"Retry-After": _RETRY_AFTER}
    return response


_BAD_REQUEST = _problem(400, "A parameter is missing, malformed or out of bounds.")
_UNEXPECTED = _problem(500, "An unexpected error, logged under the request id.")
_STORE_UNAVAILABLE = _problem(503, "DynamoDB throttled or could not be reached after retries.")
_BAD_BODY = _problem(
    400,
    "A parameter or id is malformed, the body is not JSON, has unknown fields (named), or a"
    " field breaks its type, length, format or bound (`errors` points at each).",
)
_NOT_FOUND = _problem(404, "No such item.")
_TOO_LARGE = _problem(413, f"The body is over {REQUEST_BODY_MAX_BYTES} bytes.")
_WRONG_MEDIA_TYPE = _problem(415, "The body's Content-Type is not the one this route takes.")
_STALE = _problem(412, "If-Match names no current ETag: the item changed since it was read.")

_ETAG: Schema = {
    "description": "Strong validator of the item's current version; send it as If-Match.",
    "required": True,
    "schema": {"type": "string", "pattern": '^"[A-Za-z0-9_-]+"$'},
}
_LOCATION: Schema = {
    "description": "Where the item is read, patched and deleted.",
    "required": True,
    "schema": {"type": "string", "format": "uri-reference"},
}
_IF_MATCH: Schema = {
    "name": "If-Match",
    "in": "header",
    "required": False,
    "description": "Write only if the item's ETag is one of these (`*`: if it exists); else 412."
    " Compared strongly: a weak (W/) tag never matches, nor does anything but an ETag.",
    "schema": IF_MATCH,
}


@dataclass(frozen=True)
class RouteDoc:
    operation_id: str
    parameters: tuple[Schema, ...]
    responses: dict[str, Schema]
    request_body: Schema | None = None


def _item(description: str, schema: str, links: dict[str, Schema] | None = None) -> Schema:
    """An item answer, with the ETag of what it holds (and its Location when created)."""
    response = {**_json(description, schema), "headers": {"ETag": _ETAG}}
    if links:
        response["links"] = links
    return response


def _created(description: str, schema: str, links: dict[str, Schema]) -> Schema:
    response = _item(description, schema, links)
    response["headers"] = {**response["headers"], "Location": _LOCATION}
    return response


def _body(schema: str, media_type: str) -> Schema:
    return {"required": True, "content": {media_type: {"schema": _ref(schema)}}}


def _path_id(name: str, schema: Schema) -> Schema:
    return {"name": name, "in": "path", "required": True, "schema": schema}


_CLIENT_PATH = _path_id("clientId", CLIENT_ID)
_SESSION_PATH = _path_id("sessionId", SESSION_ID)
_SESSION_CLIENT: Schema = {
    "name": "clientId",
    "in": "query",
    "required": True,
    "description": "The session's client.",
    "schema": CLIENT_ID,
}


def _links(kind: str, parameters: dict[str, str]) -> dict[str, Schema]:
    """What a created item leads to: reading, patching and deleting it."""
    return {
        f"{verb.capitalize()}{kind}": {
            "operationId": f"{verb}{kind}",
            "parameters": parameters,
        }
        for verb in ("get", "patch", "delete")
    }


_CLIENT_LINKS = {
    **_links("Client", {"path.clientId": "$response.body#/clientId"}),
    # A created client can be billed sessions. The literal body holds a runtime expression for
    # clientId, which link-following tools (schemathesis) evaluate and merge into the body.
    "CreateSessionOfClient": {
        "operationId": "createSession",
        "requestBody": {"clientId": "$response.body#/clientId"},
    },
}
_SESSION_LINKS = _links(
    "Session",
    {
        "path.sessionId": "$response.body#/sessionId",
        "query.clientId": "$response.body#/clientId",
    },
)


# Every answer of an item route but its own: bad input, and the store failing or unexpected.
_ITEM_FAILURES = {"400": _BAD_BODY, "500": _UNEXPECTED, "503": _STORE_UNAVAILABLE}


def _create_doc(
    operation_id: str,
    body: str,
    item: str,
    links: dict[str, Schema],
    conflict: str,
    unknown_reference: str | None = None,
) -> RouteDoc:
    responses = {
        "200": _item("A retry: this id already holds this content.", item),
        "201": _created("Created.", item, links),
        "409": _problem(409, conflict),
        "413": _TOO_LARGE,
        "415": _WRONG_MEDIA_TYPE,
        **_ITEM_FAILURES,
    }
    if unknown_reference is not None:
        responses["422"] = _problem(422, unknown_reference)
    return RouteDoc(operation_id, (), responses, _body(body, JSON_MEDIA_TYPE))


def _get_doc(operation_id: str, parameters: tuple[Schema, ...], item: str) -> RouteDoc:
    responses = {
        "200": _item("As last written.", item),
        "404": _NOT_FOUND,
        **_ITEM_FAILURES,
    }
    return RouteDoc(operation_id, parameters, responses)


def _patch_doc(operation_id: str, parameters: tuple[Schema, ...], body: str, item: str) -> RouteDoc:
    responses = {
        "200": _item("Patched.", item),
        "404": _NOT_FOUND,
        "409": _problem(409, "Other writes kept changing the item; read it and retry."),
        "412": _STALE,
        "413": _TOO_LARGE,
        "415": _WRONG_MEDIA_TYPE,
        **_ITEM_FAILURES,
    }
    return RouteDoc(operation_id, parameters, responses, _body(body, MERGE_PATCH_MEDIA_TYPE))


def _delete_doc(operation_id: str, parameters: tuple[Schema, ...], conflict: str) -> RouteDoc:
    responses = {
        "204": {"description": "Deleted."},
        "404": _NOT_FOUND,
        "409": _problem(409, conflict),
        "412": _STALE,
        **_ITEM_FAILURES,
    }
    return RouteDoc(operation_id, parameters, responses)


ROUTE_DOCS: dict[str, RouteDoc] = {
    "GET /health": RouteDoc(
        operation_id="getHealth",
        parameters=(
            {
                "name": "deep",
                "in": "query",
                "required": False,
                "description": "true: DescribeTable on each linked table.",
                "schema": {"type": "boolean", "default": False},
            },
        ),
        responses={
            "200": _json("Healthy.", "HealthOk"),
            "400": _BAD_REQUEST,
            "500": _UNEXPECTED,
            "503": {
                **_json("A deep check failed; `checks` names it.", "HealthDegraded"),
                "headers": {"Retry-After": _RETRY_AFTER},
            },
        },
    ),
    "GET /sessions": RouteDoc(
        operation_id="listSessions",
        parameters=(
            {
                "name": "clientId",
                "in": "query",
                "required": True,
                "schema": {"type": "string", "minLength": 1, "maxLength": CLIENT_ID_MAX_LENGTH},
            },
            _LIMIT,
            _CURSOR,
        ),
        responses={
            "200": _json("A page of sessions.", "SessionPage"),
            "400": _BAD_REQUEST,
            "500": _UNEXPECTED,
            "503": _STORE_UNAVAILABLE,
        },
    ),
    "GET /clients": RouteDoc(
        operation_id="listClients",
        parameters=(_LIMIT, _CURSOR),
        responses={
            "200": _json("A page of clients.", "ClientPage"),
            "400": _BAD_REQUEST,
            "500": _UNEXPECTED,
            "503": _STORE_UNAVAILABLE,
        },
    ),
    "POST /clients": _create_doc(
        "createClient",
        "ClientCreate",
        "Client",
        _CLIENT_LINKS,
        conflict="This clientId already holds other content.",
    ),
    "GET /clients/{clientId}": _get_doc("getClient", (_CLIENT_PATH,), "Client"),
    "PATCH /clients/{clientId}": _patch_doc(
        "patchClient", (_CLIENT_PATH, _IF_MATCH), "ClientPatch", "Client"
    ),
    "DELETE /clients/{clientId}": _delete_doc(
        "deleteClient",
        (_CLIENT_PATH, _IF_MATCH),
        conflict="The client still has sessions, or some are being created, or it is being"
        " deleted: delete its sessions first.",
    ),
    "POST /sessions": _create_doc(
        "createSession",
        "SessionCreate",
        "Session",
        _SESSION_LINKS,
        conflict="This sessionId already holds other content, or the client is being deleted.",
        unknown_reference="No client has this clientId.",
    ),
    "GET /sessions/{sessionId}": _get_doc(
        "getSession", (_SESSION_PATH, _SESSION_CLIENT), "Session"
    ),
    "PATCH /sessions/{sessionId}": _patch_doc(
        "patchSession", (_SESSION_PATH, _SESSION_CLIENT, _IF_MATCH), "SessionPatch", "Session"
    ),
    "DELETE /sessions/{sessionId}": _delete_doc(
        "deleteSession",
        (_SESSION_PATH, _SESSION_CLIENT, _IF_MATCH),
        conflict="Other writes kept changing the session; read it and retry.",
    ),
}

_SECURITY_SCHEMES: dict[AuthMode, dict[str, Schema]] = {
    "iam": {
        "sigv4": {
            "type": "apiKey",
            "name": "Authorization",
            "in": "header",
            "description": "AWS Signature Version 4 (the HTTP API's IAM authorization).",
            "x-amazon-apigateway-authtype": "awsSigv4",
        }
    },
    "jwt": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
    "none": {},
}
# What API Gateway itself answers, before any handler runs, to a request it does not authorize.
_AUTH_FAILURES: dict[AuthMode, tuple[str, str]] = {
    "iam": ("403", "The request is not signed, or its signer may not call this route."),
    "jwt": ("401", "The bearer token is missing, invalid or expired."),
}
# What API Gateway answers on any route before the function runs: its quotas and the
# stage's route throttling (draht/local/limits.py applies the same locally).
_GATEWAY_LIMITS = (
    ("429", "Throttled: more requests to this route than the stage's burst and rate allow."),
    ("431", "The request line and header values exceed HTTP API's 10,240-byte quota."),
)


def _gateway_answer(description: str) -> Schema:
    return {
        "description": description,
        "content": {JSON_MEDIA_TYPE: {"schema": _ref("GatewayMessage")}},
    }


def document(app: App, auth: AuthMode = "iam") -> dict[str, Any]:
    """The OpenAPI 3.1 document for `app` served with the stage's `auth` mode."""
    declared = {route.key for route in app.routes}
    undocumented = sorted(declared - ROUTE_DOCS.keys())
    stale = sorted(ROUTE_DOCS.keys() - declared)
    if undocumented or stale:
        raise DeclarationError(
            "draht/openapi.py ROUTE_DOCS must document exactly the app's routes:"
            f" undocumented {undocumented}, not declared {stale}"
        )
    paths: dict[str, dict[str, Any]] = {}
    for route in app.routes:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route, auth)
    components: dict[str, Any] = {"schemas": SCHEMAS}
    if _SECURITY_SCHEMES[auth]:
        components["securitySchemes"] = _SECURITY_SCHEMES[auth]
    # A copy: callers may edit their document without touching the shared schemas.
    return copy.deepcopy(
        {
            "openapi": "3.1.0",
            "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
            "info": {
                "title": f"{app.name} API",
                "version": version("draht-infra"),
                "description": "Draht's HTTP API: health, and the sessions and clients a"
                " freelancer bills: listed a page at a time, created idempotently, read,"
                " merge-patched under If-Match and deleted.",
            },
            "paths": paths,
            "components": components,
        }
    )


def _operation(route: Route, auth: AuthMode) -> dict[str, Any]:
    doc = ROUTE_DOCS[route.key]
    responses = dict(doc.responses)
    responses.update((status, _gateway_answer(text)) for status, text in _GATEWAY_LIMITS)
    schemes = _SECURITY_SCHEMES[auth] if route.auth == "protected" else {}
    failures = [_AUTH_FAILURES[auth]] if schemes else []
    if schemes and auth == "jwt" and route.scopes:
        failures.append(("403", "The bearer token carries none of the route's scopes."))
    for status, description in failures:
        responses[status] = _gateway_answer(description)
    # A JWT route lists the scopes a token may carry to pass (any one of them).
    scopes = list(route.scopes) if auth == "jwt" else []
    operation: dict[str, Any] = {
        "operationId": doc.operation_id,
        "summary": route.function.description,
        "parameters": list(doc.parameters),
        "responses": dict(sorted(responses.items())),
        "security": [{name: scopes} for name in schemes],
    }
    if doc.request_body is not None:
        operation["requestBody"] = doc.request_body
    return operation
