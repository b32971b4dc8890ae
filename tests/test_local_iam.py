"""The local IAM check: which (action, resource) pairs a call needs, how a policy decides, and
how a denial reaches the caller, in-process and inside a real worker.

What a call needs follows "Actions, resources, and condition keys for Amazon DynamoDB"
(https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazondynamodb.html,
"Actions defined by Amazon DynamoDB": each item of a transaction needs its single-item
action, a batch needs its own action on every table it names, an index query the index
ARN). How a policy decides follows "Policy evaluation logic"
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html,
"Determining whether a request is allowed or denied within an account": an explicit deny
wins, and without an allow the request is implicitly denied), and the wildcards and case
rules "IAM JSON policy elements: Action" and "Resource"
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_action.html:
action names are case-insensitive; .../reference_policies_elements_resource.html: `*` and
`?` in ARNs, which are case-sensitive).

The in-process tests drive `Enforcer` through real boto3 clients, so mutation testing,
which switches mutants inside the pytest process only, reaches the same hooks the workers
install; the worker tests show those hooks at work in a `python -I` worker.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import botocore.loaders
import botocore.session
import pytest
from botocore import handlers
from botocore.config import Config
from botocore.exceptions import ClientError, ParamValidationError
from dev_process import TEST_HANDLERS
from documented_events import api_event
from local_apps.declarations import app as test_app
from local_apps.declarations import clients, cross_reader

from draht.app import app
from draht.local.iam import (
    Enforcer,
    Policy,
    caller_arn,
    denial_message,
    dynamodb_access,
    partiql_access,
)
from draht.local.runtime import RESPONSE_LIMIT_BYTES, Deployment, Worker
from draht.local.store import (
    LOCAL_CREDENTIALS,
    LOCAL_REGION,
    Dynalite,
    dynamodb_client,
    ensure_tables,
    local_table_name,
)
from draht.local.worker import FrameDecoder, encode_frame
from draht.model import Function, policy_statements
from draht.settings import Settings

ACCOUNT = "000000000000"
PREFIX = f"arn:aws:dynamodb:{LOCAL_REGION}:{ACCOUNT}:table/"
CALLER = caller_arn(ACCOUNT, "draht-local-Reader", "Reader")
OTHER_ARN = f"arn:aws:dynamodb:eu-west-1:{ACCOUNT}:table/Other"
KEY = {"id": {"S": "1"}}
# Nothing listens there: a call that got past the check fails at once and never leaves.
NOWHERE = "http://127.0.0.1:9"

Pairs = list[tuple[str, str]]

# One row per shape of DynamoDB call: (operation, parameters, the pairs IAM checks, in order).
OPERATION_SHAPES: list[tuple[str, dict[str, Any], Pairs]] = [
    ("GetItem", {"TableName": "a", "Key": KEY}, [("dynamodb:GetItem", PREFIX + "a")]),
    ("PutItem", {"TableName": "a", "Item": KEY}, [("dynamodb:PutItem", PREFIX + "a")]),
    ("DeleteItem", {"TableName": "a", "Key": KEY}, [("dynamodb:DeleteItem", PREFIX + "a")]),
    ("UpdateItem", {"TableName": "a", "Key": KEY}, [("dynamodb:UpdateItem", PREFIX + "a")]),
    ("Query", {"TableName": "a"}, [("dynamodb:Query", PREFIX + "a")]),
    ("Scan", {"TableName": "a"}, [("dynamodb:Scan", PREFIX + "a")]),
    (
        "Query",
        {"TableName": "a", "IndexName": "byDate"},
        [("dynamodb:Query", PREFIX + "a/index/byDate")],
    ),
    (
        "Scan",
        {"TableName": "a", "IndexName": "byDate"},
        [("dynamodb:Scan", PREFIX + "a/index/byDate")],
    ),
    ("DescribeTable", {"TableName": "a"}, [("dynamodb:DescribeTable", PREFIX + "a")]),
    ("GetItem", {"TableName": OTHER_ARN, "Key": KEY}, [("dynamodb:GetItem", OTHER_ARN)]),
    (
        "Query",
        {"TableName": OTHER_ARN, "IndexName": "byDate"},
        [("dynamodb:Query", OTHER_ARN + "/index/byDate")],
    ),
    (
        "BatchGetItem",
        {"RequestItems": {"a": {"Keys": [KEY]}, OTHER_ARN: {"Keys": [KEY]}}},
        [("dynamodb:BatchGetItem", PREFIX + "a"), ("dynamodb:BatchGetItem", OTHER_ARN)],
    ),
    (
        "BatchWriteItem",
        {
            "RequestItems": {
                "a": [{"PutRequest": {"Item": KEY}}],
                "b": [{"DeleteRequest": {"Key": KEY}}],
            }
        },
        [("dynamodb:BatchWriteItem", PREFIX + "a"), ("dynamodb:BatchWriteItem", PREFIX + "b")],
    ),
    (
        "TransactGetItems",
        {
            "TransactItems": [
                {"Get": {"TableName": "a", "Key": KEY}},
                {"Get": {"TableName": OTHER_ARN, "Key": KEY}},
            ]
        },
        [("dynamodb:GetItem", PREFIX + "a"), ("dynamodb:GetItem", OTHER_ARN)],
    ),
    (
        "TransactWriteItems",
        {
            "TransactItems": [
                {"Put": {"TableName": "a", "Item": KEY}},
                {"Delete": {"TableName": "b", "Key": KEY}},
                {"Update": {"TableName": "c", "Key": KEY, "UpdateExpression": "SET n = :n"}},
                {
                    "ConditionCheck": {
                        "TableName": "d",
                        "Key": KEY,
                        "ConditionExpression": "attribute_exists(id)",
                    }
                },
            ]
        },
        [
            ("dynamodb:PutItem", PREFIX + "a"),
            ("dynamodb:DeleteItem", PREFIX + "b"),
            ("dynamodb:UpdateItem", PREFIX + "c"),
            ("dynamodb:ConditionCheckItem", PREFIX + "d"),
        ],
    ),
    (
        "ListTagsOfResource",
        {"ResourceArn": OTHER_ARN},
        [("dynamodb:ListTagsOfResource", OTHER_ARN)],
    ),
    (
        "TagResource",
        {"ResourceArn": PREFIX + "a", "Tags": [{"Key": "k", "Value": "v"}]},
        [("dynamodb:TagResource", PREFIX + "a")],
    ),
    (
        "ExportTableToPointInTime",
        {"TableArn": OTHER_ARN, "S3Bucket": "exports"},
        [("dynamodb:ExportTableToPointInTime", OTHER_ARN)],
    ),
    ("ListTables", {}, [("dynamodb:ListTables", "*")]),
    ("DescribeLimits", {}, [("dynamodb:DescribeLimits", "*")]),
    # PartiQL: one action per statement, by its kind, on the table or index it names
    # (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ql-iam.html).
    (
        "ExecuteStatement",
        {"Statement": 'SELECT * FROM "a"."byDate" WHERE id = ?'},
        [("dynamodb:PartiQLSelect", PREFIX + "a/index/byDate")],
    ),
    (
        "ExecuteStatement",
        {"Statement": "insert into a value {'id': '1'}"},
        [("dynamodb:PartiQLInsert", PREFIX + "a")],
    ),
    (
        "BatchExecuteStatement",
        {
            "Statements": [
                {"Statement": "UPDATE a SET n = 1 WHERE id = '1'"},
                {"Statement": "DELETE FROM b WHERE id = '1'"},
            ]
        },
        [("dynamodb:PartiQLUpdate", PREFIX + "a"), ("dynamodb:PartiQLDelete", PREFIX + "b")],
    ),
    (
        "ExecuteTransaction",
        {
            "TransactStatements": [
                {"Statement": "DELETE FROM a WHERE id = '1'"},
                {"Statement": "EXISTS(SELECT * FROM b WHERE id = '1')"},
            ]
        },
        [("dynamodb:PartiQLDelete", PREFIX + "a"), ("dynamodb:PartiQLSelect", PREFIX + "b")],
    ),
]
SHAPE_IDS = [
    "get-item",
    "put-item",
    "delete-item",
    "update-item",
    "query",
    "scan",
    "query-index",
    "scan-index",
    "describe-table",
    "table-given-by-arn",
    "index-of-a-table-given-by-arn",
    "batch-get",
    "batch-write",
    "transact-get",
    "transact-write",
    "resource-arn-read",
    "resource-arn-write",
    "table-arn",
    "no-resource",
    "no-resource-either",
    "partiql-select-index",
    "partiql-insert",
    "partiql-batch",
    "partiql-transaction",
]


@pytest.mark.parametrize(("operation", "params", "pairs"), OPERATION_SHAPES, ids=SHAPE_IDS)
def test_a_call_is_checked_as_the_actions_and_resources_aws_checks(
    operation: str, params: dict[str, Any], pairs: Pairs
) -> None:
    assert dynamodb_access(operation, params, PREFIX) == pairs


@pytest.mark.parametrize("statement", ["", "   ", "(SELECT * FROM a)", "42", "EXPLAIN a"])
def test_a_statement_of_no_kind_is_left_to_the_store(statement: str) -> None:
    # DynamoDB refuses it with a ValidationException before IAM would matter.
    assert partiql_access(statement) is None
    assert dynamodb_access("ExecuteStatement", {"Statement": statement}, PREFIX) == []


def test_a_stream_is_checked_on_its_arn() -> None:
    stream = OTHER_ARN + "/stream/2026-11-29T00:00:00.000"
    pairs = dynamodb_access("DescribeStream", {"StreamArn": stream}, PREFIX)
    assert pairs == [("dynamodb:DescribeStream", stream)]


def test_a_transaction_item_of_a_kind_not_known_yet_is_checked_under_its_own_name() -> None:
    # Fails closed: no grant of a named action covers an action nobody has named.
    params = {"TransactItems": [{"Frobnicate": {"TableName": "a"}}]}
    pairs = dynamodb_access("TransactWriteItems", params, PREFIX)
    assert pairs == [("dynamodb:Frobnicate", PREFIX + "a")]


def _policy_of(pairs: Pairs) -> list[dict[str, Any]]:
    # Plain strings, not lists: the policy grammar allows both.
    return [
        {"Effect": "Allow", "Action": action, "Resource": resource} for action, resource in pairs
    ]


@pytest.fixture
def fresh_sessions(monkeypatch: pytest.MonkeyPatch) -> None:
    """Enforcers installed in a test reach only the sessions created in that test."""
    monkeypatch.setattr(handlers, "BUILTIN_HANDLERS", list(handlers.BUILTIN_HANDLERS))


# Service models parsed once for the whole module; each test still gets a session of its own.
_MODELS = botocore.loaders.create_loader()


def _client(
    statements: list[dict[str, Any]], service: str = "dynamodb", endpoint: str = NOWHERE
) -> Any:
    Enforcer(Policy(statements), CALLER, PREFIX).install()
    core = botocore.session.get_session()
    core.register_component("data_loader", _MODELS)
    session = boto3.session.Session(
        botocore_session=core,
        region_name=LOCAL_REGION,
        aws_access_key_id=LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )
    config = Config(connect_timeout=1, read_timeout=5, retries={"total_max_attempts": 1})
    # boto3-stubs type client() per service name; these tests pass the name as a plain str.
    return session.client(service, endpoint_url=endpoint, config=config)  # type: ignore[call-overload]


@pytest.fixture
def sent(fresh_sessions: None) -> Iterator[Callable[[Any], list[str]]]:
    """Records, per client, each request that left the process."""

    def watch(client: Any) -> list[str]:
        requests: list[str] = []
        client.meta.events.register("before-send", lambda request, **_: requests.append(request))
        return requests

    yield watch


def _denied(error: ClientError) -> bool:
    return error.response["Error"]["Code"] in ("AccessDeniedException", "AccessDenied")


def _method_name(client: Any, operation: str) -> str:
    methods: dict[str, str] = {
        api: method for method, api in client.meta.method_to_api_mapping.items()
    }
    return methods[operation]


@pytest.mark.parametrize(("operation", "params", "pairs"), OPERATION_SHAPES, ids=SHAPE_IDS)
def test_a_call_without_a_grant_is_denied_naming_its_first_pair(
    fresh_sessions: None,
    sent: Callable[[Any], list[str]],
    operation: str,
    params: dict[str, Any],
    pairs: Pairs,
) -> None:
    client = _client([])
    requests = sent(client)
    with pytest.raises(ClientError) as raised:
        getattr(client, _method_name(client, operation))(**params)
    action, resource = pairs[0]
    assert raised.value.response["Error"] == {
        "Code": "AccessDeniedException",
        "Message": denial_message(CALLER, action, resource, "implicit-deny"),
    }
    assert requests == [], "a denied call left the process"


@pytest.mark.parametrize(("operation", "params", "pairs"), OPERATION_SHAPES, ids=SHAPE_IDS)
def test_a_call_is_allowed_once_each_of_its_pairs_is_granted(
    dynalite: Dynalite,
    fresh_sessions: None,
    operation: str,
    params: dict[str, Any],
    pairs: Pairs,
) -> None:
    client = _client(_policy_of(pairs), endpoint=dynalite.endpoint)
    try:
        getattr(client, _method_name(client, operation))(**params)
    except ClientError as error:
        # The store answers (no such table, an operation it lacks): the check let it through.
        assert not _denied(error), error.response["Error"]


@pytest.mark.parametrize(
    ("operation", "params", "pairs"),
    [shape for shape in OPERATION_SHAPES if len(shape[2]) > 1],
    ids=[i for i, shape in zip(SHAPE_IDS, OPERATION_SHAPES, strict=True) if len(shape[2]) > 1],
)
def test_every_pair_of_a_batch_or_transaction_is_checked(
    fresh_sessions: None, operation: str, params: dict[str, Any], pairs: Pairs
) -> None:
    client = _client(_policy_of(pairs[:-1]))
    with pytest.raises(ClientError) as raised:
        getattr(client, _method_name(client, operation))(**params)
    action, resource = pairs[-1]
    expected = denial_message(CALLER, action, resource, "implicit-deny")
    assert raised.value.response["Error"]["Message"] == expected


def test_an_explicit_deny_is_answered_as_one(fresh_sessions: None) -> None:
    client = _client(
        [
            {"Effect": "Allow", "Action": "dynamodb:*", "Resource": "*"},
            {"Effect": "Deny", "Action": "dynamodb:Scan", "Resource": PREFIX + "a"},
        ]
    )
    with pytest.raises(ClientError) as raised:
        client.scan(TableName="a")
    assert raised.value.response["Error"]["Message"] == (
        f"User: {CALLER} is not authorized to perform: dynamodb:Scan on resource: {PREFIX}a"
        " with an explicit deny in an identity-based policy"
    )


def test_a_denial_looks_like_aws_answered_it(fresh_sessions: None) -> None:
    client = _client([])
    answered: list[Any] = []
    client.meta.events.register(
        "after-call", lambda http_response, parsed, **_: answered.append((http_response, parsed))
    )
    with pytest.raises(ClientError) as raised:
        client.list_tables()
    message = denial_message(CALLER, "dynamodb:ListTables", "*", "implicit-deny")
    metadata = raised.value.response["ResponseMetadata"]
    assert metadata["HTTPStatusCode"] == 400
    assert metadata["RetryAttempts"] == 0
    request_id = metadata["RequestId"]
    assert len(request_id) == 32 and request_id == request_id.upper()
    assert int(request_id, 16) >= 0
    assert metadata["HTTPHeaders"]["x-amzn-requestid"] == request_id
    assert metadata["HTTPHeaders"]["content-type"] == "application/x-amz-json-1.0"
    ((http_response, parsed),) = answered
    assert http_response.status_code == 400
    assert json.loads(http_response.content) == {
        "__type": "com.amazon.coral.service#AccessDeniedException",
        "Message": message,
    }
    assert parsed["Error"] == {"Code": "AccessDeniedException", "Message": message}
    assert str(raised.value) == (
        "An error occurred (AccessDeniedException) when calling the ListTables operation: "
        + message
    )


def test_each_denial_gets_its_own_request_id(fresh_sessions: None) -> None:
    client = _client([])
    ids = set()
    for _ in range(3):
        with pytest.raises(ClientError) as raised:
            client.list_tables()
        ids.add(raised.value.response["ResponseMetadata"]["RequestId"])
    assert len(ids) == 3


def test_invalid_parameters_fail_validation_before_the_denial(fresh_sessions: None) -> None:
    client = _client([])
    with pytest.raises(ParamValidationError):
        client.get_item(TableName="a")


@pytest.mark.parametrize(
    ("operation", "params"),
    [
        ("transact_get_items", {}),
        ("transact_write_items", {}),
        ("transact_get_items", {"TransactItems": [{"Get": {"Key": KEY}}]}),
        ("execute_statement", {}),
        ("batch_execute_statement", {"Statements": [{}]}),
        ("execute_transaction", {"TransactStatements": [{}]}),
        ("transact_write_items", {"TransactItems": [{"Delete": {"Key": KEY}}]}),
    ],
)
def test_a_call_missing_what_names_its_tables_fails_validation_as_against_aws(
    fresh_sessions: None, operation: str, params: dict[str, Any]
) -> None:
    client = _client([])
    with pytest.raises(ParamValidationError):
        getattr(client, operation)(**params)


def test_an_allowed_call_after_a_denied_one_is_not_denied(
    dynalite: Dynalite, fresh_sessions: None
) -> None:
    client = _client(_policy_of([("dynamodb:ListTables", "*")]), endpoint=dynalite.endpoint)
    with pytest.raises(ClientError):
        client.describe_limits()
    assert "TableNames" in client.list_tables()


@pytest.mark.parametrize(
    ("service", "call", "action", "code"),
    [
        # S3 speaks XML: AWS names the error AccessDenied there, not AccessDeniedException.
        ("s3", lambda client: client.list_buckets(), "s3:ListBuckets", "AccessDenied"),
        ("lambda", lambda c: c.list_functions(), "lambda:ListFunctions", "AccessDeniedException"),
        (
            "sts",
            lambda client: client.get_caller_identity(),
            "sts:GetCallerIdentity",
            "AccessDenied",
        ),
    ],
)
def test_a_call_to_another_service_is_denied_under_its_own_prefix(
    sent: Callable[[Any], list[str]],
    service: str,
    call: Callable[[Any], Any],
    action: str,
    code: str,
) -> None:
    # Even a policy granting every DynamoDB action grants nothing elsewhere.
    client = _client([{"Effect": "Allow", "Action": "dynamodb:*", "Resource": "*"}], service)
    requests = sent(client)
    with pytest.raises(ClientError) as raised:
        call(client)
    assert raised.value.response["Error"] == {
        "Code": code,
        "Message": denial_message(CALLER, action, "*", "implicit-deny"),
    }
    assert requests == []


def test_a_denied_call_over_smithy_rpc_v2_cbor_is_an_access_denied_exception(
    sent: Callable[[Any], list[str]],
) -> None:
    # CloudWatch speaks Smithy RPC v2 CBOR; its common errors name AccessDeniedException.
    # https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/CommonErrors.html
    client = _client([], "cloudwatch")
    requests = sent(client)
    with pytest.raises(ClientError) as raised:
        client.list_metrics()
    assert client.meta.service_model.protocol == "smithy-rpc-v2-cbor"
    assert raised.value.response["Error"]["Code"] == "AccessDeniedException"
    assert requests == []


def test_a_grant_on_another_service_lets_its_call_through(fresh_sessions: None) -> None:
    client = _client(_policy_of([("sts:GetCallerIdentity", "*")]), "sts")
    # Allowed, so it is sent, and nothing listens at the endpoint.
    with pytest.raises(Exception) as raised:
        client.get_caller_identity()
    assert not isinstance(raised.value, ClientError)


# Policy decisions ------------------------------------------------------------------------


def _allow(action: str | list[str], resource: str | list[str]) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource}


def _deny(action: str | list[str], resource: str | list[str]) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": resource}


@pytest.mark.parametrize(
    ("statements", "action", "resource", "decision"),
    [
        ([], "dynamodb:Query", PREFIX + "s", "implicit-deny"),
        ([_allow("dynamodb:Query", PREFIX + "s")], "dynamodb:Query", PREFIX + "s", "allow"),
        ([_allow(["dynamodb:Query"], [PREFIX + "s"])], "dynamodb:Query", PREFIX + "s", "allow"),
        ([_allow("dynamodb:Query", PREFIX + "s")], "DynamoDB:query", PREFIX + "s", "allow"),
        ([_allow("DYNAMODB:QUERY", PREFIX + "s")], "dynamodb:Query", PREFIX + "s", "allow"),
        ([_allow("dynamodb:Query", PREFIX + "Sessions")], "dynamodb:Query", PREFIX + "sessions",
         "implicit-deny"),
        ([_allow("dynamodb:Query", PREFIX + "s")], "dynamodb:Scan", PREFIX + "s", "implicit-deny"),
        ([_allow("dynamodb:Query", PREFIX + "s")], "dynamodb:QueryX", PREFIX + "s",
         "implicit-deny"),
        ([_allow("dynamodb:Query", PREFIX + "s")], "xdynamodb:Query", PREFIX + "s",
         "implicit-deny"),
        ([_allow("dynamodb:Query", PREFIX + "s")], "dynamodb:Query", PREFIX + "s2",
         "implicit-deny"),
        ([_allow("dynamodb:Query", PREFIX + "s")], "dynamodb:Query", PREFIX + "s/index/i",
         "implicit-deny"),
        ([_allow("dynamodb:Query", PREFIX + "s?")], "dynamodb:Query", PREFIX + "s1", "allow"),
        ([_allow("dynamodb:Query", PREFIX + "s?")], "dynamodb:Query", PREFIX + "s",
         "implicit-deny"),
        ([_allow("dynamodb:Query", PREFIX + "s?")], "dynamodb:Query", PREFIX + "s12",
         "implicit-deny"),
        ([_allow("dynamodb:Get?tem", "*")], "dynamodb:GetItem", PREFIX + "s", "allow"),
        ([_allow("dynamodb:Get?tem", "*")], "dynamodb:GetIttem", PREFIX + "s", "implicit-deny"),
        ([_allow("dynamodb:Query", PREFIX + "s/*")], "dynamodb:Query", PREFIX + "s/index/i",
         "allow"),
        ([_allow("dynamodb:Query", PREFIX + "s/*")], "dynamodb:Query", PREFIX + "s",
         "implicit-deny"),
        ([_allow("dynamodb:*", "*")], "dynamodb:DeleteTable", PREFIX + "s", "allow"),
        ([_allow("dynamodb:*", "*")], "s3:GetObject", "*", "implicit-deny"),
        # Only `*` and `?` are special: a dot or a bracket in a pattern is itself.
        ([_allow("dynamodb:Query", "arn:a.b")], "dynamodb:Query", "arn:aXb", "implicit-deny"),
        ([_allow("dynamodb:Query", "arn:[ab]")], "dynamodb:Query", "arn:a", "implicit-deny"),
        ([_allow("dynamodb:Query", "arn:[ab]")], "dynamodb:Query", "arn:[ab]", "allow"),
        ([_allow(["dynamodb:Scan", "dynamodb:Query"], [PREFIX + "x", PREFIX + "s"])],
         "dynamodb:Query", PREFIX + "s", "allow"),
        ([_allow("dynamodb:Query", PREFIX + "s"), _allow("dynamodb:Scan", PREFIX + "c")],
         "dynamodb:Scan", PREFIX + "c", "allow"),
        ([_allow("dynamodb:Query", PREFIX + "s"), _allow("dynamodb:Scan", PREFIX + "c")],
         "dynamodb:Scan", PREFIX + "s", "implicit-deny"),
        ([_deny("dynamodb:Query", PREFIX + "s")], "dynamodb:Query", PREFIX + "s",
         "explicit-deny"),
        ([_allow("dynamodb:*", "*"), _deny("dynamodb:Delete*", PREFIX + "s")],
         "dynamodb:DeleteItem", PREFIX + "s", "explicit-deny"),
        ([_deny("dynamodb:Delete*", PREFIX + "s"), _allow("dynamodb:*", "*")],
         "dynamodb:DeleteItem", PREFIX + "s", "explicit-deny"),
        ([_allow("dynamodb:*", "*"), _deny("dynamodb:Delete*", PREFIX + "s")],
         "dynamodb:GetItem", PREFIX + "s", "allow"),
        ([_allow("dynamodb:*", "*"), _deny("dynamodb:Delete*", PREFIX + "s")],
         "dynamodb:DeleteItem", PREFIX + "c", "allow"),
    ],
)  # fmt: skip
def test_a_policy_decides_as_iam_does(
    statements: list[dict[str, Any]], action: str, resource: str, decision: str
) -> None:
    assert Policy(statements).decide(action, resource) == decision


def test_the_linked_statements_allow_only_the_linked_action_on_the_linked_table() -> None:
    policy = Policy(
        policy_statements(
            app.function("ListSessions"), {"Sessions": PREFIX + "s", "Clients": PREFIX + "c"}
        )
    )
    assert policy.decide("dynamodb:Query", PREFIX + "s") == "allow"
    assert policy.decide("dynamodb:Scan", PREFIX + "s") == "implicit-deny"
    assert policy.decide("dynamodb:Query", PREFIX + "c") == "implicit-deny"
    assert policy.decide("dynamodb:Query", PREFIX + "s/index/byDate") == "implicit-deny"


def test_denial_messages_have_aws_shape() -> None:
    caller = "arn:aws:sts::000000000000:assumed-role/r/F"
    assert denial_message(caller, "dynamodb:ListTables", "*", "implicit-deny") == (
        f"User: {caller} is not authorized to perform: dynamodb:ListTables"
        " because no identity-based policy allows the dynamodb:ListTables action"
    )
    assert denial_message(caller, "dynamodb:Scan", PREFIX + "a", "explicit-deny") == (
        f"User: {caller} is not authorized to perform: dynamodb:Scan on resource: {PREFIX}a"
        " with an explicit deny in an identity-based policy"
    )


def test_a_function_calls_as_its_role_assumed_under_its_own_name() -> None:
    assert caller_arn("123456789012", "draht-dev-ListSessions", "ListSessions") == (
        "arn:aws:sts::123456789012:assumed-role/draht-dev-ListSessions/ListSessions"
    )


# Inside a real worker ---------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _DeploymentWithDeny(Deployment):
    """A deployment whose workers also get `denied` statements after the linked grants."""

    denied: tuple[dict[str, Any], ...] = ()

    def init_frame(self, function: Function) -> bytes:
        (init,) = FrameDecoder(RESPONSE_LIMIT_BYTES).feed(super().init_frame(function))
        init["statements"] += self.denied
        return encode_frame(init)


def _deployment(dynalite: Dynalite, denied: tuple[dict[str, Any], ...] = ()) -> Deployment:
    arns = ensure_tables(dynamodb_client(dynalite.endpoint), test_app.name, test_app.tables)
    return _DeploymentWithDeny(
        app=test_app,
        handlers_dir=Path(TEST_HANDLERS),
        settings=Settings(stage="local"),
        store_endpoint=dynalite.endpoint,
        table_arns=arns,
        denied=denied,
    )


def _invoke_in_worker(deployment: Deployment, function: Function, query: dict[str, str]) -> Any:
    async def invoke() -> Any:
        worker = Worker(deployment, function, generation=0)
        try:
            await worker.ready()
            invocation = await worker.invoke(api_event("GET /x", query), timeout_s=10)
            return invocation.result
        finally:
            worker.stop()

    # A loop of its own, leaving the thread's current loop alone: asyncio.run would unset it,
    # and Pulumi's mocks in later tests ask for it.
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(invoke())
    finally:
        loop.close()


def test_an_explicit_deny_reaches_the_worker_and_beats_the_linked_grant(
    dynalite: Dynalite,
) -> None:
    table = local_table_name(test_app.name, clients)
    resource = PREFIX + table
    granted = _invoke_in_worker(_deployment(dynalite), cross_reader, {"table": table})
    assert granted == {"count": 0}
    denied_scan = ({"Effect": "Deny", "Action": "dynamodb:Scan", "Resource": resource},)
    result = _invoke_in_worker(_deployment(dynalite, denied_scan), cross_reader, {"table": table})
    assert (result["code"], result["status"]) == ("AccessDeniedException", 400)
    assert result["message"] == (
        "User: arn:aws:sts::000000000000:assumed-role/drahttest-local-CrossReader/CrossReader"
        f" is not authorized to perform: dynamodb:Scan on resource: {resource}"
        " with an explicit deny in an identity-based policy"
    )


@pytest.mark.parametrize(
    ("service", "action", "code"),
    [("s3", "s3:ListBuckets", "AccessDenied"), ("lambda", "lambda:ListFunctions",
                                                "AccessDeniedException")],
)  # fmt: skip
def test_a_worker_call_to_another_service_is_denied(
    dynalite: Dynalite, service: str, action: str, code: str
) -> None:
    function = Function("OtherService", handler="other_service.handler")
    result = _invoke_in_worker(_deployment(dynalite), function, {"service": service})
    caller = "arn:aws:sts::000000000000:assumed-role/drahttest-local-OtherService/OtherService"
    assert result["code"] == code
    assert result["message"] == (
        f"User: {caller} is not authorized to perform: {action}"
        f" because no identity-based policy allows the {action} action"
    )
