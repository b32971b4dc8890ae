"""HTTP API's documented tables and limits, one case per row, against `draht dev`.

Every case names the AWS page and the row or section it comes from. The figures
are typed here from the pages, not imported from draht/local/limits.py, so a
wrong constant there fails a case here.

- Quotas: "Quotas for configuring and running an HTTP API in API Gateway",
  https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-quotas.html
- Throttling: "Throttle requests to your HTTP APIs for better throughput in API
  Gateway", https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-throttling.html
  (route-level throttling; the stage's default route settings apply to each route),
  with the token bucket of "Throttle requests to your REST APIs for better throughput",
  https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-request-throttling.html
- Responses: "Lambda function response for format 2.0" in "Create AWS Lambda proxy
  integrations for HTTP APIs",
  https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dev_process import TEST_APP, TEST_HANDLERS, DevProcess, stack_config, status_and_json
from local_apps.declarations import app as test_app

from draht.local.events import HttpRequest, http_response
from draht.local.limits import INTEGRATION_TIMEOUT_S, TokenBucket
from draht.local.runtime import Deployment, Outcome, Runtime
from draht.settings import Settings

QUOTAS = "http-api-quotas.html, table 'Quotas for configuring and running an HTTP API'"
THROTTLING = "http-api-throttling.html, 'Route-level throttling'"
HEAD_QUOTA_BYTES = 10240
"""Row "Total combined size of request line and header values": 10240 bytes."""
PAYLOAD_QUOTA_BYTES = 10 * 1024 * 1024
"""Row "Payload size": 10 MB."""
INTEGRATION_TIMEOUT_QUOTA_S = 30
"""Row "Maximum integration timeout": 30 seconds."""
THROTTLING_RATE = 1
THROTTLING_BURST = 3


def _test_app_args(data_dir: Path, config: Path) -> list[str]:
    return [
        "--app",
        TEST_APP,
        "--handlers",
        str(TEST_HANDLERS),
        "--data-dir",
        str(data_dir),
        "--stack-config",
        str(config),
    ]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevProcess]:
    folder = tmp_path_factory.mktemp("fidelity")
    with DevProcess(_test_app_args(folder, stack_config(folder, {}))) as process:
        yield process


def _head_of_size(size: int, padded: str) -> bytes:
    """A GET of /echo whose request line plus header values are `size` bytes, the extra
    bytes in the query (`padded="query"`) or in a header's value (`"header"`)."""
    values = ["127.0.0.1", "close"]
    line = "GET /echo?pad= HTTP/1.1"
    padding = size - len(line) - sum(map(len, values))
    headers = [("host", values[0]), ("connection", values[1])]
    if padded == "query":
        line = f"GET /echo?pad={'a' * padding} HTTP/1.1"
    else:
        # The quota counts a header's value, not its name.
        headers.append(("x-pad", "a" * padding))
    text = line + "\r\n" + "".join(f"{name}: {value}\r\n" for name, value in headers) + "\r\n"
    counted = len(line) + sum(len(value) for _, value in headers)
    assert counted == size
    return text.encode()


HEAD_ROWS = [
    pytest.param(size, padded, byte_by_byte, status, id=f"{QUOTAS}: {size} bytes, {how}, {padded}")
    for size, status in ((HEAD_QUOTA_BYTES, 200), (HEAD_QUOTA_BYTES + 1, 431))
    for padded in ("query", "header")
    for byte_by_byte, how in ((False, "one write"), (True, "byte by byte"))
]


@pytest.mark.parametrize(("size", "padded", "byte_by_byte", "status"), HEAD_ROWS)
def test_request_line_and_header_values_quota(
    server: DevProcess, size: int, padded: str, byte_by_byte: bool, status: int
) -> None:
    """Up to 10240 bytes pass, whatever the packet boundaries; one more is refused.

    AWS's table gives the limit, not the answer: HTTP API's refusal is reported as 431
    Request Header Fields Too Large, which is what `draht dev` answers, in HTTP API's
    `{"message": …}` shape.
    """
    answer = server.exchange(_head_of_size(size, padded), byte_by_byte=byte_by_byte)
    code, body = status_and_json(answer)
    assert code == status, answer[:200]
    if status == 431:
        assert body == {"message": "Request Header Fields Too Large"}
    else:
        assert body["event"]["routeKey"] == "GET /echo"


