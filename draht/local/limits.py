"""HTTP API's quotas and route throttling, as pure rules the local front applies.

Each limit is AWS's figure from "Quotas for configuring and running an HTTP API
in API Gateway" (QUOTAS_PAGE); the answers are HTTP API's own `{"message": …}`
bodies. Nothing here reads a clock or a socket: callers pass the time and the
bytes, so the server and the tests apply exactly the same rules.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from draht.local.events import gateway_answer

QUOTAS_PAGE = "https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-quotas.html"
THROTTLING_PAGE = (
    "https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-throttling.html"
)

HEAD_LIMIT_BYTES = 10240
"""Quota "Total combined size of request line and header values": 10240 bytes."""
PAYLOAD_LIMIT_BYTES = 10 * 1024 * 1024
"""Quota "Payload size": 10 MB."""
INTEGRATION_TIMEOUT_S = 30.0
"""Quota "Maximum integration timeout": 30 seconds, whatever the function's own timeout."""

BAD_REQUEST = gateway_answer(400, "Bad Request")
REQUEST_TIMEOUT = gateway_answer(408, "Request Timeout")
HEADERS_TOO_LARGE = gateway_answer(431, "Request Header Fields Too Large")
TOO_MANY_REQUESTS = gateway_answer(429, "Too Many Requests")
INTEGRATION_TIMED_OUT = gateway_answer(503, "Service Unavailable")


def head_size(method: str, target_bytes: int, version: str, header_values: Iterable[int]) -> int:
    """What the head quota counts: the request line as sent, plus each header's value.

    The request line is `METHOD SP target SP HTTP/x.y` without its line break;
    header names and separators are not part of the quota's wording, so they are
    not counted.
    """
    return len(method) + 1 + target_bytes + 1 + len("HTTP/") + len(version) + sum(header_values)


def integration_cutoff_s(
    function_timeout_s: float, integration_timeout_s: float = INTEGRATION_TIMEOUT_S
) -> float | None:
    """When HTTP API stops waiting for a function (503), or None when the function's own
    timeout ends the invocation first (a Lambda error: 500)."""
    return integration_timeout_s if function_timeout_s > integration_timeout_s else None


@dataclass
class TokenBucket:
    """API Gateway's throttling algorithm: `burst` tokens, refilled at `rate` a second.

    Each request takes one token; a request finding none is throttled (429).
    """

    rate: float
    burst: int
    tokens: float = -1.0
    updated: float = 0.0

    def admit(self, now: float) -> bool:
        if self.tokens < 0:
            self.tokens, self.updated = float(self.burst), now
        elapsed = max(0.0, now - self.updated)
        self.tokens = min(float(self.burst), self.tokens + elapsed * self.rate)
        self.updated = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


class RouteThrottle:
    """The stage's default route throttling: each route has its own bucket of the same size."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = burst
        self._buckets: dict[str, TokenBucket] = {}

    def admit(self, route_key: str, now: float) -> bool:
        bucket = self._buckets.get(route_key)
        if bucket is None:
            bucket = self._buckets[route_key] = TokenBucket(self.rate, self.burst)
        return bucket.admit(now)
