"""What a function sees on Lambda, rebuilt for measurements: its environment and a first event."""

from __future__ import annotations

from typing import Any

from draht.app import app, clients, sessions
from draht.layout import client_item, session_item, wire
from draht.local.store import ensure_tables, local_table_name
from draht.model import Function, Route, resource_environment

STAGE = "bench"
CLIENT_ID = "bench-client"


def function_environment(function: Function, table_arns: dict[str, str]) -> dict[str, str]:
    """The variables the stack sets on this function: its links and nothing from other functions."""
    linked = {
        link.table.name: (local_table_name(app.name, link.table), table_arns[link.table.name])
        for link in function.links
    }
    return {
        **resource_environment(app, STAGE, linked),
        "AWS_LAMBDA_FUNCTION_NAME": function.name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
    }


def prepare_store(client: Any, sessions_per_client: int = 30) -> dict[str, str]:
    """The app's tables with one client and its sessions, so a first request reads real items."""
    table_arns = ensure_tables(client, app.name, app.tables)
    client.put_item(
        TableName=local_table_name(app.name, clients),
        Item=wire(client_item(CLIENT_ID, "Bench Client", "2025-01-01T00:00:00.000Z")),
    )
    for index in range(sessions_per_client):
        started_at = f"2025-01-01T00:{index // 60:02d}:{index % 60:02d}.000Z"
        session_id = f"s{index:04d}"
        client.put_item(
            TableName=local_table_name(app.name, sessions),
            Item=wire(session_item(CLIENT_ID, started_at, session_id)),
        )
    return table_arns


def first_query(route: Route) -> dict[str, str]:
    """What a first request asks for: one client's sessions, or the route's defaults."""
    return {"clientId": CLIENT_ID} if route.path == "/sessions" else {}
