"""IAM, enforced on this machine: every AWS call a worker makes is checked against its policy.

The statements are `draht.model.policy_statements`, the very list Pulumi attaches
to the function's role. A call they do not allow fails the way AWS fails it: a
botocore `ClientError` with `AccessDeniedException` and AWS's message, raised by
the client before any request leaves the process.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

Decision = Literal["allow", "implicit-deny", "explicit-deny"]

ANY_RESOURCE = "*"
_DENIAL_KEY = "draht_access_denied"

# Inside a transaction each item needs the permission of its single-item counterpart.
_TRANSACT_WRITE_ACTIONS = {
    "ConditionCheck": "ConditionCheckItem",
    "Put": "PutItem",
    "Delete": "DeleteItem",
    "Update": "UpdateItem",
}


# PartiQL needs one action per statement, by its kind, on the table or index it names:
# https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ql-iam.html
_PARTIQL_ACTIONS = {
    "SELECT": "dynamodb:PartiQLSelect",
    "INSERT": "dynamodb:PartiQLInsert",
    "UPDATE": "dynamodb:PartiQLUpdate",
    "DELETE": "dynamodb:PartiQLDelete",
    # A transaction's `EXISTS(SELECT ...)` condition reads the item it checks.
    "EXISTS": "dynamodb:PartiQLSelect",
}
_NAME = r'(?:"(?:[^"]|"")+"|[A-Za-z0-9_\-]+)'
_PARTIQL_TARGET = {
    "SELECT": re.compile(rf"\bFROM\s+({_NAME})(?:\.({_NAME}))?", re.IGNORECASE),
    "EXISTS": re.compile(rf"\bFROM\s+({_NAME})(?:\.({_NAME}))?", re.IGNORECASE),
    "INSERT": re.compile(rf"^INSERT\s+INTO\s+({_NAME})()", re.IGNORECASE),
    "UPDATE": re.compile(rf"^UPDATE\s+({_NAME})()", re.IGNORECASE),
    "DELETE": re.compile(rf"^DELETE\s+FROM\s+({_NAME})()", re.IGNORECASE),
}
_PARTIQL_STATEMENTS = {
    "ExecuteStatement": lambda params: [params.get("Statement")],
    "BatchExecuteStatement": lambda params: [
        s.get("Statement") for s in params.get("Statements", [])
    ],
    "ExecuteTransaction": lambda params: [
        s.get("Statement") for s in params.get("TransactStatements", [])
    ],
}


def _wildcard(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    """IAM's wildcards: `*` is any run of characters and `?` is one; nothing else is special."""
    body = "".join(
        ".*" if char == "*" else "." if char == "?" else re.escape(char) for char in pattern
    )
    return re.compile(f"^{body}$", re.IGNORECASE if ignore_case else 0)