def test_payload_quota_10_mb_arrives_whole(server: DevProcess) -> None:
    """QUOTAS, row "Payload size", 10 MB: a body of exactly the quota reaches the function."""
    body = bytes(range(256)) * (PAYLOAD_QUOTA_BYTES // 256)
    reply = server.request(
        "/upload", method="POST", body=body, headers=[("content-type", "application/octet-stream")]
    )
    assert (reply.status, json.loads(reply.body)) == (200, {"bytes": PAYLOAD_QUOTA_BYTES})


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_payload_quota_one_byte_more_is_413(server: DevProcess, framing: str) -> None:
    """QUOTAS, row "Payload size", 10 MB: one byte more is HTTP API's 413, declared or chunked."""
    head = "POST /upload HTTP/1.1\r\nhost: 127.0.0.1\r\n"
    if framing == "content-length":
        # Refused on the declaration alone, before a byte of the body.
        request = f"{head}content-length: {PAYLOAD_QUOTA_BYTES + 1}\r\n\r\n".encode()
    else:
        chunk = b"a" * (PAYLOAD_QUOTA_BYTES + 1)
        request = (
            f"{head}transfer-encoding: chunked\r\n\r\n{len(chunk):x}\r\n".encode()
            + chunk
            + b"\r\n0\r\n\r\n"
        )
    code, body = status_and_json(server.exchange(request))
    assert (code, body) == (413, {"message": "Request Entity Too Large"})


# Lambda function response for format 2.0 -----------------------------------------------------

# "Lambda function response for format 2.0", the table of function outputs and their
# interpretation, one case per row:
# https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html
PAYLOAD_2_0_RESPONSE_TABLE = [
    pytest.param(
        "Hello from Lambda!",
        200,
        [("content-type", "application/json")],
        b"Hello from Lambda!",
        id="a string is the body as it is",
    ),
    pytest.param(
        {"message": "Hello from Lambda!"},
        200,
        [("content-type", "application/json")],
        b'{"message": "Hello from Lambda!"}',
        id="an object without statusCode is the JSON body",
    ),
    # The section's own example of a response the function describes in full.
    pytest.param(
        {
            "cookies": ["cookie1", "cookie2"],
            "isBase64Encoded": False,
            "statusCode": 200,
            "headers": {"headerName": "headerValue"},
            "body": "Hello from Lambda!",
        },
        200,
        [("headername", "headerValue"), ("set-cookie", "cookie1"), ("set-cookie", "cookie2")],
        b"Hello from Lambda!",
        id="a result with statusCode describes the response",
    ),
]


@pytest.mark.parametrize(("result", "status", "headers", "body"), PAYLOAD_2_0_RESPONSE_TABLE)
def test_payload_2_0_response_table(
    result: Any, status: int, headers: list[tuple[str, str]], body: bytes
) -> None:
    response = http_response(result)
    assert (response.status, response.headers, response.body) == (status, headers, body)


# Maximum integration timeout ----------------------------------------------------------------


def test_maximum_integration_timeout_is_the_documented_30_s() -> None:
    """QUOTAS, row "Maximum integration timeout": 30 seconds, not adjustable."""
    assert INTEGRATION_TIMEOUT_S == INTEGRATION_TIMEOUT_QUOTA_S


def _handle_all(function_timeout_s: int, integration_timeout_s: float, *targets: str) -> Any:
    """Each target through one in-process runtime of the test app, in turn; their outcomes
    and how long each took. The integration timeout is scaled down so the case runs in
    seconds; the rule is the same at 30 s."""
    deployment = Deployment(
        app=test_app,
        handlers_dir=TEST_HANDLERS,
        settings=Settings("dev", timeout_s=function_timeout_s),
        store_endpoint="http://127.0.0.1:9",
        table_arns={},
    )

    async def scenario() -> list[tuple[Outcome, float]]:
        runtime = Runtime(deployment, integration_timeout_s=integration_timeout_s)
        results = []
        try:
            for target in targets:
                if target == "pause":
                    await asyncio.sleep(function_timeout_s)
                    continue
                started = time.monotonic()
                outcome = await runtime.handle(HttpRequest("GET", target))
                results.append((outcome, time.monotonic() - started))
        finally:
            runtime.close()
        return results

    # A loop of its own: asyncio.run would leave the thread without one, which the Pulumi
    # mocks of later tests expect to find.
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(scenario())
    finally:
        loop.close()


def test_a_function_slower_than_the_integration_timeout_is_a_503_and_runs_on() -> None:
    """QUOTAS, row "Maximum integration timeout": HTTP API stops waiting and answers
    `503 {"message":"Service Unavailable"}`; the function itself runs on to its own
    timeout, so its worker is free (warm) afterwards."""
    (cut, cut_s), (after, _) = _handle_all(
        4, 1.0, "/sleeps?seconds=2", "pause", "/sleeps?seconds=0"
    )
    assert cut.response.status == 503
    assert json.loads(cut.response.body) == {"message": "Service Unavailable"}
    assert 1.0 <= cut_s < 2.0
    assert after.response.status == 200
    assert after.cold is False


def test_a_function_timing_out_within_the_integration_timeout_is_a_500() -> None:
    """QUOTAS, row "Maximum integration timeout": a function whose own timeout is shorter
    fails first, and HTTP API answers a Lambda failure, 500."""
    ((timed_out, elapsed_s),) = _handle_all(1, 5.0, "/sleeps?seconds=4")
    assert timed_out.response.status == 500
    assert json.loads(timed_out.response.body) == {"message": "Internal Server Error"}
    assert elapsed_s < 4


# Route throttling ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("arrivals", "admitted"),
    [
        pytest.param([0.0] * 5, [True] * 3 + [False] * 2, id=f"{THROTTLING}: burst, then 429"),
        pytest.param(
            [0.0, 0.0, 0.0, 0.5, 1.0, 1.0],
            [True, True, True, False, True, False],
            id=f"{THROTTLING}: one token a second at rate 1",
        ),
        pytest.param(
            [0.0] * 3 + [100.0] * 4,
            [True] * 3 + [True] * 3 + [False],
            id=f"{THROTTLING}: the bucket refills up to the burst only",
        ),
    ],
)
def test_token_bucket(arrivals: list[float], admitted: list[bool]) -> None:
    bucket = TokenBucket(rate=THROTTLING_RATE, burst=THROTTLING_BURST)
    assert [bucket.admit(now) for now in arrivals] == admitted


