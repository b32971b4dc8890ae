"""Handlers imported fresh against a given store, the way Lambda starts a container.

Handlers read their links and endpoint when imported, so each environment gets its
own import of `handlers/` and leaves nothing behind in `sys.modules` or `os.environ`.
"""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import pytest
from documented_events import LambdaContext, Query, api_event
from openapi_check import assert_conforms

from draht.app import app
from draht.local.store import (
    LOCAL_CREDENTIALS,
    LOCAL_REGION,
    batch_write,
    dynamodb_client,
    ensure_tables,
)
from draht.model import resource_environment
from draht.package import HANDLERS_DIR, VALIDATORS_MODULE, write_validators

STAGE = "test"
HANDLER_MODULES = ("health", "sessions", "clients")


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]
    body: Any


@dataclass
class Handlers:
    health: ModuleType
    sessions: ModuleType
    clients: ModuleType

    def call(
        self,
        route_key: str,
        query: Query = (),
        request_id: str | None = None,
        *,
        path: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        body: str | bytes | None = None,
        json_body: Any = None,
    ) -> Reply:
        """Invoke the route's handler with a real v2 event; the reply must match the OpenAPI.

        `json_body` is sent as JSON, with the Content-Type the route takes unless
        `headers` name one.
        """
        if json_body is not None:
            body = json.dumps(json_body)
            media_type = (
                "application/merge-patch+json"
                if route_key.startswith("PATCH")
                else ("application/json")
            )
            headers = {"content-type": media_type, **(headers or {})}
        module = getattr(self, route_key.split("/", 2)[1].split(" ")[0])
        event = api_event(route_key, query, request_id, path=path, headers=headers, body=body)
        response = module.handler(event, LambdaContext())
        assert_conforms(route_key, response)
        text = response["body"]
        return Reply(
            response["statusCode"], response["headers"], json.loads(text) if text else None
        )


def create_tables(endpoint: str, app_name: str) -> dict[str, str]:
    """Create the app's tables under `app_name`; return table name by resource name."""
    client = dynamodb_client(endpoint)
    ensure_tables(client, app_name, app.tables)
    return {table.name: f"{app_name}-local-{table.name.lower()}" for table in app.tables}


def put_items(endpoint: str, table: str, items: list[dict[str, Any]]) -> None:
    requests = [{"PutRequest": {"Item": item}} for item in items]
    batch_write(dynamodb_client(endpoint), table, requests)


@contextmanager
def loaded_handlers(endpoint: str, tables: Mapping[str, str]) -> Iterator[Handlers]:
    with pytest.MonkeyPatch.context() as patch:
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_DEFAULT_PROFILE"):
            patch.delenv(name, raising=False)
        patch.setenv("AWS_ENDPOINT_URL_DYNAMODB", endpoint)
        patch.setenv("AWS_REGION", LOCAL_REGION)
        patch.setenv("AWS_DEFAULT_REGION", LOCAL_REGION)
        patch.setenv("AWS_EC2_METADATA_DISABLED", "true")
        for key, value in LOCAL_CREDENTIALS.items():
            patch.setenv(key, value)
        linked = {
            resource: (table, f"arn:aws:dynamodb:{LOCAL_REGION}:0:table/{table}")
            for resource, table in tables.items()
        }
        for name, value in resource_environment(app, STAGE, linked).items():
            patch.setenv(name, value)
        patch.syspath_prepend(str(write_validators()))
        patch.syspath_prepend(str(HANDLERS_DIR))
        # Handlers import some helpers only when a route needs them: an enclosing environment
        # gets its own modules back, or its late imports would mix in this one's.
        enclosing = _forget_handlers()
        try:
            yield Handlers(*(importlib.import_module(name) for name in HANDLER_MODULES))
        finally:
            _forget_handlers()
            sys.modules.update(enclosing)


def _forget_handlers() -> dict[str, ModuleType]:
    forgotten = {}
    for name in list(sys.modules):
        generated = name == VALIDATORS_MODULE
        if generated or name in HANDLER_MODULES or name == "_lib" or name.startswith("_lib."):
            forgotten[name] = sys.modules.pop(name)
    return forgotten
