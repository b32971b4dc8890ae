"""API Gateway HTTP API's side of a request: routing, v2 events and the rules for responses.

Everything here is a pure function of its inputs, so the server, `draht invoke`
and the tests build exactly the same events and read responses the same way.
"""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, unquote_plus

from draht.model import Route

LOCAL_API_ID = "local"
LOCAL_ACCOUNT_ID = "000000000000"
STAGE = "$default"

# HTTP API passes only these bodies as text; any other body, form posts and bodies
# without a content type included, reaches the handler base64-encoded.
_TEXT_TYPES = re.compile(r"^(text/|application/(json|xml|javascript)\b)", re.IGNORECASE)
_PARAMETER = re.compile(r"^\{([A-Za-z0-9_\-.]+)(\+?)\}$")
_HEADER_NAME = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")


class MalformedResponse(ValueError):
    """The handler returned something HTTP API cannot turn into a response (it answers 500)."""


@dataclass(frozen=True)
class HttpRequest:
    method: str
    target: str
    """The request target as sent: the path, and `?query` when there is one."""
    headers: Sequence[tuple[str, str]] = ()
    body: bytes = b""
    source_ip: str = "127.0.0.1"
    protocol: str = "HTTP/1.1"
    domain_name: str = "localhost"

    @property
    def path(self) -> str:
        """The path HTTP API routes on and sends as `rawPath`: percent-decoded, unlike the query."""
        return unquote(self.target.partition("?")[0])

    @property
    def raw_query(self) -> str:
        return self.target.partition("?")[2]


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""


def gateway_answer(status: int, message: str) -> HttpResponse:
    """One of API Gateway's own answers, in its shape: `{"message": "..."}`."""
    return HttpResponse(
        status,
        [("content-type", "application/json")],
        json.dumps({"message": message}, separators=(",", ":")).encode(),
    )


NOT_FOUND = gateway_answer(404, "Not Found")
INTERNAL_ERROR = gateway_answer(500, "Internal Server Error")
TOO_LARGE = gateway_answer(413, "Request Entity Too Large")


class Router:
    """HTTP API's route selection: the exact route first, then the most specific template."""

    def __init__(self, routes: Iterable[Route]) -> None:
        self._exact: dict[tuple[str, str], Route] = {}
        self._templates: list[tuple[Route, list[str]]] = []
        for route in routes:
            segments = route.path.split("/")[1:]
            if any("{" in segment for segment in segments):
                self._templates.append((route, segments))
            else:
                self._exact[(route.method, route.path)] = route
        # Fewer parameters and no greedy tail means more specific.
        self._templates.sort(
            key=lambda item: (
                any(s.endswith("+}") for s in item[1]),
                sum("{" in s for s in item[1]),
                -len(item[1]),
            )
        )

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        exact = self._exact.get((method, path))
        if exact is not None:
            return exact, {}
        segments = path.split("/")[1:]
        for route, template in self._templates:
            if route.method != method:
                continue
            parameters = _match_template(template, segments)
            if parameters is not None:
                return route, parameters
        return None


def _match_template(template: list[str], segments: list[str]) -> dict[str, str] | None:
    parameters: dict[str, str] = {}
    for index, part in enumerate(template):
        parameter = _PARAMETER.match(part)
        if parameter is not None and parameter.group(2):
            rest = segments[index:]
            if not rest or rest == [""]:
                return None
            parameters[parameter.group(1)] = "/".join(rest)
            return parameters
        if index >= len(segments):
            return None
        if parameter is not None:
            if not segments[index]:
                return None
            parameters[parameter.group(1)] = segments[index]
        elif part != segments[index]:
            return None
    return parameters if len(template) == len(segments) else None


