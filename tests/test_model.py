from typing import Any

import pytest

from draht.app import app, clients, sessions
from draht.model import (
    App,
    DeclarationError,
    Function,
    Link,
    LocalIndex,
    Route,
    Table,
    app_value,
    link_value,
    policy_statements,
    python_version,
    resource_environment,
)


def test_functions_come_from_routes_in_route_order() -> None:
    assert [f.name for f in app.functions] == ["Health", "ListSessions", "ListClients"]


def test_policy_grants_only_the_linked_actions_on_the_linked_table() -> None:
    arns = {"Sessions": "arn:sessions", "Clients": "arn:clients"}
    statements = policy_statements(app.function("ListSessions"), arns)
    assert statements == [
        {
            "Sid": "SessionsAccess",
            "Effect": "Allow",
            "Action": [
                "dynamodb:DeleteItem",
                "dynamodb:PutItem",
                "dynamodb:Query",
                "dynamodb:UpdateItem",
            ],
            "Resource": ["arn:sessions"],
        },
        {
            "Sid": "SessionsIndexQuery",
            "Effect": "Allow",
            "Action": ["dynamodb:Query"],
            "Resource": ["arn:sessions/index/bySessionId"],
        },
        {
            "Sid": "ClientsAccess",
            "Effect": "Allow",
            "Action": ["dynamodb:GetItem", "dynamodb:UpdateItem"],
            "Resource": ["arn:clients"],
        },
    ]


def test_a_link_to_an_index_the_table_lacks_is_refused() -> None:
    with pytest.raises(DeclarationError, match="no index 'byTitle'"):
        Link(sessions, actions=("dynamodb:Query",), queried_indexes=("byTitle",))


def test_a_local_index_must_sort_by_another_attribute() -> None:
    with pytest.raises(DeclarationError, match="another attribute"):
        Table("T", hash_key="pk", range_key="sk", local_indexes=(LocalIndex("bySk", "sk"),))


def test_wildcard_actions_are_refused() -> None:
    with pytest.raises(DeclarationError, match="wildcards"):
        Link(sessions, actions=("dynamodb:*",))


def test_a_link_to_an_undeclared_table_is_refused() -> None:
    stray = Table("Stray", hash_key="id")
    function = Function(
        "Reader", handler="reader.handler", links=(Link(stray, ("dynamodb:Scan",)),)
    )
    with pytest.raises(DeclarationError, match="does not declare"):
        App(name="x", tables=(sessions, clients), routes=(Route("GET /r", function),))


def test_a_duplicate_route_is_refused() -> None:
    function = app.function("Health")
    with pytest.raises(DeclarationError, match="declared twice"):
        App(name="x", tables=(), routes=(Route("GET /a", function), Route("GET /a", function)))


# The security promises of the declaration, written out rather than derived from it.


def test_the_data_routes_are_protected_and_only_health_is_public() -> None:
    assert {route.key: route.auth for route in app.routes} == {
        "GET /health": "public",
        "GET /sessions": "protected",
        "GET /clients": "protected",
        "POST /clients": "protected",
        "GET /clients/{clientId}": "protected",
        "PATCH /clients/{clientId}": "protected",
        "DELETE /clients/{clientId}": "protected",
        "POST /sessions": "protected",
        "GET /sessions/{sessionId}": "protected",
        "PATCH /sessions/{sessionId}": "protected",
        "DELETE /sessions/{sessionId}": "protected",
    }


def test_a_route_is_protected_unless_declared_public() -> None:
    assert Route("GET /r", app.function("Health")).auth == "protected"


@pytest.mark.parametrize(
    "action",
    [
        "dynamodb:*",
        "dynamodb:Get*",
        "dynamodb:*Item",
        "dynamodb:Query*",
        "dynamodb:Get?tem",
        "*",
        "s3:GetObject",
        "dynamodb:",
        "dynamodb:GetItem ",
        " dynamodb:GetItem",
        "dynamodb:GetItem\n",
        "dynamodb:GetItem,dynamodb:Scan",
        "xdynamodb:GetItem",
    ],
)
def test_a_link_may_not_grant_a_wildcard_of_any_form_or_anything_but_one_dynamodb_action(
    action: str,
) -> None:
    with pytest.raises(DeclarationError) as raised:
        Link(sessions, actions=("dynamodb:Query", action))
    assert str(raised.value) == (
        f"link to Sessions: {action!r} is not one named DynamoDB action (wildcards are not allowed)"
    )


def test_a_link_grants_named_dynamodb_actions() -> None:
    link = Link(sessions, actions=("dynamodb:Query", "dynamodb:BatchWriteItem", "dynamodb:Scan"))
    assert link.actions == ("dynamodb:Query", "dynamodb:BatchWriteItem", "dynamodb:Scan")


def test_a_link_must_grant_an_action() -> None:
    with pytest.raises(DeclarationError, match=r"^link to Sessions grants no action$"):
        Link(sessions, actions=())


