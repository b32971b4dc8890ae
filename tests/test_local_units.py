"""The local runtime's pure parts: routing, response rules and the sample data.

IAM decisions are in tests/test_local_iam.py."""

from __future__ import annotations

import asyncio
import os
import platform
import re
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
from dev_process import store_processes

from draht.app import app
from draht.local.events import HttpRequest, MalformedResponse, Router, build_event, http_response
from draht.local.python import lambda_interpreter, runtime_packages
from draht.local.runtime import HandlerWatcher
from draht.local.seed import SESSION_COUNT, sample_data, seed
from draht.local.store import (
    Dynalite,
    StoreError,
    UnprocessedItems,
    batch_write,
    dynamodb_client,
    ensure_tables,
    local_table_name,
)
from draht.model import Function, Route, Table
from draht.openapi import REQUEST_SCHEMAS

ISO_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


def _route(key: str) -> Route:
    return Route(key, Function("F", handler="f.handler"))


def test_router_prefers_the_exact_route_then_the_most_specific_template() -> None:
    routes = [_route("GET /a/{id}"), _route("GET /a/b"), _route("GET /a/{rest+}")]
    router = Router(routes)
    assert router.match("GET", "/a/b") == (routes[1], {})
    assert router.match("GET", "/a/c") == (routes[0], {"id": "c"})
    assert router.match("GET", "/a/c/d") == (routes[2], {"rest": "c/d"})
    assert router.match("POST", "/a/b") is None
    assert router.match("GET", "/a") is None


def test_event_without_body_or_query_omits_them() -> None:
    event = build_event(HttpRequest("GET", "/a"), _route("GET /a"), {}, "id", now_ms=0)
    assert "queryStringParameters" not in event
    assert "body" not in event
    assert "cookies" not in event
    assert event["requestContext"]["time"] == "01/Jan/1970:00:00:00 +0000"


def test_any_other_json_result_without_status_code_is_a_200_json_body() -> None:
    response = http_response([1, "two"])
    assert (response.status, response.body) == (200, b'[1, "two"]')
    assert response.headers == [("content-type", "application/json")]


@pytest.mark.parametrize(
    "result",
    [
        {"statusCode": "200"},
        {"statusCode": 99},
        {"statusCode": 200, "body": {"not": "a string"}},
        {"statusCode": 200, "body": "***", "isBase64Encoded": True},
        {"statusCode": 200, "headers": {"x": ["a", "b"]}},
        {"statusCode": 200, "cookies": "a=1"},
        {"statusCode": 200, "headers": {"x-a\r\nset-cookie": "b"}},
    ],
)
def test_results_http_api_cannot_use_are_refused(result: dict[str, Any]) -> None:
    with pytest.raises(MalformedResponse):
        http_response(result)


def test_sample_data_follows_the_documented_layout() -> None:
    data = sample_data(datetime(2026, 11, 26, 12, tzinfo=UTC))
    assert len(data.clients) == 6
    assert len(data.sessions) == SESSION_COUNT
    for client in data.clients:
        assert ISO_UTC.fullmatch(client["createdAt"])
        assert client["name"]
    clients_with_sessions = {session["clientId"] for session in data.sessions}
    assert clients_with_sessions == {client["clientId"] for client in data.clients}
    for session in data.sessions:
        assert session["pk"] == f"CLIENT#{session['clientId']}"
        assert session["sk"] == f"SESSION#{session['startedAt']}#{session['sessionId']}"
        assert ISO_UTC.fullmatch(session["startedAt"])
        assert session["startedAt"] <= "2026-11-26T12:00:00Z"
    days = {session["startedAt"][:10] for session in data.sessions}
    assert len(days) > 30


