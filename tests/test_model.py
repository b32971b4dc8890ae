import pytest

from draht.app import app, clients, sessions
from draht.model import App, DeclarationError, Function, Link, Route, Table, policy_statements


def test_functions_come_from_routes_in_route_order() -> None:
    assert [f.name for f in app.functions] == ["Health", "ListSessions", "ListClients"]


def test_policy_grants_only_the_linked_actions_on_the_linked_table() -> None:
    arns = {"Sessions": "arn:sessions", "Clients": "arn:clients"}
    statements = policy_statements(app.function("ListSessions"), arns)
    assert statements == [
        {
            "Sid": "SessionsAccess",
            "Effect": "Allow",
            "Action": ["dynamodb:Query"],
            "Resource": ["arn:sessions"],
        }
    ]


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
