"""The OpenAPI document: valid 3.1, exactly the app's routes, and as strict as the handlers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import jsonschema_rs
import pytest
import schemathesis
from handler_env import Handlers, loaded_handlers
from openapi_check import assert_conforms, schema_errors
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.definitions import OPENAPI_31_VALIDATOR

from draht.app import app, list_clients
from draht.model import App, DeclarationError, Route
from draht.openapi import REQUEST_BODY_MAX_BYTES, REQUEST_SCHEMAS, ROUTE_DOCS, document
from draht.settings import AUTH_MODES, AuthMode


@pytest.mark.parametrize("auth", AUTH_MODES)
def test_the_document_is_valid_openapi_3_1(auth: AuthMode) -> None:
    doc = document(app, auth)
    assert doc["openapi"] == "3.1.0"
    OPENAPI_31_VALIDATOR.validate(doc)


def test_every_schema_is_valid_json_schema_2020_12() -> None:
    components = document(app)["components"]["schemas"]
    for name, schema in components.items():
        jsonschema_rs.meta.validate(
            {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}
        )
        assert name


def test_schemathesis_reads_every_operation() -> None:
    schema = schemathesis.openapi.from_dict(document(app))
    operations = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result.err()
        operations.append(result.ok())
    assert sorted(f"{op.method.upper()} {op.path}" for op in operations) == sorted(
        route.key for route in app.routes
    )


def test_the_document_has_exactly_the_app_routes() -> None:
    doc = document(app)
    documented = {
        f"{method.upper()} {path}" for path, item in doc["paths"].items() for method in item
    }
    assert documented == {route.key for route in app.routes}


def test_a_route_without_docs_is_refused() -> None:
    extra = Route("GET /extra", list_clients)
    with pytest.raises(DeclarationError, match=r"undocumented \['GET /extra'\]"):
        document(App(name="draht", tables=app.tables, routes=(*app.routes, extra)))


def test_docs_for_a_route_the_app_does_not_declare_are_refused() -> None:
    without_clients = tuple(route for route in app.routes if route.key != "GET /clients")
    with pytest.raises(DeclarationError, match=r"not declared \['GET /clients'\]"):
        document(App(name="draht", tables=app.tables, routes=without_clients))


def _operation(doc: dict[str, Any], route_key: str) -> dict[str, Any]:
    method, path = route_key.split(" ", 1)
    operation: dict[str, Any] = doc["paths"][path][method.lower()]
    return operation


def _parameters(route_key: str) -> dict[str, dict[str, Any]]:
    return {p["name"]: p for p in _operation(document(app), route_key)["parameters"]}


@pytest.mark.parametrize(
    ("auth", "expected"),
    [("iam", [{"sigv4": []}]), ("jwt", [{"bearer": []}]), ("none", [])],
)
def test_health_is_public_and_every_other_route_follows_the_auth_mode(
    auth: AuthMode, expected: list[dict[str, list[str]]]
) -> None:
    doc = document(app, auth)
    assert _operation(doc, "GET /health")["security"] == []
    for route in app.routes:
        if route.key != "GET /health":
            assert _operation(doc, route.key)["security"] == expected
    for requirement in expected:
        (name,) = requirement
        assert name in doc["components"]["securitySchemes"]


def test_a_jwt_routes_scopes_are_its_security_and_add_a_403() -> None:
    # HTTP API answers 403 to a valid token without one of the route's authorizationScopes
    # (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-jwt-authorizer.html).
    routes = tuple(
        Route(r.key, r.function, r.auth, scopes=("sessions.read",))
        if r.key == "GET /sessions"
        else r
        for r in app.routes
    )
    scoped = App(name=app.name, tables=app.tables, routes=routes)
    sessions = _operation(document(scoped, "jwt"), "GET /sessions")
    assert sessions["security"] == [{"bearer": ["sessions.read"]}]
    assert set(sessions["responses"]) >= {"401", "403"}
    clients = _operation(document(scoped, "jwt"), "GET /clients")
    assert clients["security"] == [{"bearer": []}]
    assert "403" not in clients["responses"]
    assert _operation(document(scoped, "iam"), "GET /sessions")["security"] == [{"sigv4": []}]


def test_iam_is_described_as_api_gateway_sigv4() -> None:
    scheme = document(app, "iam")["components"]["securitySchemes"]["sigv4"]
    assert scheme["type"] == "apiKey"
    assert scheme["x-amazon-apigateway-authtype"] == "awsSigv4"


def test_jwt_is_an_http_bearer() -> None:
    scheme = document(app, "jwt")["components"]["securitySchemes"]["bearer"]
    assert scheme == {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}


def test_parameters_carry_their_types_and_bounds() -> None:
    for route_key in ("GET /sessions", "GET /clients"):
        parameters = _parameters(route_key)
        assert parameters["limit"]["schema"] == {
            "type": "integer",
            "minimum": 1,
            "maximum": 100,
            "default": 25,
        }
        assert parameters["cursor"]["schema"]["type"] == "string"
        assert parameters["cursor"]["required"] is False
    client_id = _parameters("GET /sessions")["clientId"]
    assert client_id["required"] is True
    assert client_id["schema"]["type"] == "string"
    assert client_id["schema"]["minLength"] == 1
    assert "clientId" not in _parameters("GET /clients")
    assert _parameters("GET /health")["deep"]["schema"]["type"] == "boolean"


@pytest.fixture(scope="module")
def handlers() -> Iterator[Handlers]:
    # Importing needs links and an endpoint; nothing here calls the store.
    with loaded_handlers("http://127.0.0.1:9", {"Sessions": "s", "Clients": "c"}) as loaded:
        yield loaded


def test_the_bounds_are_the_handlers_own(handlers: Handlers) -> None:
    import _lib.cursor
    import _lib.http

    sessions = _parameters("GET /sessions")
    assert sessions["limit"]["schema"]["maximum"] == _lib.http.LIMIT_MAX
    assert sessions["limit"]["schema"]["default"] == _lib.http.LIMIT_DEFAULT
    assert sessions["cursor"]["schema"]["maxLength"] == _lib.cursor.MAX_LENGTH
    assert sessions["clientId"]["schema"]["maxLength"] == handlers.sessions.CLIENT_ID_MAX_LENGTH


def _success(route_key: str) -> str:
    return "204" if route_key.startswith("DELETE ") else "200"


@pytest.mark.parametrize(
    ("route_key", "status"),
    [(key, status) for key in ROUTE_DOCS for status in (_success(key), "400", "500", "503")],
)
def test_every_route_documents_success_and_each_error(route_key: str, status: str) -> None:
    responses = _operation(document(app), route_key)["responses"]
    assert status in responses
    if status != _success(route_key) and not (route_key == "GET /health" and status == "503"):
        assert list(responses[status]["content"]) == ["application/problem+json"]
    if status == "503":
        assert responses[status]["headers"]["Retry-After"]["required"] is True


@pytest.mark.parametrize(
    ("route_key", "status"), [(key, status) for key in ROUTE_DOCS for status in ("429", "431")]
)
def test_every_route_documents_the_gateways_throttling_and_head_quota(
    route_key: str, status: str
) -> None:
    """HTTP API answers these itself, on any route, before the function runs:
    https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-quotas.html and
    https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-throttling.html"""
    for auth in ("iam", "jwt", "none"):
        response = _operation(document(app, auth=auth), route_key)["responses"][status]
        reference = response["content"]["application/json"]["schema"]["$ref"]
        assert reference == "#/components/schemas/GatewayMessage"


def _response(status: int, body: Any, content_type: str, **headers: str) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"content-type": content_type, **headers},
        "body": json.dumps(body),
    }


PAGE = {"sessions": [{"clientId": "c", "sessionId": "s", "startedAt": "2026-01-01T00:00:00Z"}]}
PROBLEM = {
    "type": "about:blank",
    "title": "Bad Request",
    "status": 400,
    "detail": "d",
    "requestId": "r",
}


@pytest.mark.parametrize(
    "response",
    [
        _response(200, {**PAGE, "nextCursor": None, "extra": 1}, "application/json"),
        _response(
            200,
            {"sessions": [{**PAGE["sessions"][0], "pk": "CLIENT#c"}], "nextCursor": None},
            "application/json",
        ),
        _response(200, {**PAGE, "nextCursor": "has space"}, "application/json"),
        _response(200, {"sessions": [{"clientId": "c"}], "nextCursor": None}, "application/json"),
        _response(200, {**PAGE, "nextCursor": None}, "application/problem+json"),
        _response(400, {**PROBLEM, "status": 500}, "application/problem+json"),
        _response(400, {**PROBLEM, "trace": "Traceback"}, "application/problem+json"),
        _response(503, {**PROBLEM, "status": 503}, "application/problem+json"),
        _response(404, PROBLEM, "application/problem+json"),
    ],
    ids=[
        "unknown-field",
        "exposes-pk",
        "bad-cursor",
        "missing-attributes",
        "wrong-media-type",
        "status-mismatch",
        "stack-trace",
        "no-retry-after",
        "undocumented-status",
    ],
)
def test_responses_breaking_the_document_are_caught(response: dict[str, Any]) -> None:
    with pytest.raises(AssertionError):
        assert_conforms("GET /sessions", response)


def test_a_degraded_health_must_name_a_failed_check() -> None:
    schema = {"$ref": "#/components/schemas/HealthDegraded"}
    body = {
        "status": "degraded",
        "service": "draht",
        "stage": "dev",
        "timestamp": "2026-01-01T00:00:00.000Z",
        "checks": {"Sessions": "ok", "Clients": "failed: unreachable"},
    }
    assert schema_errors(schema, body) == []
    assert schema_errors(schema, {**body, "checks": {"Sessions": "ok", "Clients": "ok"}})


def _largest_json(schema: dict[str, Any]) -> int:
    """An upper bound on the bytes of a value valid against a request field's schema."""
    types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
    sizes = [4]  # null
    if "string" in types:
        # Every character written as an escaped surrogate pair (12 bytes), and the quotes.
        sizes.append(12 * schema["maxLength"] + 2)
    if "integer" in types:
        sizes.append(len(str(-schema["maximum"])))
    if "boolean" in types:
        sizes.append(5)
    return max(sizes)


@pytest.mark.parametrize(
    "name", [name for name, schema in REQUEST_SCHEMAS.items() if schema["type"] == "object"]
)
def test_every_valid_body_fits_the_body_limit(name: str) -> None:
    # A valid body must never be refused as too large: the bounds keep the largest one,
    # every field at its longest and fully escaped, within 64 KiB.
    properties = REQUEST_SCHEMAS[name]["properties"]
    members = sum(len(json.dumps(field)) + 2 + _largest_json(s) for field, s in properties.items())
    assert members + 2 <= REQUEST_BODY_MAX_BYTES == 64 * 1024, name