def test_sample_data_writes_every_field_the_api_documents_and_validly() -> None:
    data = sample_data(datetime(2026, 11, 26, 12, tzinfo=UTC))
    for kind, items, create_schema in (
        ("Client", data.clients, REQUEST_SCHEMAS["ClientCreate"]),
        ("Session", data.sessions, REQUEST_SCHEMAS["SessionCreate"]),
    ):
        writable = set(create_schema["properties"])
        validator = jsonschema_rs.validator_for(
            {"$schema": "https://json-schema.org/draft/2020-12/schema", **create_schema},
            validate_formats=True,
        )
        for item in items:
            fields = {name: value for name, value in item.items() if name in writable}
            errors = [error.message for error in validator.iter_errors(fields)]
            assert not errors, (kind, errors)
            assert item["version"] == 1
        present = {name for item in items for name in item}
        assert writable - {"notes", "sessionId", "clientId", "startedAt"} <= present, kind


def test_seeding_twice_replaces_the_sample_and_keeps_other_data(dynalite: Dynalite) -> None:
    client = dynamodb_client(dynalite.endpoint)
    tables: tuple[Table, ...] = app.tables
    ensure_tables(client, "seedtest", tables)
    sessions_table = local_table_name("seedtest", app.tables[0])
    other = {"pk": {"S": "CLIENT#other"}, "sk": {"S": "SESSION#2020-01-01T00:00:00Z#x"}}
    client.put_item(TableName=sessions_table, Item=other)
    seed_app = type(app)(name="seedtest", tables=app.tables, routes=app.routes)
    seed(client, seed_app, now=datetime(2026, 11, 20, tzinfo=UTC))
    seed(client, seed_app, now=datetime(2026, 11, 26, tzinfo=UTC))
    assert client.scan(TableName=sessions_table, Select="COUNT")["Count"] == SESSION_COUNT + 1


def test_handler_watcher_sees_edits_and_new_files_but_not_bytecode(tmp_path: Path) -> None:
    (tmp_path / "_lib").mkdir()
    (tmp_path / "_lib" / "http.py").write_text("A = 1\n")
    watcher = HandlerWatcher(tmp_path)
    assert not watcher.changed()
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "__pycache__" / "http.cpython-311.pyc").write_bytes(b"\0")
    assert not watcher.changed()
    (tmp_path / "_lib" / "http.py").write_text("A = 22\n")
    assert watcher.changed()
    assert not watcher.changed()
    (tmp_path / "new.py").write_text("")
    assert watcher.changed()


def test_lambdas_python_runtime_provides_boto3_and_its_requirements() -> None:
    assert runtime_packages().modules == {
        "boto3",
        "botocore",
        "s3transfer",
        "jmespath",
        "dateutil",
        "six",
        "urllib3",
    }


def test_without_the_runtimes_python_workers_use_this_one_and_say_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path))
    interpreter = lambda_interpreter("python3.99")
    assert (interpreter.executable, interpreter.matches_runtime) == (sys.executable, False)
    assert interpreter.describe().startswith(
        f"{platform.python_version()} here but python3.99 on AWS: local and deployed Python differ"
    )


def test_an_interpreter_of_the_runtimes_version_is_found_in_pyenvs_folders(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A stand-in reports a version no real interpreter here has.
    stand_in = tmp_path / "versions" / "3.99.1" / "bin" / "python3.99"
    stand_in.parent.mkdir(parents=True)
    stand_in.write_text(f"#!/bin/sh\necho 3.99.1\necho {stand_in}\n")
    stand_in.chmod(0o755)
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path))
    interpreter = lambda_interpreter("python3.99")
    assert (interpreter.executable, interpreter.version) == (str(stand_in), "3.99.1")
    assert interpreter.describe() == f"3.99.1 ({stand_in}), as deployed (python3.99)"


