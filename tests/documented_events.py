"""API Gateway v2 (payload format 2.0) events, built from the example in AWS's documentation.

`DOCUMENTED_EXAMPLE` is the event shown in "Create AWS Lambda proxy integrations for
HTTP APIs in API Gateway" (payload format structure, 2.0); `api_event` changes only
what a real GET on one of our routes changes in it.
"""

from __future__ import annotations

import base64
import copy
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote, urlencode

DOCUMENTED_EXAMPLE: dict[str, Any] = {
    "version": "2.0",
    "routeKey": "$default",
    "rawPath": "/my/path",
    "rawQueryString": "parameter1=value1&parameter1=value2&parameter2=value",
    "cookies": ["cookie1", "cookie2"],
    "headers": {"header1": "value1", "header2": "value1,value2"},
    "queryStringParameters": {"parameter1": "value1,value2", "parameter2": "value"},
    "requestContext": {
        "accountId": "123456789012",
        "apiId": "api-id",
        "authentication": {
            "clientCert": {
                "clientCertPem": "CERT_CONTENT",
                "subjectDN": "www.example.com",
                "issuerDN": "Example issuer",
                "serialNumber": "a1:a1:a1:a1:a1:a1:a1:a1:a1:a1:a1:a1:a1:a1:a1:a1",
                "validity": {
                    "notBefore": "May 28 12:30:02 2019 GMT",
                    "notAfter": "Aug  5 09:36:04 2021 GMT",
                },
            }
        },
        "authorizer": {
            "jwt": {
                "claims": {"claim1": "value1", "claim2": "value2"},
                "scopes": ["scope1", "scope2"],
            }
        },
        "domainName": "id.execute-api.us-east-1.amazonaws.com",
        "domainPrefix": "id",
        "http": {
            "method": "POST",
            "path": "/my/path",
            "protocol": "HTTP/1.1",
            "sourceIp": "192.0.2.1",
            "userAgent": "agent",
        },
        "requestId": "id",
        "routeKey": "$default",
        "stage": "$default",
        "time": "12/Mar/2020:19:03:58 +0000",
        "timeEpoch": 1583348638390,
    },
    "body": "Hello from Lambda",
    "pathParameters": {"parameter1": "value1"},
    "isBase64Encoded": False,
    "stageVariables": {"stageVariable1": "value1", "stageVariable2": "value2"},
}

Query = Mapping[str, str] | Sequence[tuple[str, str]]


def api_event(
    route_key: str,
    query: Query = (),
    request_id: str | None = None,
    *,
    path: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
    body: str | bytes | None = None,
) -> dict[str, Any]:
    """A request on `route_key` as API Gateway delivers it: repeated names joined by commas,
    `{name}` filled from `path`, header names lower-cased, a bytes body base64-encoded."""
    method, template = route_key.split(" ", 1)
    path_parameters = dict(path or {})
    raw_path = template
    for name, value in path_parameters.items():
        raw_path = raw_path.replace("{" + name + "}", quote(value, safe=""))
    pairs = list(query.items()) if isinstance(query, Mapping) else list(query)
    event = copy.deepcopy(DOCUMENTED_EXAMPLE)
    event.update(routeKey=route_key, rawPath=raw_path, rawQueryString=urlencode(pairs))
    del event["body"], event["pathParameters"], event["cookies"]
    if path_parameters:
        event["pathParameters"] = path_parameters
    if headers:
        event["headers"] = {**event["headers"], **{k.lower(): v for k, v in headers.items()}}
    if isinstance(body, bytes):
        event.update(body=base64.b64encode(body).decode("ascii"), isBase64Encoded=True)
    elif body is not None:
        event["body"] = body
    joined: dict[str, str] = {}
    for name, value in pairs:
        joined[name] = f"{joined[name]},{value}" if name in joined else value
    # API Gateway leaves the key out when there is no query string at all.
    if joined:
        event["queryStringParameters"] = joined
    else:
        del event["queryStringParameters"]
    context = event["requestContext"]
    context.update(routeKey=route_key, requestId=request_id or _request_id())
    context["http"].update(method=method, path=unquote(raw_path))
    return event


@dataclass
class LambdaContext:
    """The parts of Lambda's context object a handler may read."""

    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_name: str = "draht-test"
    remaining_ms: int = 10_000

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def _request_id() -> str:
    # The shape API Gateway uses, e.g. "JKJaXmPLvHcESHA=".
    return uuid.uuid4().hex[:14] + "="