@pytest.mark.parametrize(
    "name", ["sessions", "Sess-ions", "Sess ions", "1Sessions", "", "Séssions"]
)
def test_a_table_name_must_be_pascal_case_letters_and_digits(name: str) -> None:
    with pytest.raises(DeclarationError) as raised:
        Table(name, hash_key="id")
    assert str(raised.value) == f"table name {name!r} must be PascalCase letters and digits"


@pytest.mark.parametrize("name", ["reader", "Read-er", "Read_er", "9Reader", "", "Reader\n"])
def test_a_function_name_must_be_pascal_case_letters_and_digits(name: str) -> None:
    with pytest.raises(DeclarationError) as raised:
        Function(name, handler="reader.handler")
    assert str(raised.value) == f"function name {name!r} must be PascalCase letters and digits"


def test_pascal_case_names_with_digits_are_accepted() -> None:
    assert Table("Sessions2", hash_key="id").name == "Sessions2"
    assert Function("V2Reader", handler="reader.handler").name == "V2Reader"


@pytest.mark.parametrize("handler", ["a.b.c", ".fn", "module.", "module", "", "."])
def test_a_handler_must_be_module_dot_function(handler: str) -> None:
    with pytest.raises(DeclarationError) as raised:
        Function("Reader", handler=handler)
    assert str(raised.value) == (
        f"function Reader: handler {handler!r} must look like 'module.function'"
    )


def test_a_handler_names_its_module_and_attribute() -> None:
    function = Function("Reader", handler="reader.handle_event")
    assert (function.module, function.attribute) == ("reader", "handle_event")


def test_a_function_may_not_link_a_table_twice() -> None:
    with pytest.raises(DeclarationError) as raised:
        Function(
            "Reader",
            handler="reader.handler",
            links=(Link(sessions, ("dynamodb:Query",)), Link(sessions, ("dynamodb:Scan",))),
        )
    assert str(raised.value) == "function Reader links a table twice: ['Sessions', 'Sessions']"


def test_a_table_may_not_be_named_app() -> None:
    reserved = Table("App", hash_key="id")
    with pytest.raises(DeclarationError) as raised:
        Function("Reader", handler="reader.handler", links=(Link(reserved, ("dynamodb:Scan",)),))
    assert str(raised.value) == "function Reader: 'App' is reserved"


def test_two_functions_may_not_share_a_name() -> None:
    first = Function("Reader", handler="first.handler")
    second = Function("Reader", handler="second.handler")
    with pytest.raises(DeclarationError) as raised:
        App(name="x", tables=(), routes=(Route("GET /a", first), Route("GET /b", second)))
    assert str(raised.value) == "two different functions are named Reader"


def test_one_function_may_serve_several_routes() -> None:
    reader = Function("Reader", handler="reader.handler")
    other = Function("Other", handler="other.handler")
    declared = App(
        name="x",
        tables=(),
        routes=(Route("GET /a", reader), Route("GET /o", other), Route("POST /a", reader)),
    )
    assert declared.functions == (reader, other)
    assert declared.function("Other") is other
    with pytest.raises(KeyError) as raised:
        declared.function("Missing")
    assert raised.value.args == ("Missing",)


@pytest.mark.parametrize(
    "key",
    [
        "GET sessions",
        "GET",
        "/sessions",
        "get /sessions",
        "FETCH /sessions",
        "GET  /sessions",
        "GET /sessions ",
        "GET /a b",
        "GET /sessions\n",
        "ANY /sessions",
    ],
)
def test_a_route_key_must_be_a_method_and_a_path(key: str) -> None:
    with pytest.raises(DeclarationError) as raised:
        Route(key, app.function("Health"))
    assert str(raised.value) == f"route {key!r} must look like 'GET /path'"


@pytest.mark.parametrize(
    "key",
    ["GET /", "POST /a", "PUT /a/{id}", "PATCH /a", "DELETE /a", "HEAD /a", "OPTIONS /a",
     "GET /files/{path+}", "GET /A-z_0.9"],
)  # fmt: skip
def test_a_route_key_may_use_any_http_api_method_and_path(key: str) -> None:
    route = Route(key, app.function("Health"))
    assert f"{route.method} {route.path}" == key


def test_the_refusals_of_apps_name_what_is_wrong() -> None:
    health = app.function("Health")
    with pytest.raises(DeclarationError) as raised:
        App(name="x", tables=(), routes=(Route("GET /a", health), Route("GET /a", health)))
    assert str(raised.value) == "a route is declared twice: ['GET /a', 'GET /a']"
    stray = Table("Stray", hash_key="id")
    reader = Function("Reader", handler="r.handler", links=(Link(stray, ("dynamodb:Scan",)),))
    with pytest.raises(DeclarationError) as raised:
        App(name="x", tables=(sessions,), routes=(Route("GET /r", reader),))
    assert str(raised.value) == (
        "function Reader links table Stray, which the app does not declare"
    )


