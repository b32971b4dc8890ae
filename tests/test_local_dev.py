"""`draht dev` driven over HTTP as a subprocess, with a real dynalite behind it.

The test-only app (`tests/local_apps`) misbehaves on purpose; the real app is
served from `draht/app.py` with the real handlers. Every server is stopped by a
signal at the end, and its stop checks that no process of its is left.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import platform
import re
import shutil
import signal
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from dev_process import (
    TEST_APP,
    TEST_HANDLERS,
    DevProcess,
    alive,
    run_draht,
    serve_test_app,
)
from local_apps.declarations import app as test_app
from local_apps.declarations import clients, sessions

from draht.local.python import lambda_interpreter
from draht.local.seed import sample_data
from draht.local.store import Dynalite, dynamodb_client, local_table_name
from draht.model import PYTHON_RUNTIME

TIMEOUT_S = 1


@pytest.fixture(scope="module")
def stack_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("config") / "Pulumi.test.yaml"
    path.write_text(f"config:\n  draht:timeout: {TIMEOUT_S}\n  draht:memory: 512\n")
    return path


@pytest.fixture(scope="module")
def test_server(
    tmp_path_factory: pytest.TempPathFactory, stack_config: Path
) -> Iterator[DevProcess]:
    """One server of the test app for the tests that only send it requests."""
    server = serve_test_app(stack_config, tmp_path_factory.mktemp("data"))
    yield server
    server.stop()


def _test_app(data_dir: Path) -> list[str]:
    """The options that serve the test app from its handlers on its own data folder."""
    return ["--app", TEST_APP, "--handlers", str(TEST_HANDLERS), "--data-dir", str(data_dir)]


def _json(reply_body: bytes) -> Any:
    return json.loads(reply_body)


# The real app, its routes and its data ------------------------------------------------------


def test_real_app_serves_every_route_and_the_seeded_data(tmp_path: Path) -> None:
    seeded = run_draht("seed", "--data-dir", str(tmp_path))
    assert seeded.returncode == 0, seeded.stderr
    sample = sample_data(datetime.now(UTC))
    client_id = sample.clients[0]["clientId"]
    server = DevProcess(["--data-dir", str(tmp_path)])
    try:
        health = server.request("/health")
        assert health.status == 200
        assert _json(health.body)["status"] == "ok"
        listed = server.request("/clients?limit=100")
        assert listed.status == 200
        names = {client["name"] for client in _json(listed.body)["clients"]}
        assert names == {client["name"] for client in sample.clients}
        page = server.request(f"/sessions?clientId={client_id}&limit=5")
        assert page.status == 200
        started = [s["startedAt"] for s in _json(page.body)["sessions"]]
        assert len(started) == 5
        assert started == sorted(started, reverse=True)
        server.wait_for(r"^GET /sessions 200 ListSessions cold [\d.]+ ms \(handler [\d.]+ ms\)$")
    finally:
        server.stop(signal.SIGINT)


def test_every_write_route_works_under_the_enforced_iam_policies(tmp_path: Path) -> None:
    # Each worker's boto3 calls are checked against its function's policy, so a grant
    # missing from draht/app.py (an action, a table, the index) fails here as on AWS.
    server = DevProcess(["--data-dir", str(tmp_path)])
    json_type = [("content-type", "application/json")]
    merge_type = [("content-type", "application/merge-patch+json")]
    try:
        client = server.request(
            "/clients", "POST", json_type, b'{"clientId":"acme","name":"Acme GmbH"}'
        )
        assert client.status == 201, client.body
        session = server.request(
            "/sessions", "POST", json_type, b'{"clientId":"acme","sessionId":"s1","title":"A"}'
        )
        assert session.status == 201, session.body
        assert server.request("/sessions", "POST", json_type, b'{"clientId":"none"}').status == 422
        read = server.request("/sessions/s1?clientId=acme")
        assert (read.status, read.headers["etag"]) == (200, session.headers["etag"])
        patched = server.request(
            "/sessions/s1?clientId=acme",
            "PATCH",
            [*merge_type, ("if-match", read.headers["etag"])],
            b'{"endedAt":"2099-01-01T00:00:00Z"}',
        )
        assert patched.status == 200, patched.body
        assert server.request("/clients/acme", "DELETE").status == 409
        assert server.request("/sessions/s1?clientId=acme", "DELETE").status == 204
        renamed = server.request("/clients/acme", "PATCH", merge_type, b'{"name":"Acme AG"}')
        assert renamed.status == 200, renamed.body
        assert server.request("/clients/acme").status == 200
        assert server.request("/clients/acme", "DELETE").status == 204
        assert "AccessDenied" not in server.output
    finally:
        server.stop()


def test_banner_lists_routes_functions_tables_store_and_auth(tmp_path: Path) -> None:
    server = DevProcess(["--data-dir", str(tmp_path)])
    try:
        server.wait_for(
            r"GET /sessions\s+-> ListSessions\s+-> Sessions \(Query, PutItem, UpdateItem,"
            r" DeleteItem; bySessionId: Query\), Clients \(GetItem, UpdateItem\)\s+\[iam auth\]$"
        )
        server.wait_for(r"^store\s+dynalite at http://127\.0\.0\.1:\d+, data in .*store")
        server.wait_for(
            r"^auth\s+10 protected route\(s\) need SigV4 signed with the local credentials"
            rf" \(profile draht-local in {re.escape(str(tmp_path / 'credentials'))}\)"
        )
    finally:
        server.stop()


def test_no_route_is_api_gateways_404(test_server: DevProcess) -> None:
    for method, path in (("GET", "/nowhere"), ("DELETE", "/echo"), ("GET", "/echo/more")):
        reply = test_server.request(path, method=method)
        assert (reply.status, _json(reply.body)) == (404, {"message": "Not Found"})
    test_server.wait_for(r"^GET /echo/more 404 - - [\d.]+ ms$")


def test_data_survives_a_restart_and_reset_empties_it(tmp_path: Path) -> None:
    assert run_draht("seed", "--data-dir", str(tmp_path)).returncode == 0
    first = DevProcess(["--data-dir", str(tmp_path)])
    try:
        assert len(_json(first.request("/clients?limit=100").body)["clients"]) == 6
    finally:
        first.stop()
    again = DevProcess(["--data-dir", str(tmp_path)])
    try:
        assert len(_json(again.request("/clients?limit=100").body)["clients"]) == 6
    finally:
        again.stop()
    reset = DevProcess(["--data-dir", str(tmp_path), "--reset"])
    try:
        assert _json(reset.request("/clients").body)["clients"] == []
    finally:
        reset.stop()


def test_another_store_can_be_used_through_its_endpoint(tmp_path: Path, dynalite: Dynalite) -> None:
    server = DevProcess(["--data-dir", str(tmp_path), "--dynamodb-endpoint", dynalite.endpoint])
    try:
        server.wait_for(rf"^store\s+{re.escape(dynalite.endpoint)} \(from --dynamodb-endpoint\)")
        assert server.request("/clients").status == 200
        tables = dynamodb_client(dynalite.endpoint).list_tables()["TableNames"]
        assert local_table_name("draht", clients) in tables
        assert not (tmp_path / "store").exists()
    finally:
        server.stop()


def test_seed_while_dev_runs_goes_through_its_store(tmp_path: Path) -> None:
    server = DevProcess(["--data-dir", str(tmp_path)])
    try:
        seeded = run_draht("seed", "--data-dir", str(tmp_path))
        assert seeded.returncode == 0, seeded.stderr
        assert f"of draht dev (pid {server.process.pid})" in seeded.stdout
        assert len(_json(server.request("/clients?limit=100").body)["clients"]) == 6
        second = run_draht("dev", "--port", "0", "--data-dir", str(tmp_path))
        assert second.returncode == 1
        assert second.stderr.count("\n") == 1
        assert f"draht dev (pid {server.process.pid}" in second.stderr
    finally:
        server.stop()


def test_a_server_killed_outright_takes_its_workers_and_store_along(tmp_path: Path) -> None:
    server = DevProcess(_test_app(tmp_path))
    with ThreadPoolExecutor(1) as pool:
        sleeping = pool.submit(server.request, "/sleeps?seconds=30")
        assert server.request("/echo").status == 200
        # The store, the Echo worker and the Sleeps worker in the middle of its handler.
        deadline = time.monotonic() + 10
        while len(server.children()) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(server.children()) == 3
        server.stop(signal.SIGKILL)
        with pytest.raises(OSError):
            sleeping.result()


def test_a_store_killed_mid_run_is_noticed_and_restarted_from_its_data_folder(
    tmp_path: Path,
) -> None:
    assert run_draht("seed", "--data-dir", str(tmp_path)).returncode == 0
    server = DevProcess(["--data-dir", str(tmp_path)])
    try:
        assert len(_json(server.request("/clients?limit=100").body)["clients"]) == 6
        killed = server.store()
        os.kill(killed, signal.SIGKILL)
        server.wait_for(r"^store   dynalite exited \(signal 9\): restarting it from .*store")
        statuses = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            reply = server.request("/clients?limit=100")
            statuses.append(reply.status)
            if reply.status == 200:
                break
        # Until the store is back the handler answers 503, as it does on AWS when DynamoDB
        # cannot be reached; then every item written before the crash is there.
        assert set(statuses[:-1]) <= {503} and statuses[-1] == 200, statuses
        assert len(_json(reply.body)["clients"]) == 6
        assert server.store() != killed
        assert len([line for line in server.output.splitlines() if "exited" in line]) == 1
    finally:
        server.stop()


def test_the_store_gets_a_minimal_environment_not_the_parents_secrets(tmp_path: Path) -> None:
    secrets = {"AWS_SECRET_ACCESS_KEY": "parent-secret", "GITHUB_TOKEN": "parent-token"}
    server = DevProcess(["--data-dir", str(tmp_path)], env={**os.environ, **secrets})
    try:
        environ = Path(f"/proc/{server.store()}/environ").read_bytes()
        names = {entry.split(b"=", 1)[0].decode() for entry in environ.split(b"\0") if entry}
        assert names <= {"PATH", "LANG", "SYSTEMROOT"}
        assert b"parent-secret" not in environ
        assert b"parent-token" not in environ
    finally:
        server.stop()


def test_after_a_200_way_burst_idle_workers_retire_until_one_per_function_is_left(
    tmp_path: Path,
) -> None:
    idle_s = 1.0
    server = DevProcess([*_test_app(tmp_path), "--worker-idle", str(idle_s)])
    try:
        store = server.store()
        paths = (["/sleeps?seconds=0.2", "/echo", "/shape"] * 67)[:200]
        peak = 0
        with ThreadPoolExecutor(len(paths) + 1) as pool:
            burst = pool.map(server.request, paths)
            replies: list[Any] = []
            collecting = pool.submit(lambda: replies.extend(burst))
            while not collecting.done():
                peak = max(peak, len(server.children() - {store}))
                time.sleep(0.02)
        assert [reply.status for reply in replies] == [200] * 200
        # Three functions, each at its limit of four workers while requests overlapped.
        assert peak == 12
        deadline = time.monotonic() + idle_s + 15
        while len(server.children() - {store}) > 3 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(server.children() - {store}) == 3
        # The one left per function is warm.
        assert server.request("/echo").status == 200
        server.wait_for(r"^GET /echo 200 Echo warm ")
    finally:
        server.stop()


# Events and responses -----------------------------------------------------------------------


def test_event_is_a_payload_format_2_event(test_server: DevProcess) -> None:
    before_ms = int(time.time() * 1000)
    reply = test_server.request(
        "/echo?a=1&a=2&b=x%20y&empty=",
        headers=[
            ("X-Custom", "first"),
            ("x-custom", "second"),
            ("Cookie", "c1=v1; c2=v2"),
            ("User-Agent", "draht-test"),
        ],
    )
    assert reply.status == 200
    event = _json(reply.body)["event"]
    context = event.pop("requestContext")
    assert event["version"] == "2.0"
    assert event["routeKey"] == "GET /echo"
    assert event["rawPath"] == "/echo"
    assert event["rawQueryString"] == "a=1&a=2&b=x%20y&empty="
    assert event["queryStringParameters"] == {"a": "1,2", "b": "x y", "empty": ""}
    assert event["cookies"] == ["c1=v1", "c2=v2"]
    assert event["headers"]["x-custom"] == "first,second"
    assert event["headers"]["user-agent"] == "draht-test"
    assert "cookie" not in event["headers"]
    assert all(name == name.lower() for name in event["headers"])
    assert event["isBase64Encoded"] is False
    assert "body" not in event
    assert context["requestId"] == reply.headers["apigw-requestid"]
    assert context["stage"] == "$default"
    assert context["routeKey"] == "GET /echo"
    assert context["accountId"] == "000000000000"
    assert context["domainName"] == f"127.0.0.1:{test_server.port}"
    assert context["http"] == {
        "method": "GET",
        "path": "/echo",
        "protocol": "HTTP/1.1",
        "sourceIp": "127.0.0.1",
        "userAgent": "draht-test",
    }
    assert before_ms <= context["timeEpoch"] <= int(time.time() * 1000)
    assert re.fullmatch(r"\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d \+0000", context["time"])


def test_binary_bodies_arrive_base64_and_text_bodies_as_text(test_server: DevProcess) -> None:
    binary = bytes(range(256))
    reply = test_server.request(
        "/echo", method="POST", headers=[("Content-Type", "image/png")], body=binary
    )
    event = _json(reply.body)["event"]
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == binary
    text = '{"name": "Grüße"}'
    reply = test_server.request(
        "/echo",
        method="POST",
        headers=[("Content-Type", "application/json")],
        body=text.encode(),
    )
    event = _json(reply.body)["event"]
    assert (event["isBase64Encoded"], event["body"]) == (False, text)
    for content_type in ("application/x-www-form-urlencoded", None):
        headers = [("Content-Type", content_type)] if content_type else []
        reply = test_server.request("/echo", method="POST", headers=headers, body=b"a=1")
        event = _json(reply.body)["event"]
        assert (event["isBase64Encoded"], event["body"]) == (True, "YT0x")


def test_path_parameters_come_from_the_route_template(test_server: DevProcess) -> None:
    event = _json(test_server.request("/items/a%20b").body)["event"]
    assert event["rawPath"] == event["requestContext"]["http"]["path"] == "/items/a b"
    assert (event["routeKey"], event["pathParameters"]) == (
        "GET /items/{itemId}",
        {"itemId": "a b"},
    )
    event = _json(test_server.request("/files/x/y.txt").body)["event"]
    assert event["pathParameters"] == {"path": "x/y.txt"}


def test_worker_environment_holds_only_its_own_links(test_server: DevProcess) -> None:
    body = _json(test_server.request("/echo").body)
    environment = body["environment"]
    links = {k for k in environment if k.startswith("DRAHT_RESOURCE_")}
    assert links == {"DRAHT_RESOURCE_App", "DRAHT_RESOURCE_Sessions"}
    assert json.loads(environment["DRAHT_RESOURCE_App"]) == {
        "name": "drahttest",
        "stage": "local",
    }
    linked = json.loads(environment["DRAHT_RESOURCE_Sessions"])
    assert linked["name"] == local_table_name("drahttest", sessions)
    assert linked["arn"].endswith(f":table/{linked['name']}")
    assert environment["AWS_LAMBDA_FUNCTION_NAME"] == "Echo"
    assert environment["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "512"
    assert environment["AWS_REGION"] == "us-east-1"
    assert environment["AWS_ENDPOINT_URL_DYNAMODB"].startswith("http://127.0.0.1:")
    assert body["sys_path_0"] == str(TEST_HANDLERS)
    context = body["context"]
    assert uuid.UUID(context["aws_request_id"])
    assert (context["function_name"], context["memory_limit_in_mb"]) == ("Echo", "512")
    assert 0 < context["remaining_ms"] <= TIMEOUT_S * 1000


def test_a_function_s_own_memory_and_timeout_override_the_stack_s(
    test_server: DevProcess,
) -> None:
    body = _json(test_server.request("/tuned").body)
    assert body["environment"]["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "1024"
    assert body["context"]["memory_limit_in_mb"] == "1024"
    assert TIMEOUT_S * 1000 < body["context"]["remaining_ms"] <= 5000


def test_one_warm_worker_serves_requests_in_turn(test_server: DevProcess) -> None:
    pids = {_json(test_server.request("/echo").body)["pid"] for _ in range(5)}
    assert len(pids) == 1
    test_server.wait_for(r"^GET /echo 200 Echo warm [\d.]+ ms \(handler [\d.]+ ms\)$")


def test_the_request_line_gives_the_handlers_own_time_within_the_whole(
    test_server: DevProcess,
) -> None:
    """As Lambda's REPORT line gives a function's Duration: what the handler took, apart from
    what `draht dev` adds around it."""
    test_server.request("/sleeps?seconds=0.3")
    line = test_server.wait_for(r"^GET /sleeps 200 Sleeps \w+ ([\d.]+) ms \(handler ([\d.]+) ms\)$")
    whole_ms, handler_ms = float(line.group(1)), float(line.group(2))
    assert 300 <= handler_ms < whole_ms


def test_overlapping_requests_get_a_worker_each(test_server: DevProcess) -> None:
    with ThreadPoolExecutor(2) as pool:
        replies = list(pool.map(test_server.request, ["/sleeps?seconds=0.5"] * 2))
    assert [reply.status for reply in replies] == [200, 200]
    assert len({_json(reply.body)["pid"] for reply in replies}) == 2


def test_kept_alive_connections_and_chunked_bodies_are_served(test_server: DevProcess) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", test_server.port, timeout=10)
    try:
        target, headers = test_server.signed("GET", "/shape")
        connection.request("GET", target, headers=dict(headers))
        assert connection.getresponse().read() == b'{"hello": "world", "count": 2}'
        kept = connection.sock
        assert kept is not None
        target, headers = test_server.signed(
            "POST", "/echo", [("content-type", "text/plain")], b"chunk one, chunk two"
        )
        connection.request(
            "POST", target, body=iter([b"chunk one, ", b"chunk two"]), headers=dict(headers)
        )
        event = _json(connection.getresponse().read())["event"]
        assert event["body"] == "chunk one, chunk two"
        assert connection.sock is kept
    finally:
        connection.close()


def test_results_follow_http_apis_response_rules(test_server: DevProcess) -> None:
    plain = test_server.request("/shape?kind=plain")
    assert plain.status == 200
    assert plain.headers["content-type"] == "application/json"
    assert _json(plain.body) == {"hello": "world", "count": 2}
    full = test_server.request("/shape?kind=full")
    assert (full.status, full.body) == (201, b"created")
    assert full.headers["content-type"] == "text/plain"
    assert full.headers["x-answer"] == "42"
    assert [v for k, v in full.header_list if k == "set-cookie"] == ["a=1; Path=/", "b=2; HttpOnly"]
    binary = test_server.request("/shape?kind=binary")
    assert binary.body == bytes(range(256))
    malformed = test_server.request("/shape?kind=malformed")
    assert (malformed.status, _json(malformed.body)) == (500, {"message": "Internal Server Error"})


# Failures -----------------------------------------------------------------------------------


def test_handler_exception_is_a_500_with_the_traceback_in_the_console(
    test_server: DevProcess,
) -> None:
    reply = test_server.request("/fails")
    assert (reply.status, _json(reply.body)) == (500, {"message": "Internal Server Error"})
    test_server.wait_for(r"ValueError: the handler failed on purpose")
    test_server.wait_for(r"^GET /fails 500 Fails (cold|warm) ")
    assert test_server.request("/fails?ok=1").status == 200
    test_server.wait_for(r"^GET /fails 200 Fails warm ")


def test_worker_that_exits_is_a_500_and_is_replaced(test_server: DevProcess) -> None:
    first = _json(test_server.request("/exits").body)["pid"]
    reply = test_server.request("/exits?exit=1")
    assert (reply.status, _json(reply.body)) == (500, {"message": "Internal Server Error"})
    test_server.wait_for(r"Runtime exited with error: exit status 3")
    replaced = test_server.request("/exits")
    assert replaced.status == 200
    assert _json(replaced.body)["pid"] != first
    test_server.wait_for(r"^GET /exits 200 Exits cold ")


def test_timeout_kills_the_worker_and_the_next_request_gets_a_fresh_one(
    test_server: DevProcess,
) -> None:
    warm = _json(test_server.request("/sleeps?seconds=0").body)["pid"]
    started = time.monotonic()
    reply = test_server.request("/sleeps?seconds=30")
    elapsed = time.monotonic() - started
    assert (reply.status, _json(reply.body)) == (500, {"message": "Internal Server Error"})
    assert TIMEOUT_S <= elapsed < TIMEOUT_S + 2
    test_server.wait_for(rf"Task timed out after {TIMEOUT_S:.2f} seconds")
    assert not alive(warm)
    fresh = test_server.request("/sleeps?seconds=0")
    assert fresh.status == 200
    assert _json(fresh.body)["pid"] != warm


# IAM ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("session", ["default", "own"])
def test_iam_denies_a_table_the_function_is_not_linked_to(
    test_server: DevProcess, session: str
) -> None:
    other = local_table_name(test_app.name, sessions)
    denied = _json(test_server.request(f"/cross?table={other}&session={session}").body)
    resource = f"arn:aws:dynamodb:us-east-1:000000000000:table/{other}"
    message = (
        "User: arn:aws:sts::000000000000:assumed-role/drahttest-local-CrossReader/CrossReader"
        f" is not authorized to perform: dynamodb:Scan on resource: {resource}"
        " because no identity-based policy allows the dynamodb:Scan action"
    )
    assert denied == {
        "exception": "ClientError",
        "code": "AccessDeniedException",
        "message": message,
        "status": 400,
        "text": "An error occurred (AccessDeniedException) when calling the Scan operation: "
        + message,
    }
    own = local_table_name(test_app.name, clients)
    allowed = _json(test_server.request(f"/cross?table={own}&session={session}").body)
    assert allowed == {"count": 0}


@pytest.mark.parametrize(
    ("statement", "action", "table"),
    [
        ('SELECT * FROM "drahttest-local-sessions"', "PartiQLSelect", "drahttest-local-sessions"),
        (
            "INSERT INTO \"drahttest-local-clients\" VALUE {'clientId': 'x'}",
            "PartiQLInsert",
            "drahttest-local-clients",
        ),
    ],
)
def test_partiql_is_denied_naming_the_iam_action_of_the_statement(
    test_server: DevProcess, statement: str, action: str, table: str
) -> None:
    reply = _json(test_server.request(f"/cross?statement={quote(statement)}").body)
    assert reply["code"] == "AccessDeniedException"
    assert reply["message"].endswith(
        f"is not authorized to perform: dynamodb:{action} on resource:"
        f" arn:aws:dynamodb:us-east-1:000000000000:table/{table}"
        f" because no identity-based policy allows the dynamodb:{action} action"
    )


def test_partiql_select_granted_on_a_table_reaches_the_store(test_server: DevProcess) -> None:
    statement = 'SELECT * FROM "drahttest-local-clients"'
    reply = _json(test_server.request(f"/cross?statement={quote(statement)}").body)
    # dynalite has no PartiQL: its own answer shows the call got past IAM.
    assert reply["code"] == "UnknownOperationException", reply


# What a function may import -------------------------------------------------------------------


def test_a_handler_importing_a_module_its_zip_lacks_fails_as_on_lambda(
    test_server: DevProcess,
) -> None:
    reply = test_server.request("/imports-yaml")
    assert (reply.status, _json(reply.body)) == (500, {"message": "Internal Server Error"})
    # awslambdaric's init error, logged as Lambda logs it with the JSON log format.
    logged = json.loads(test_server.wait_for(r"^\[ImportsYaml\] (\{.*\})$").group(1))
    assert logged.pop("level") == "ERROR"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", logged.pop("timestamp"))
    assert logged == {
        "errorMessage": "Unable to import module 'imports_yaml': No module named 'yaml'",
        "errorType": "Runtime.ImportModuleError",
        "requestId": "",
        "stackTrace": [],
    }
    test_server.wait_for(r"^yaml is not in the ImportsYaml function's zip")


def test_a_function_imports_its_zip_the_standard_library_and_boto3_only(
    test_server: DevProcess,
) -> None:
    tried = ["boto3", "botocore.session", "dateutil.parser", "json", "yaml", "draht", "echo"]
    reply = test_server.request(f"/runtime?try={','.join(tried)}")
    assert reply.status == 200
    assert _json(reply.body)["imports"] == {
        "boto3": "ok",
        "botocore.session": "ok",
        "dateutil.parser": "ok",
        "json": "ok",
        "yaml": "ModuleNotFoundError: No module named 'yaml'",
        "draht": "ModuleNotFoundError: No module named 'draht'",
        # A file of the handlers folder that this function's zip does not hold.
        "echo": "ModuleNotFoundError: No module named 'echo'",
    }
    failed = test_server.request("/runtime?require=yaml")
    assert (failed.status, _json(failed.body)) == (500, {"message": "Internal Server Error"})
    test_server.wait_for(r"ModuleNotFoundError: No module named 'yaml'")
    test_server.wait_for(r"^yaml is not in the RuntimeInfo function's zip")


def test_workers_run_on_the_deployed_runtimes_python_where_installed(
    test_server: DevProcess,
) -> None:
    interpreter = lambda_interpreter()
    if os.environ.get("DRAHT_REQUIRE_LAMBDA_PYTHON"):
        assert interpreter.matches_runtime, f"no {PYTHON_RUNTIME} interpreter on this machine"
    reply = _json(test_server.request("/runtime").body)
    assert reply["python"] == interpreter.version
    assert reply["executionEnv"] == f"AWS_Lambda_{PYTHON_RUNTIME}"
    assert f"\npython  {interpreter.describe()}\n" in test_server.output


def test_without_the_runtimes_python_the_banner_says_once_that_they_differ(
    tmp_path: Path,
) -> None:
    wanted = PYTHON_RUNTIME.removeprefix("python")
    if platform.python_version().startswith(f"{wanted}."):
        pytest.skip(f"draht dev itself runs on {PYTHON_RUNTIME}, so the two cannot differ")
    path = [d for d in os.environ["PATH"].split(os.pathsep) if not Path(d, PYTHON_RUNTIME).exists()]
    hidden = {**os.environ, "PATH": os.pathsep.join(path), "PYENV_ROOT": str(tmp_path / "none")}
    server = DevProcess(_test_app(tmp_path), env=hidden)
    try:
        reply = _json(server.request("/runtime").body)
        assert reply["python"] == platform.python_version()
        differ = [line for line in server.output.splitlines() if "Python differ" in line]
        assert differ == [
            f"python  {platform.python_version()} here but {PYTHON_RUNTIME} on AWS: local and"
            f" deployed Python differ; install Python {wanted} (e.g. `pyenv install {wanted}`)"
            " to run workers on it"
        ]
    finally:
        server.stop()


# Hot reload ---------------------------------------------------------------------------------


def test_a_changed_handler_is_served_on_the_next_request(tmp_path: Path) -> None:
    handlers = tmp_path / "handlers"
    shutil.copytree(TEST_HANDLERS, handlers)
    server = DevProcess(
        ["--app", TEST_APP, "--handlers", str(handlers), "--data-dir", str(tmp_path / "data")]
    )
    try:
        assert _json(server.request("/version").body) == {"version": "one"}
        source = handlers / "version.py"
        source.write_text(source.read_text().replace('"one"', '"two"'))
        # Some file systems keep coarse modification times; the size changes either way.
        stat = source.stat()
        os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
        assert _json(server.request("/version").body) == {"version": "two"}
        server.wait_for(r"^handlers changed")
        server.wait_for(r"^GET /version 200 Version cold ")
        source.write_text("def handler(event, context):\n    return {'version': \n")
        assert server.request("/version").status == 500
        server.wait_for(r"SyntaxError")
        source.write_text("def handler(event, context):\n    return {'version': 'three'}\n")
        assert _json(server.request("/version").body) == {"version": "three"}
    finally:
        server.stop()


# The command line ---------------------------------------------------------------------------


def test_invoke_runs_one_request_through_a_worker(tmp_path: Path) -> None:
    result = run_draht("invoke", "GET /echo?x=1", *_test_app(tmp_path), "-H", "X-Trace: abc")
    assert result.returncode == 0, result.stderr
    head, _, body = result.stdout.partition("\n\n")
    assert head.splitlines()[0] == "HTTP 200"
    event = json.loads(body)["event"]
    assert (event["rawQueryString"], event["headers"]["x-trace"]) == ("x=1", "abc")
    assert "Echo cold" in result.stderr


@pytest.mark.parametrize(
    ("request_line", "status", "exit_status"),
    [("GET /shape", 200, 0), ("GET /nowhere", 404, 4), ("GET /fails", 500, 5)],
)
def test_invoke_exits_non_zero_on_4xx_and_5xx_answers(
    tmp_path: Path, request_line: str, status: int, exit_status: int
) -> None:
    result = run_draht("invoke", request_line, *_test_app(tmp_path))
    assert result.stdout.splitlines()[0] == f"HTTP {status}", result.stderr
    assert result.returncode == exit_status


def test_openapi_prints_the_document() -> None:
    result = run_draht("openapi")
    assert result.returncode == 0, result.stderr
    assert set(json.loads(result.stdout)["paths"]) == {
        "/health",
        "/sessions",
        "/sessions/{sessionId}",
        "/clients",
        "/clients/{clientId}",
    }


def test_without_node_dev_fails_with_one_line_naming_what_to_do(tmp_path: Path) -> None:
    environment = {**os.environ, "PATH": str(tmp_path)}
    result = run_draht("dev", "--port", "0", "--data-dir", str(tmp_path), env=environment)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1
    assert "Node.js" in result.stderr
    assert "--dynamodb-endpoint" in result.stderr


def test_a_port_in_use_is_one_line_and_leaves_no_store_behind(tmp_path: Path) -> None:
    server = DevProcess(["--data-dir", str(tmp_path / "first")])
    try:
        result = run_draht("dev", "--port", str(server.port), "--data-dir", str(tmp_path / "b"))
        assert result.returncode == 2
        assert result.stderr.count("\n") == 1
        assert f"cannot listen on 127.0.0.1:{server.port}" in result.stderr
    finally:
        server.stop()


@pytest.mark.parametrize(
    ("arguments", "complaint"),
    [
        (["dev", "--port", "many"], "invalid int value"),
        (["dev", "--app", "draht.app"], "must look like module:attribute"),
        (["dev", "--app", "draht.app:nothing"], "is not an App declaration"),
        (["dev", "--reset", "--dynamodb-endpoint", "http://127.0.0.1:1"], "--reset"),
        (["invoke", "/health"], "must look like"),
    ],
)
def test_bad_usage_is_one_line_and_exit_status_2(arguments: list[str], complaint: str) -> None:
    result = run_draht(*arguments)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1, result.stderr
    assert complaint in result.stderr
