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
    policy_statements,
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