def build_event(
    request: HttpRequest,
    route: Route,
    path_parameters: Mapping[str, str],
    request_id: str,
    now_ms: int | None = None,
    account_id: str = LOCAL_ACCOUNT_ID,
    api_id: str = LOCAL_API_ID,
    authorizer: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The payload-format-2.0 event HTTP API would send the route's function.

    `authorizer` is what the route's authorizer established (`{"iam": …}` or
    `{"jwt": …}`); public routes have none.
    """
    epoch_ms = int(time.time() * 1000) if now_ms is None else now_ms
    headers: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in request.headers:
        lowered = name.lower()
        if lowered == "cookie":
            cookies.extend(part.strip() for part in value.split(";") if part.strip())
            continue
        headers[lowered] = f"{headers[lowered]},{value}" if lowered in headers else value
    raw_query = request.raw_query
    path = request.path
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route.key,
        "rawPath": path,
        "rawQueryString": raw_query,
    }
    if cookies:
        event["cookies"] = cookies
    event["headers"] = headers
    query = _query_parameters(raw_query)
    if query:
        event["queryStringParameters"] = query
    domain = headers.get("host", request.domain_name)
    event["requestContext"] = {
        "accountId": account_id,
        "apiId": api_id,
        "domainName": domain,
        "domainPrefix": domain.split(".", 1)[0],
        "http": {
            "method": request.method,
            "path": path,
            "protocol": request.protocol,
            "sourceIp": request.source_ip,
            "userAgent": headers.get("user-agent", ""),
        },
        "requestId": request_id,
        "routeKey": route.key,
        "stage": STAGE,
        "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(epoch_ms / 1000)),
        "timeEpoch": epoch_ms,
    }
    if authorizer is not None:
        event["requestContext"]["authorizer"] = dict(authorizer)
    if path_parameters:
        event["pathParameters"] = dict(path_parameters)
    if request.body:
        content_type = headers.get("content-type", "")
        text = _as_text(request.body) if _TEXT_TYPES.match(content_type) else None
        if text is None:
            event["body"] = base64.b64encode(request.body).decode("ascii")
            event["isBase64Encoded"] = True
        else:
            event["body"] = text
            event["isBase64Encoded"] = False
    else:
        event["isBase64Encoded"] = False
    return event


def _query_parameters(raw_query: str) -> dict[str, str]:
    parameters: dict[str, str] = {}
    for pair in raw_query.split("&"):
        if not pair:
            continue
        name, _, value = pair.partition("=")
        key, decoded = unquote_plus(name), unquote_plus(value)
        parameters[key] = f"{parameters[key]},{decoded}" if key in parameters else decoded
    return parameters


def _as_text(body: bytes) -> str | None:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return None


def http_response(result: Any) -> HttpResponse:
    """What HTTP API sends for a function's result under payload format 2.0.

    A result without `statusCode` is the body of a 200 with content-type
    application/json: a string as it is, anything else as its JSON. Otherwise the
    result describes the response, and one HTTP API cannot use is a 500. The rules
    are AWS's table in "Lambda function response for format 2.0":
    https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html
    """
    if not isinstance(result, dict) or "statusCode" not in result:
        text = result if isinstance(result, str) else json.dumps(result)
        return HttpResponse(200, [("content-type", "application/json")], text.encode())
    status = result["statusCode"]
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
        raise MalformedResponse(f"statusCode must be an HTTP status code, got {status!r}")
    headers: list[tuple[str, str]] = []
    raw_headers = result.get("headers") or {}
    if not isinstance(raw_headers, dict):
        raise MalformedResponse("headers must be an object of strings")
    for name, value in raw_headers.items():
        if not isinstance(name, str) or not _HEADER_NAME.match(name):
            raise MalformedResponse(f"{name!r} is not a valid header name")
        if isinstance(value, dict | list) or value is None:
            raise MalformedResponse(f"header {name!r} must be a string, got {value!r}")
        headers.append((name.lower(), _scalar(value)))
    cookies = result.get("cookies") or []
    if not isinstance(cookies, list) or not all(isinstance(c, str) for c in cookies):
        raise MalformedResponse("cookies must be a list of strings")
    headers.extend(("set-cookie", cookie) for cookie in cookies)
    body = result.get("body")
    if body is None:
        payload = b""
    elif not isinstance(body, str):
        raise MalformedResponse(f"body must be a string, got {type(body).__name__}")
    elif result.get("isBase64Encoded") is True:
        try:
            payload = base64.b64decode(body, validate=True)
        except ValueError:
            raise MalformedResponse("isBase64Encoded is true but body is not base64") from None
    else:
        payload = body.encode()
    return HttpResponse(status, headers, payload)


def _scalar(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
