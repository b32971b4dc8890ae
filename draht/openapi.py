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
CURSOR_MAX_LENGTH = 20000
CURSOR_PATTERN = "^[A-Za-z0-9_-]+$"

PROBLEM_MEDIA_TYPE = "application/problem+json"
JSON_MEDIA_TYPE = "application/json"


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

SCHEMAS: dict[str, Schema] = {
    "Problem": {
        "type": "object",
        "description": "An RFC 9457 problem: `detail` says what went wrong.",
        "required": ["type", "title", "status", "detail", "requestId"],
        "additionalProperties": False,
        "properties": {
            "type": {"type": "string", "format": "uri-reference"},
            "title": {"type": "string"},
            "status": {"type": "integer", "minimum": 400, "maximum": 599},
            "detail": {"type": "string"},
            "requestId": {"type": "string", "minLength": 1},
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
        "properties": {
            "clientId": {"type": "string", "minLength": 1},
            "sessionId": {"type": "string", "minLength": 1},
            "startedAt": {"type": "string", "format": "date-time"},
        },
        "not": {"anyOf": [{"required": ["pk"]}, {"required": ["sk"]}]},
    },
    "Client": {
        "type": "object",
        "description": "A stored client, every attribute passed through.",
        "required": ["clientId", "name", "createdAt"],
        "properties": {
            "clientId": {"type": "string", "minLength": 1},
            "name": {"type": "string"},
            "createdAt": {"type": "string", "format": "date-time"},
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
    response: Schema = {
        "description": description,
        "content": {
            PROBLEM_MEDIA_TYPE: {
                "schema": {
                    "allOf": [_ref("Problem"), {"properties": {"status": {"const": status}}}]
                }
            }
        },
    }
    if status == 503:
        response["headers"] = {"Retry-After": _RETRY_AFTER}
    return response


_BAD_REQUEST = _problem(400, "A parameter is missing, malformed or out of bounds.")
_UNEXPECTED = _problem(500, "An unexpected error, logged under the request id.")
_STORE_UNAVAILABLE = _problem(503, "DynamoDB throttled or could not be reached after retries.")


@dataclass(frozen=True)
class RouteDoc:
    operation_id: str
    parameters: tuple[Schema, ...]
    responses: dict[str, Schema]


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
_GATEWAY_MESSAGE: Schema = {
    "type": "object",
    "required": ["message"],
    "properties": {"message": {"type": "string"}},
}
# What API Gateway answers on any route before the function runs: its quotas and the
# stage's route throttling (draht/local/limits.py applies the same locally).
_GATEWAY_LIMITS = (
    ("429", "Throttled: more requests to this route than the stage's burst and rate allow."),
    ("431", "The request line and header values exceed HTTP API's 10,240-byte quota."),
)


def _gateway_answer(description: str) -> Schema:
    return {"description": description, "content": {JSON_MEDIA_TYPE: {"schema": _GATEWAY_MESSAGE}}}


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
                "description": "Draht's HTTP API: health, and paginated sessions and clients.",
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
    return {
        "operationId": doc.operation_id,
        "summary": route.function.description,
        "parameters": list(doc.parameters),
        "responses": dict(sorted(responses.items())),
        "security": [{name: scopes} for name in schemes],
    }