def test_a_table_lists_its_key_names_hash_first() -> None:
    assert sessions.key_names == ("pk", "sk")
    assert clients.key_names == ("clientId",)


def test_each_link_becomes_one_statement_with_its_sorted_actions_on_its_table() -> None:
    reader = Function(
        "Reader",
        handler="reader.handler",
        links=(
            Link(sessions, ("dynamodb:Scan", "dynamodb:GetItem")),
            Link(clients, ("dynamodb:Query",)),
        ),
    )
    arns = {"Sessions": "arn:sessions", "Clients": "arn:clients", "Other": "arn:other"}
    assert policy_statements(reader, arns) == [
        {
            "Sid": "SessionsAccess",
            "Effect": "Allow",
            "Action": ["dynamodb:GetItem", "dynamodb:Scan"],
            "Resource": ["arn:sessions"],
        },
        {
            "Sid": "ClientsAccess",
            "Effect": "Allow",
            "Action": ["dynamodb:Query"],
            "Resource": ["arn:clients"],
        },
    ]
    assert policy_statements(Function("Idle", handler="idle.handler"), arns) == []


def test_link_values_are_compact_json_with_sorted_keys() -> None:
    assert link_value({"name": "t", "arn": "a"}) == '{"arn":"a","name":"t"}'
    assert app_value(app, "dev") == '{"name":"draht","stage":"dev"}'


def test_a_function_sees_the_app_and_exactly_its_linked_tables() -> None:
    environment = resource_environment(
        app, "dev", {"Sessions": ("draht-dev-sessions", "arn:aws:dynamodb:r:1:table/s")}
    )
    assert environment == {
        "DRAHT_RESOURCE_App": '{"name":"draht","stage":"dev"}',
        "DRAHT_RESOURCE_Sessions": (
            '{"arn":"arn:aws:dynamodb:r:1:table/s","name":"draht-dev-sessions"}'
        ),
    }
    assert resource_environment(app, "production", {}) == {
        "DRAHT_RESOURCE_App": '{"name":"draht","stage":"production"}'
    }


@pytest.mark.parametrize(
    ("limits", "message"),
    [
        ({"memory_mb": 64}, "function Tiny: memory_mb must be from 128 to 10240 (got 64)"),
        ({"timeout_s": 0}, "function Tiny: timeout_s must be from 1 to 900 (got 0)"),
        ({"timeout_s": 901}, "function Tiny: timeout_s must be from 1 to 900 (got 901)"),
    ],
)
def test_a_function_limit_lambda_refuses_is_refused(limits: dict[str, Any], message: str) -> None:
    with pytest.raises(DeclarationError) as raised:
        Function("Tiny", handler="health.handler", **limits)
    assert str(raised.value) == message


@pytest.mark.parametrize(
    ("action", "message"),
    [
        (
            "dynamodb:Querry",
            "'dynamodb:Querry' is not a DynamoDB action IAM knows (did you mean dynamodb:Query?)",
        ),
        # Too far from any name for difflib, but the same name in other case.
        (
            "dynamodb:BATCHGETITEM",
            "'dynamodb:BATCHGETITEM' is not a DynamoDB action IAM knows"
            " (did you mean dynamodb:BatchGetItem?)",
        ),
        ("dynamodb:Teleport", "'dynamodb:Teleport' is not a DynamoDB action IAM knows"),
    ],
)
def test_an_unknown_action_is_refused_with_the_closest_known_one(action: str, message: str) -> None:
    with pytest.raises(DeclarationError) as raised:
        Link(sessions, ("dynamodb:Query", action))
    assert str(raised.value) == f"link to Sessions: {message}"


def test_the_runtime_names_its_python_version() -> None:
    assert python_version("python3.13") == (3, 13)
    assert python_version("python3.9") == (3, 9)


@pytest.mark.parametrize(
    "limits",
    [{"memory_mb": 128}, {"memory_mb": 10240}, {"timeout_s": 1}, {"timeout_s": 900}],
)
def test_the_edges_of_lambdas_limits_are_accepted(limits: dict[str, Any]) -> None:
    function = Function("Edge", handler="health.handler", **limits)
    assert {name: getattr(function, name) for name in limits} == limits


def test_a_local_index_needs_a_sort_key_and_a_valid_name() -> None:
    with pytest.raises(DeclarationError) as raised:
        Table("Flat", hash_key="id", local_indexes=(LocalIndex("byDate", "date"),))
    assert str(raised.value) == "table Flat: a local index needs a table sort key"
    with pytest.raises(DeclarationError) as raised:
        Table("Sorted", "id", "sk", local_indexes=(LocalIndex("x", "date"),))
    assert str(raised.value) == "table Sorted: index name 'x' is invalid"