@pytest.fixture
def throttled_server(tmp_path: Path) -> Iterator[DevProcess]:
    config = stack_config(
        tmp_path, {"throttlingRate": THROTTLING_RATE, "throttlingBurst": THROTTLING_BURST}
    )
    with DevProcess(_test_app_args(tmp_path, config)) as process:
        yield process


def test_route_throttling_past_the_burst_is_429_then_recovers(
    throttled_server: DevProcess,
) -> None:
    """THROTTLING: the stack's `throttlingBurst` requests pass at once, the next ones get
    HTTP API's `429 {"message":"Too Many Requests"}`, and after 1/`throttlingRate` seconds
    a request passes again."""
    throttled_server.wait_for(
        rf"^gateway {THROTTLING_RATE} requests/s, burst {THROTTLING_BURST} per route;"
    )
    started = time.monotonic()
    replies = [throttled_server.request("/echo") for _ in range(THROTTLING_BURST + 3)]
    elapsed = time.monotonic() - started
    statuses = [reply.status for reply in replies]
    assert statuses[:THROTTLING_BURST] == [200] * THROTTLING_BURST
    refilled = int(elapsed * THROTTLING_RATE)
    assert statuses.count(429) >= 3 - refilled >= 1, statuses
    throttled = next(reply for reply in replies if reply.status == 429)
    assert json.loads(throttled.body) == {"message": "Too Many Requests"}
    assert throttled.headers["content-type"] == "application/json"
    time.sleep(1.2 / THROTTLING_RATE)
    assert throttled_server.request("/echo").status == 200
    throttled_server.wait_for(r"^GET /echo 429 ")
