"""Answers how many bytes of body arrived, without sending them back."""

import base64
from typing import Any


def handler(event: dict[str, Any], context: Any) -> Any:
    body = event.get("body") or ""
    data = base64.b64decode(body) if event.get("isBase64Encoded") else body.encode()
    return {"bytes": len(data)}
