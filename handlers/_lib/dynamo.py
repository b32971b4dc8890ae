"""DynamoDB for handlers: one client per container, plain JSON items, pages that never end empty.

This is the only helper that imports boto3, so only the data handlers load it at
import time; health loads it lazily, for its deep check.
"""

from __future__ import annotations

import base64
import gc
import json
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, ConnectionError, HTTPClientError

from _lib.http import Unavailable

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

# Worst case, three attempts that each time out plus standard-mode backoff (at most 1 s, then
# 2 s) take about 3 * (1 + 1) + 3 = 9 s: inside the 10 s function timeout, and a real
# DynamoDB call takes milliseconds. The endpoint comes from AWS_ENDPOINT_URL_DYNAMODB when set.
# `total_max_attempts` counts the first try; botocore's `max_attempts` counts only retries,
# so `max_attempts: 3` would mean four calls.
CLIENT_CONFIG = Config(
    retries={"mode": "standard", "total_max_attempts": 3},
    connect_timeout=1,
    read_timeout=1,
)

# Errors that say "not now" rather than "not this request": throttling, and DynamoDB's own
# transient failures.
RETRY_LATER_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
    }
)

# Lambda returns at most 6 MiB (6,291,456 bytes); the rest is headroom for the envelope.
PAGE_BYTES_MAX = 5_000_000

Item = dict[str, Any]
Key = dict[str, Any]


def client() -> DynamoDBClient:
    dynamodb = boto3.client("dynamodb", config=CLIENT_CONFIG)
    # boto3 and the client's service model are hundreds of thousands of objects that live as
    # long as the container. Frozen, they are no longer walked by every full collection, the
    # first of which otherwise lands inside the first request (about 18 ms of a cold start).
    # Importing boto3 and building a client leave no cyclic garbage (gc.collect() finds none),
    # so freezing keeps nothing alive that a collection would have freed.
    gc.freeze()
    return dynamodb


def _unavailable(error: Exception) -> Unavailable | None:
    """The `Unavailable` a store error amounts to, or None when it is not the store struggling."""
    if isinstance(error, ConnectionError | HTTPClientError):
        return Unavailable("the store could not be reached or did not answer in time")
    code = error_code(error)
    if code in RETRY_LATER_CODES:
        return Unavailable(f"the store answered {code} after retries")
    return None


def failure_name(error: Exception) -> str:
    """A short, content-free name for why a call failed: the AWS error code, or what broke.

    An error DynamoDB answered without a code is botocore's plain `ClientError`.
    """
    if isinstance(error, ConnectionError | HTTPClientError):
        return "unreachable"
    return error_code(error) or type(error).__name__


def error_code(error: Exception) -> str:
    """The AWS error code of an error the store answered; "" for any other failure."""
    if isinstance(error, ClientError):
        # botocore's parsers fill Error.Code on every error answer (with the HTTP status when
        # the body names no type), so both keys are always there.
        return error.response["Error"]["Code"]
    return ""


class ConditionFailed(Exception):
    """A conditional write found the item not as its condition expected; nothing was written."""


def write(operation: Callable[..., Any], **parameters: Any) -> Any:
    """A conditional write; `ConditionFailed` when its condition does not hold."""
    try:
        return call(operation, **parameters)
    except ClientError as error:
        if error_code(error) == "ConditionalCheckFailedException":
            raise ConditionFailed from None
        raise


def call(operation: Callable[..., Any], **parameters: Any) -> Any:
    try:
        return operation(**parameters)
    except (ClientError, BotoCoreError) as error:
        mapped = _unavailable(error)
        if mapped is None:
            raise
        raise mapped from error


def read_page(
    operation: Callable[..., Any],
    parameters: Mapping[str, Any],
    limit: int,
    start: Key | None,
    hidden: frozenset[str] = frozenset(),
) -> tuple[list[dict[str, Any]], Item | None]:
    """Up to `limit` plain items after `start`, and the last one as stored if more follow.

    Asking for one item more than the page holds is what keeps the last page from
    carrying a cursor when the item count is an exact multiple of the limit: DynamoDB
    returns a LastEvaluatedKey whenever a page fills, even if nothing follows. A page
    also ends early, with at least one item, before its response would outgrow what
    Lambda can return. The loop only repeats when DynamoDB stops at its 1 MB limit.
    """
    page: list[dict[str, Any]] = []
    last: Item | None = None
    size = 0
    while True:
        request = {**parameters, "Limit": limit + 1 - len(page)}
        if start is not None:
            request["ExclusiveStartKey"] = start
        response = call(operation, **request)
        # Query and Scan answer Items on every page unless asked to Select COUNT, which no
        # listing does.
        for item in response["Items"]:
            if len(page) == limit:
                return page, last
            converted = plain(item, hidden)
            size += response_bytes(converted)
            if page and size > PAGE_BYTES_MAX:
                return page, last
            page.append(converted)
            last = item
        start = response.get("LastEvaluatedKey")
        if start is None:
            return page, None


def response_bytes(value: Any) -> int:
    """An upper bound on what `value` adds to a Lambda response: JSON, escaped again as the body."""
    return len(json.dumps(json.dumps(value)))


def plain(item: Mapping[str, Any], hidden: frozenset[str] = frozenset()) -> dict[str, Any]:
    """An item as plain JSON values, without the attributes named in `hidden`."""
    return {name: _plain(value) for name, value in item.items() if name not in hidden}


def _plain(value: Mapping[str, Any]) -> Any:
    (kind, inner), *_ = value.items()
    if kind == "S":
        return inner
    if kind == "N":
        return _number(inner)
    if kind == "BOOL":
        return bool(inner)
    if kind == "NULL":
        return None
    if kind == "M":
        return {name: _plain(member) for name, member in inner.items()}
    if kind == "L":
        return [_plain(member) for member in inner]
    if kind == "B":
        return _binary(inner)
    # Sets have no order in DynamoDB; sorting makes the same item always read the same.
    if kind == "SS":
        return sorted(inner)
    if kind == "NS":
        return sorted(_number(member) for member in inner)
    if kind == "BS":
        return sorted(_binary(member) for member in inner)
    raise ValueError(f"unknown DynamoDB attribute type {kind!r}")


def wire(item: Mapping[str, Any]) -> dict[str, Any]:
    """Plain JSON values (strings, whole numbers, booleans) as DynamoDB attribute values."""
    return {name: wire_value(value) for name, value in item.items()}


def wire_value(value: Any) -> dict[str, Any]:
    # bool first: it is an int to Python, but a different type to DynamoDB.
    if isinstance(value, bool):
        return {"BOOL": value}
    # JSON's 3.0 is the whole number a schema's integer allows: stored as 3.
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int):
        return {"N": str(value)}
    if isinstance(value, str):
        return {"S": value}
    raise TypeError(f"no DynamoDB type for {type(value).__name__} values here")


def _number(text: str) -> int | float:
    number = Decimal(text)
    return int(number) if number == number.to_integral_value() else float(number)


def _binary(data: bytes) -> str:
    """Binary as standard base64, the encoding DynamoDB's own JSON uses for it."""
    return base64.b64encode(data).decode("ascii")
