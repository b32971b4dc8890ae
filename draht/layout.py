"""The tables' data layout, for every program here that writes items.

Seed data, benchmarks and tests all build items through these functions, so the
layout the handlers read is written in one place on this side. The handlers ship
alone in their zips and cannot import this: `handlers/sessions.py` keeps its own
copy of the key format, and the handler tests read items written from here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def partition_key(client_id: str) -> str:
    return f"CLIENT#{client_id}"


def session_item(
    client_id: str, started_at: str, session_id: str, **attributes: Any
) -> dict[str, Any]:
    """A Sessions item: `startedAt` is ISO 8601 UTC, so sort keys order as times do.

    It starts at `version` 1, which the API raises on every write it makes.
    """
    return {
        "pk": partition_key(client_id),
        "sk": f"SESSION#{started_at}#{session_id}",
        "clientId": client_id,
        "sessionId": session_id,
        "startedAt": started_at,
        "version": 1,
        **attributes,
    }


def client_item(client_id: str, name: str, created_at: str, **attributes: Any) -> dict[str, Any]:
    """A Clients item at `version` 1: `createdAt` is ISO 8601 UTC; other attributes pass through."""
    return {
        "clientId": client_id,
        "name": name,
        "createdAt": created_at,
        "version": 1,
        **attributes,
    }


def wire(item: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """An item of plain values in DynamoDB's typed wire format (strings, numbers, booleans)."""
    return {name: _attribute(value) for name, value in item.items()}


def _attribute(value: Any) -> dict[str, Any]:
    # bool first: it is an int to Python, but a different type to DynamoDB.
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, int | float):
        return {"N": str(value)}
    if isinstance(value, str):
        return {"S": value}
    raise TypeError(f"no DynamoDB type for {type(value).__name__} values here")
