"""Sleeps for ?seconds=, past any test timeout by default."""

import os
import time
from typing import Any


def handler(event: dict[str, Any], context: Any) -> Any:
    time.sleep(float((event.get("queryStringParameters") or {}).get("seconds", "60")))
    return {"pid": os.getpid()}
