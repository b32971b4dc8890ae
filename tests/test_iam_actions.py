"""IAM action names as IAM has them: the list links are checked against, and PartiQL's actions.

References: the Service Authorization Reference for DynamoDB, "Actions defined by
Amazon DynamoDB"
(https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazondynamodb.html),
and "IAM security policies with PartiQL for DynamoDB"
(https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ql-iam.html).
"""

from __future__ import annotations

from typing import Any

import botocore.session
import pytest

from draht.app import sessions
from draht.iam_actions import (
    DYNAMODB_ACTIONS,
    IAM_ONLY_ACTIONS,
    OPERATION_ACTIONS,
    OPERATIONS_AUTHORIZED_BY_OTHER_ACTIONS,
)
from draht.local.iam import Policy, dynamodb_access, partiql_access
from draht.model import DeclarationError, Link

PREFIX = "arn:aws:dynamodb:us-east-1:000000000000:table/"


def test_every_sdk_operation_is_an_action_or_maps_to_others() -> None:
    session = botocore.session.get_session()
    operations = {
        name
        for service in ("dynamodb", "dynamodbstreams")
        for name in session.get_service_model(service).operation_names
    }
    assert operations - set(OPERATIONS_AUTHORIZED_BY_OTHER_ACTIONS) == OPERATION_ACTIONS
    assert set(OPERATIONS_AUTHORIZED_BY_OTHER_ACTIONS) <= operations
    assert not OPERATION_ACTIONS & IAM_ONLY_ACTIONS


@pytest.mark.parametrize(
    "action",
    [
        "dynamodb:Query",
        "dynamodb:PartiQLSelect",
        "dynamodb:PartiQLInsert",
        "dynamodb:PartiQLUpdate",
        "dynamodb:PartiQLDelete",
        "dynamodb:ConditionCheckItem",
        "dynamodb:GetRecords",
    ],
)
def test_a_link_may_grant_an_action_iam_has(action: str) -> None:
    assert action in DYNAMODB_ACTIONS
    assert Link(sessions, (action,)).actions == (action,)


@pytest.mark.parametrize(
    ("action", "suggestion"),
    [
        ("dynamodb:Querry", "dynamodb:Query"),
        ("dynamodb:query", "dynamodb:Query"),
        (
            "dynamodb:ExecuteStatement",
            "PartiQLSelect, PartiQLInsert, PartiQLUpdate or PartiQLDelete",
        ),
        ("dynamodb:TransactWriteItems", "PutItem, UpdateItem, DeleteItem or ConditionCheckItem"),
        ("dynamodb:Teleport", None),
    ],
)
def test_a_link_naming_an_action_iam_does_not_have_is_refused(
    action: str, suggestion: str | None
) -> None:
    with pytest.raises(DeclarationError, match="is not a DynamoDB action IAM knows") as refused:
        Link(sessions, ("dynamodb:Query", action))
    message = str(refused.value)
    if suggestion is None:
        assert "did you mean" not in message
    elif suggestion.startswith("dynamodb:"):
        assert f"(did you mean {suggestion}?)" in message
    else:
        assert suggestion in message


@pytest.mark.parametrize(
    ("statement", "expected"),
    [
        ('SELECT * FROM "Music" WHERE Artist = ?', ("dynamodb:PartiQLSelect", "Music", "")),
        (
            'select * from "Music"."ArtistIndex" where Artist = ?',
            ("dynamodb:PartiQLSelect", "Music", "ArtistIndex"),
        ),
        ("INSERT INTO Music VALUE {'Artist': 'a'}", ("dynamodb:PartiQLInsert", "Music", "")),
        ('UPDATE "Music" SET Plays = 1 WHERE Artist = ?', ("dynamodb:PartiQLUpdate", "Music", "")),
        ('DELETE FROM "Music" WHERE Artist = ?', ("dynamodb:PartiQLDelete", "Music", "")),
        ('EXISTS(SELECT * FROM "Music" WHERE Artist = ?)', ("dynamodb:PartiQLSelect", "Music", "")),
        ('SELECT * FROM "a ""quoted"" name"', ("dynamodb:PartiQLSelect", 'a "quoted" name', "")),
        ("not a statement", None),
    ],
)
def test_a_partiql_statement_needs_the_action_of_its_kind(
    statement: str, expected: tuple[str, str, str] | None
) -> None:
    assert partiql_access(statement) == expected


@pytest.mark.parametrize(
    ("operation", "params", "expected"),
    [
        (
            "ExecuteStatement",
            {"Statement": 'SELECT * FROM "s"."byDate"'},
            [("dynamodb:PartiQLSelect", PREFIX + "s/index/byDate")],
        ),
        (
            "BatchExecuteStatement",
            {
                "Statements": [
                    {"Statement": 'UPDATE "a" SET x = 1'},
                    {"Statement": 'DELETE FROM "b"'},
                ]
            },
            [("dynamodb:PartiQLUpdate", PREFIX + "a"), ("dynamodb:PartiQLDelete", PREFIX + "b")],
        ),
        (
            "ExecuteTransaction",
            {"TransactStatements": [{"Statement": "INSERT INTO a VALUE {'k': 1}"}]},
            [("dynamodb:PartiQLInsert", PREFIX + "a")],
        ),
    ],
)
def test_partiql_operations_are_checked_per_statement(
    operation: str, params: dict[str, Any], expected: list[tuple[str, str]]
) -> None:
    assert dynamodb_access(operation, params, PREFIX) == expected


def test_a_partiql_select_grant_allows_select_and_nothing_else() -> None:
    policy = Policy(
        [{"Effect": "Allow", "Action": ["dynamodb:PartiQLSelect"], "Resource": [PREFIX + "s"]}]
    )

    def decide(statement: str) -> list[str]:
        access = dynamodb_access("ExecuteStatement", {"Statement": statement}, PREFIX)
        return [policy.decide(action, resource) for action, resource in access]

    assert decide('SELECT * FROM "s"') == ["allow"]
    assert decide('SELECT * FROM "other"') == ["implicit-deny"]
    assert decide("INSERT INTO s VALUE {'k': 1}") == ["implicit-deny"]
    assert decide('DELETE FROM "s" WHERE k = 1') == ["implicit-deny"]
