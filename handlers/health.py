"""GET /health: liveness of the API."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from _lib.resource import Resource


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    body = {
        "status": "ok",
        "service": "draht",
        "stage": Resource.App.stage,
        "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
    }
    return {
        "statusCode": 200,
        "headers": {"content-type": "application/json"},
        "body": json.dumps(body),
    }
