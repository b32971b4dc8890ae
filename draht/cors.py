"""The API's CORS configuration, derived from the declaration and `draht:corsOrigins`.

One value feeds both back ends: the HTTP API's `corsConfiguration` on AWS, and
`draht dev`'s answers (`draht/local/cors.py`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from draht.model import App

ALLOWED_HEADERS = (
    "authorization",
    "content-type",
    "if-match",
    # What a SigV4-signing browser client adds besides `authorization`.
    "x-amz-content-sha256",
    "x-amz-date",
    "x-amz-security-token",
)
"""The request headers the API reads: a jwt or SigV4 signature, a JSON body, a conditional write."""

EXPOSED_HEADERS = ("etag", "location")
"""What a front end needs to read back: the version of what it wrote, and where it was created."""

MAX_AGE_S = 600
"""How long a browser may keep a preflight's answer before asking again."""


@dataclass(frozen=True)
class Cors:
    allow_origins: tuple[str, ...]
    allow_methods: tuple[str, ...]
    allow_headers: tuple[str, ...] = ALLOWED_HEADERS
    expose_headers: tuple[str, ...] = EXPOSED_HEADERS
    max_age_s: int = MAX_AGE_S


def cors_for(app: App, origins: Sequence[str]) -> Cors | None:
    """The CORS configuration of the app's API; None, so no CORS at all, without origins."""
    if not origins:
        return None
    methods = sorted({route.method for route in app.routes})
    return Cors(allow_origins=tuple(origins), allow_methods=tuple(methods))
