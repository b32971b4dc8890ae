"""HTTP API's CORS answers, for `draht dev`: pure functions of a request and the configuration.

AWS, "Configuring CORS for an HTTP API"
(https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-cors.html):

- "API Gateway automatically sends a response to preflight OPTIONS requests, even if
  there isn't an OPTIONS route configured for your API." A route that does match the
  OPTIONS request (an `OPTIONS` route, as the `$default` section of that page explains)
  receives it instead.
- "To return CORS headers, your request must contain an origin header. For the OPTIONS
  method, your request must contain an origin header and an Access-Control-Request-Method
  header."
- "For a CORS request, API Gateway adds the configured CORS headers to the response from
  an integration." and "API Gateway ignores CORS headers returned from your backend
  integration."

The page does not spell out the preflight answer itself. What is taken here is what
HTTP API is reported to send: a 204 without a body, carrying the CORS headers only when
the origin, the method and every requested header are allowed, and none otherwise (so
the browser refuses the request). Gateway answers that no integration produced (a 404
for no route, a 500 for a failed function) get no CORS headers.
"""

from __future__ import annotations

from draht.cors import Cors
from draht.local.events import HttpRequest, HttpResponse

PREFLIGHT_STATUS = 204
_CORS_PREFIX = "access-control-"


def _header(request: HttpRequest, name: str) -> str | None:
    for key, value in request.headers:
        if key.lower() == name:
            return value
    return None


def is_preflight(request: HttpRequest) -> bool:
    return (
        request.method == "OPTIONS"
        and _header(request, "origin") is not None
        and _header(request, "access-control-request-method") is not None
    )


def allowed_origin(cors: Cors, origin: str) -> str | None:
    """The `access-control-allow-origin` value for `origin`, or None when it is not allowed.

    `*` allows every origin and is sent as `*`; `https://*` allows every origin of that scheme.
    """
    for allowed in cors.allow_origins:
        if allowed == "*":
            return "*"
        if allowed == origin:
            return origin
        if allowed.endswith("://*") and origin.startswith(allowed[:-1]):
            return origin
    return None


def preflight_response(cors: Cors, request: HttpRequest) -> HttpResponse:
    """API Gateway's own answer to a preflight no route serves."""
    origin = allowed_origin(cors, _header(request, "origin") or "")
    method = _header(request, "access-control-request-method") or ""
    requested = [
        name.strip().lower()
        for name in (_header(request, "access-control-request-headers") or "").split(",")
        if name.strip()
    ]
    if (
        origin is None
        or method not in cors.allow_methods
        or not all(name in cors.allow_headers for name in requested)
    ):
        return HttpResponse(PREFLIGHT_STATUS)
    return HttpResponse(
        PREFLIGHT_STATUS,
        [
            ("access-control-allow-origin", origin),
            ("access-control-allow-methods", ",".join(cors.allow_methods)),
            ("access-control-allow-headers", ",".join(cors.allow_headers)),
            ("access-control-max-age", str(cors.max_age_s)),
        ],
    )


def integration_response(cors: Cors, request: HttpRequest, response: HttpResponse) -> HttpResponse:
    """The integration's response as API Gateway sends it: its own CORS headers replaced."""
    headers = [(n, v) for n, v in response.headers if not n.lower().startswith(_CORS_PREFIX)]
    origin = allowed_origin(cors, _header(request, "origin") or "")
    if _header(request, "origin") is not None and origin is not None:
        headers.append(("access-control-allow-origin", origin))
        headers.append(("access-control-expose-headers", ",".join(cors.expose_headers)))
    return HttpResponse(response.status, headers, response.body)