class _Unprocessing:
    """A BatchWriteItem client that leaves the last request of each call unprocessed `times` times.

    dynalite always processes a whole batch, so this is the only way to see the retry.
    """

    def __init__(self, times: int) -> None:
        self.times = times
        self.calls: list[list[dict[str, Any]]] = []

    def batch_write_item(self, RequestItems: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
        ((table, requests),) = RequestItems.items()
        self.calls.append(requests)
        if self.times == 0:
            return {"UnprocessedItems": {}}
        self.times -= 1
        return {"UnprocessedItems": {table: requests[-1:]}}


def _puts(count: int) -> list[dict[str, Any]]:
    return [{"PutRequest": {"Item": {"id": {"S": str(n)}}}} for n in range(count)]


def test_batch_write_sends_25_at_a_time_and_resends_what_stayed_unprocessed() -> None:
    # https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_BatchWriteItem.html
    # ("up to 25 put or delete requests"; "UnprocessedItems": retry them with exponential backoff)
    client = _Unprocessing(times=2)
    batch_write(client, "t", _puts(30), first_pause_s=0)
    assert [len(call) for call in client.calls] == [25, 1, 1, 5]
    assert client.calls[1] == client.calls[2] == [_puts(25)[24]]


def test_batch_write_raises_when_writes_stay_unprocessed_after_every_attempt() -> None:
    client = _Unprocessing(times=100)
    with pytest.raises(UnprocessedItems, match="1 writes to t stayed unprocessed after 3 attempts"):
        batch_write(client, "t", _puts(3), attempts=3, first_pause_s=0)
    assert len(client.calls) == 3


def test_a_store_that_cannot_restart_says_so_once_and_comes_back_when_it_can(
    tmp_path: Path,
) -> None:
    async def scenario() -> list[str]:
        lines: list[str] = []
        others = store_processes(os.getpid())
        store = Dynalite(tmp_path).start()
        (started,) = store_processes(os.getpid()) - others
        supervisor = asyncio.get_running_loop().create_task(store.keep_running(lines.append, 0.2))
        try:
            os.kill(started, signal.SIGKILL)
            # Taken before the loop runs again, so the restart finds the port in use.
            blocker = socket.socket()
            blocker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            deadline = time.monotonic() + 10
            while True:
                try:
                    blocker.bind(("127.0.0.1", store.port))
                    break
                except OSError:
                    assert time.monotonic() < deadline
                    time.sleep(0.01)
            blocker.listen()
            while not any("could not restart" in line for line in lines):
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.5)
            blocker.close()
            while not any("is back" in line for line in lines):
                await asyncio.sleep(0.05)
            tables = await asyncio.to_thread(
                lambda: dynamodb_client(store.endpoint).list_tables()["TableNames"]
            )
            assert tables == []
        finally:
            supervisor.cancel()
            await asyncio.gather(supervisor, return_exceptions=True)
            store.stop()
        return lines

    # A loop of its own: asyncio.run would leave this thread without a current loop,
    # which the Pulumi mock tests later in the run ask for.
    loop = asyncio.new_event_loop()
    try:
        lines = loop.run_until_complete(scenario())
    finally:
        loop.close()
    assert len(lines) == 3, lines
    assert lines[0].startswith("store   dynalite exited (signal 9): restarting it from ")
    assert lines[1].startswith("store   could not restart: ")
    assert lines[2].startswith("store   dynalite is back at http://127.0.0.1:")


def test_the_cli_loads_the_http_server_only_for_draht_dev() -> None:
    # draht seed and draht invoke find their store through draht.local.store alone.
    script = "import sys, draht.cli; sys.exit('draht.local.server' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", script], check=False).returncode == 0


def test_a_store_made_before_the_sessions_index_is_refused_in_one_line(dynalite: Dynalite) -> None:
    client = dynamodb_client(dynalite.endpoint)
    old = Table("Sessions", hash_key="pk", range_key="sk")
    ensure_tables(client, "before-index", (old,))
    with pytest.raises(StoreError, match=r"lacks index bySessionId.*--reset") as raised:
        ensure_tables(client, "before-index", app.tables)
    assert "\n" not in str(raised.value)


def test_the_local_sessions_table_has_the_declared_index(dynalite: Dynalite) -> None:
    client = dynamodb_client(dynalite.endpoint)
    ensure_tables(client, "with-index", app.tables)
    table = client.describe_table(TableName="with-index-local-sessions")["Table"]
    (index,) = table["LocalSecondaryIndexes"]
    assert index["IndexName"] == "bySessionId"
    assert [key["AttributeName"] for key in index["KeySchema"]] == ["pk", "sessionId"]
    assert index["Projection"]["ProjectionType"] == "ALL"
