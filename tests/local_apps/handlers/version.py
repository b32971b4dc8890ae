"""Tests rewrite this file to see the change served without a restart."""

from typing import Any


def handler(event: dict[str, Any], context: Any) -> Any:
    return {"version": "one"}
