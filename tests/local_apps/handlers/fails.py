"""Raises unless asked not to; the worker stays warm either way."""

import os
from typing import Any


def handler(event: dict[str, Any], context: Any) -> Any:
    if (event.get("queryStringParameters") or {}).get("ok"):
        return {"pid": os.getpid()}
    raise ValueError("the handler failed on purpose")
