"""`draht dev`'s CORS answers over HTTP, as HTTP API gives them when CORS is configured.

AWS, "Configuring CORS for an HTTP API",
https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-cors.html:
API Gateway answers preflight OPTIONS requests itself, even with no OPTIONS route; it
returns CORS headers only to a request with an `origin` header (and, for OPTIONS, an
`Access-Control-Request-Method` header); it adds the configured CORS headers to the
integration's response and ignores the CORS headers the integration returns.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from dev_process import DevProcess, serve_test_app

from draht.cors import Cors
from draht.local.cors import allowed_origin

ORIGIN = "https://app.example.com"
ALLOW_HEADERS = (
    "authorization,content-type,if-match,x-amz-content-sha256,x-amz-date,x-amz-security-token"
)


def serve(tmp_path_factory: pytest.TempPathFactory, config: str) -> DevProcess:
    folder = tmp_path_factory.mktemp("cors")
    stack_config = folder / "Pulumi.test.yaml"
    stack_config.write_text(f"config:\n{config}")
    return serve_test_app(stack_config, folder / "data")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevProcess]:
    running = serve(tmp_path_factory, f"  draht:corsOrigins: {ORIGIN}, http://localhost:5173\n")
    yield running
    running.stop()


def preflight(server: DevProcess, path: str, method: str = "POST", **extra: str) -> dict[str, str]:
    headers = [("origin", extra.pop("origin", ORIGIN)), ("access-control-request-method", method)]
    headers += [(name.replace("_", "-"), value) for name, value in extra.items()]
    reply = server.request(path, method="OPTIONS", headers=headers)
    assert (reply.status, reply.body) == (204, b"")
    return {k: v for k, v in reply.headers.items() if k.startswith("access-control-")}


def cors_headers(headers: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k.startswith("access-control-")}


PREFLIGHT_ANSWER = {
    "access-control-allow-origin": ORIGIN,
    "access-control-allow-methods": "GET,POST",
    "access-control-allow-headers": ALLOW_HEADERS,
    "access-control-max-age": "600",
}


def test_the_banner_names_the_allowed_origins(server: DevProcess) -> None:
    assert f"\ncors    {ORIGIN}, http://localhost:5173\n" in server.output + "\n"


def test_a_preflight_is_answered_with_204_and_the_configuration(server: DevProcess) -> None:
    assert preflight(server, "/echo") == PREFLIGHT_ANSWER


def test_a_preflight_is_answered_for_a_path_no_route_serves(server: DevProcess) -> None:
    assert preflight(server, "/nowhere/at/all", method="GET") == PREFLIGHT_ANSWER


def test_a_preflight_never_reaches_a_function(server: DevProcess) -> None:
    preflight(server, "/echo")
    server.wait_for(r"^OPTIONS /echo 204 - - [\d.]+ ms$")


def test_a_preflight_may_name_allowed_headers_in_any_case(server: DevProcess) -> None:
    answer = preflight(server, "/echo", access_control_request_headers="Authorization, If-Match")
    assert answer == PREFLIGHT_ANSWER


def test_a_preflight_from_another_origin_gets_no_cors_headers(server: DevProcess) -> None:
    assert preflight(server, "/echo", origin="https://evil.example.net") == {}


def test_a_preflight_for_an_undeclared_method_gets_no_cors_headers(server: DevProcess) -> None:
    assert preflight(server, "/echo", method="DELETE") == {}


def test_a_preflight_asking_for_another_header_gets_no_cors_headers(server: DevProcess) -> None:
    assert preflight(server, "/echo", access_control_request_headers="x-custom") == {}


def test_options_without_a_request_method_is_routed_and_finds_no_route(server: DevProcess) -> None:
    reply = server.request("/echo", method="OPTIONS", headers=[("origin", ORIGIN)])
    assert (reply.status, reply.body) == (404, b'{"message":"Not Found"}')


def test_a_cors_request_gets_the_allowed_origin_and_the_exposed_headers(
    server: DevProcess,
) -> None:
    reply = server.request("/shape?kind=plain", headers=[("origin", ORIGIN)])
    assert reply.status == 200
    assert cors_headers(reply.headers) == {
        "access-control-allow-origin": ORIGIN,
        "access-control-expose-headers": "etag,location",
    }


def test_each_configured_origin_is_answered_with_itself(server: DevProcess) -> None:
    reply = server.request("/shape", headers=[("origin", "http://localhost:5173")])
    assert reply.headers["access-control-allow-origin"] == "http://localhost:5173"


def test_a_request_without_origin_gets_no_cors_headers(server: DevProcess) -> None:
    reply = server.request("/shape?kind=plain")
    assert reply.status == 200
    assert cors_headers(reply.headers) == {}


def test_a_request_from_another_origin_gets_no_cors_headers(server: DevProcess) -> None:
    reply = server.request("/shape?kind=plain", headers=[("origin", "https://evil.example.net")])
    assert reply.status == 200
    assert cors_headers(reply.headers) == {}


def test_cors_headers_of_the_function_are_replaced_by_the_configured_ones(
    server: DevProcess,
) -> None:
    reply = server.request("/shape?kind=cors", headers=[("origin", ORIGIN)])
    assert cors_headers(reply.headers) == {
        "access-control-allow-origin": ORIGIN,
        "access-control-expose-headers": "etag,location",
    }


def test_without_cors_origins_a_preflight_is_an_unrouted_request(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    plain = serve(tmp_path_factory, "  draht:timeout: 5\n")
    try:
        reply = plain.request(
            "/echo",
            method="OPTIONS",
            headers=[("origin", ORIGIN), ("access-control-request-method", "POST")],
        )
        assert (reply.status, reply.body) == (404, b'{"message":"Not Found"}')
        echoed = plain.request("/shape?kind=cors", headers=[("origin", ORIGIN)])
        assert echoed.headers["access-control-allow-origin"] == "*"
    finally:
        plain.stop()


@pytest.mark.parametrize(
    ("configured", "origin", "answer"),
    [
        (("https://app.example.com",), "https://app.example.com", "https://app.example.com"),
        (("https://app.example.com",), "https://app.example.com:8443", None),
        (("https://app.example.com",), "http://app.example.com", None),
        (("*",), "https://anything.example", "*"),
        (("https://*",), "https://anything.example", "https://anything.example"),
        (("https://*",), "http://anything.example", None),
    ],
)
def test_allowed_origin_follows_api_gateways_origin_forms(
    configured: tuple[str, ...], origin: str, answer: str | None
) -> None:
    cors = Cors(allow_origins=configured, allow_methods=("GET",))
    assert allowed_origin(cors, origin) == answer