def _as_list(value: str | Sequence[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


@dataclass(frozen=True)
class _Statement:
    effect: str
    actions: tuple[re.Pattern[str], ...]
    resources: tuple[re.Pattern[str], ...]

    def applies(self, action: str, resource: str) -> bool:
        return any(p.match(action) for p in self.actions) and any(
            p.match(resource) for p in self.resources
        )


class Policy:
    """An identity-based policy: allowed when a statement allows and none denies."""

    def __init__(self, statements: Iterable[Mapping[str, Any]]) -> None:
        self._statements = [
            _Statement(
                effect=statement["Effect"],
                # Action names are case-insensitive in IAM; resource ARNs are not.
                actions=tuple(_wildcard(a, True) for a in _as_list(statement["Action"])),
                resources=tuple(_wildcard(r, False) for r in _as_list(statement["Resource"])),
            )
            for statement in statements
        ]

    def decide(self, action: str, resource: str) -> Decision:
        matching = [s.effect for s in self._statements if s.applies(action, resource)]
        if "Deny" in matching:
            return "explicit-deny"
        return "allow" if "Allow" in matching else "implicit-deny"


def caller_arn(account_id: str, role_name: str, function_name: str) -> str:
    """The identity a Lambda function's calls carry: its role, assumed under its own name."""
    return f"arn:aws:sts::{account_id}:assumed-role/{role_name}/{function_name}"


def denial_message(caller: str, action: str, resource: str, decision: Decision) -> str:
    target = "" if resource == ANY_RESOURCE else f" on resource: {resource}"
    reason = (
        "with an explicit deny in an identity-based policy"
        if decision == "explicit-deny"
        else f"because no identity-based policy allows the {action} action"
    )
    return f"User: {caller} is not authorized to perform: {action}{target} {reason}"


def dynamodb_access(
    operation: str, params: Mapping[str, Any], table_arn_prefix: str
) -> list[tuple[str, str]]:
    """The (action, resource) pairs IAM checks for one DynamoDB call."""

    def arn(table: str) -> str:
        return table if table.startswith("arn:") else table_arn_prefix + table

    if operation in _PARTIQL_STATEMENTS:
        pairs = []
        for statement in _PARTIQL_STATEMENTS[operation](params):
            pair = partiql_access(statement) if isinstance(statement, str) else None
            if pair is not None:
                needed, table_name, index_name = pair
                suffix = f"/index/{index_name}" if index_name else ""
                pairs.append((needed, arn(table_name) + suffix))
        return pairs
    if operation in ("BatchGetItem", "BatchWriteItem"):
        return [(f"dynamodb:{operation}", arn(t)) for t in params.get("RequestItems", {})]
    if operation in ("TransactGetItems", "TransactWriteItems"):
        pairs = []
        for item in params.get("TransactItems", []):
            for kind, request in item.items():
                single = "GetItem" if kind == "Get" else _TRANSACT_WRITE_ACTIONS.get(kind, kind)
                pairs.append((f"dynamodb:{single}", arn(request.get("TableName", ""))))
        return pairs
    action = f"dynamodb:{operation}"
    table = params.get("TableName")
    if isinstance(table, str):
        resource = arn(table)
        index = params.get("IndexName")
        return [(action, f"{resource}/index/{index}" if isinstance(index, str) else resource)]
    for key in ("ResourceArn", "TableArn", "StreamArn"):
        if isinstance(params.get(key), str):
            return [(action, params[key])]
    return [(action, ANY_RESOURCE)]


def partiql_access(statement: str) -> tuple[str, str, str] | None:
    """The action, table and index (or "") a PartiQL statement needs, or None if unreadable.

    An unreadable statement is left to the store, which refuses it with a
    ValidationException as DynamoDB does, before IAM would matter.
    """
    text = statement.strip()
    keyword = re.match(r"[A-Za-z]+", text)
    kind = keyword.group(0).upper() if keyword else ""
    pattern = _PARTIQL_TARGET.get(kind)
    found = pattern.search(text) if pattern is not None else None
    if found is None:
        return None
    table, index = (_unquote(name) for name in found.groups(""))
    return _PARTIQL_ACTIONS[kind], table, index


def _unquote(name: str) -> str:
    return name[1:-1].replace('""', '"') if name.startswith('"') else name


@dataclass(frozen=True)
class Enforcer:
    """The botocore hooks that hold a worker's AWS calls to its policy."""

    policy: Policy
    caller: str
    table_arn_prefix: str
    """`arn:aws:dynamodb:<region>:<account>:table/`: a TableName becomes an ARN with it."""

    def install(self) -> None:
        """Hook every botocore session created from now on, the default boto3 one included.

        Registering through botocore's built-in handler list reaches clients made
        from any session, so a handler cannot step around the check by creating
        its own `boto3.session.Session()`.
        """
        from botocore import handlers

        handlers.BUILTIN_HANDLERS.append(("before-parameter-build", self.check))
        handlers.BUILTIN_HANDLERS.append(("before-call", self.answer_denied))

    def check(
        self, params: Mapping[str, Any], model: Any, context: dict[str, Any], **_: Any
    ) -> None:
        """Decide before the request is built; the answer is given in `before-call`.

        Deciding here sees the caller's parameters; answering later keeps botocore's
        own order, so a call with invalid parameters still fails validation first,
        as it would against AWS.
        """
        service_model = model.service_model
        prefix = service_model.signing_name
        if prefix == "dynamodb":
            access = dynamodb_access(model.name, params, self.table_arn_prefix)
        else:
            access = [(f"{prefix}:{model.name}", ANY_RESOURCE)]
        for action, resource in access:
            decision = self.policy.decide(action, resource)
            if decision != "allow":
                code = (
                    "AccessDeniedException"
                    if service_model.protocol in ("json", "rest-json", "smithy-rpc-v2-cbor")
                    else "AccessDenied"
                )
                context[_DENIAL_KEY] = (
                    code,
                    denial_message(self.caller, action, resource, decision),
                )
                return

    def answer_denied(self, context: dict[str, Any], **_: Any) -> tuple[Any, dict[str, Any]] | None:
        denial = context.get(_DENIAL_KEY)
        if denial is None:
            return None
        from botocore.awsrequest import AWSResponse

        code, message = denial
        request_id = uuid.uuid4().hex.upper()
        # botocore copies the headers into its own mapping; its stubs ask for that type upfront.
        headers: Any = {
            "x-amzn-requestid": request_id,
            "content-type": "application/x-amz-json-1.0",
        }
        body = json.dumps({"__type": f"com.amazon.coral.service#{code}", "Message": message})
        response = AWSResponse("", 400, headers, _Body(body.encode()))
        parsed = {
            "Error": {"Code": code, "Message": message},
            "ResponseMetadata": {
                "RequestId": request_id,
                "HTTPStatusCode": 400,
                "HTTPHeaders": headers,
                "RetryAttempts": 0,
            },
        }
        return response, parsed


@dataclass(frozen=True)
class _Body:
    """The raw body botocore reads from an `AWSResponse`, for hooks that look at it."""

    data: bytes

    def stream(self) -> Iterator[bytes]:
        yield self.data
