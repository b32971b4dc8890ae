"""Ends its own process when asked, as a crash in native code would."""

import os
from typing import Any


def handler(event: dict[str, Any], context: Any) -> Any:
    if (event.get("queryStringParameters") or {}).get("exit"):
        os._exit(3)
    return {"pid": os.getpid()}
