"""`draht dev` authorizes protected routes as HTTP API does, end to end over HTTP.

The rules themselves are tested one by one in test_auth_rules.py; here a real
server answers requests signed by botocore's signer (through `Caller`), unsigned,
tampered and stale ones, and bearer tokens of the local issuer. Sources:

- unsigned, mismatched and stale SigV4: https://repost.aws/knowledge-center/api-gateway-iam-sigv4-mismatch
  and https://docs.aws.amazon.com/IAM/latest/UserGuide/signature-v4-troubleshooting.html
- JWT: https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-jwt-authorizer.html
  and https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-troubleshooting-jwt.html
- the event's `requestContext.authorizer`: the payload 2.0 format of
  https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html
  and Powertools' `RequestContextV2AuthorizerIam` / `RequestContextV2AuthorizerJwt`.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from dev_process import TEST_APP, DevProcess, run_draht, serve_test_app

from draht.local.jwt import sign
from draht.local.keys import local_credentials, local_issuer

ISSUER = "https://issuer.example.com/pool"
# Powertools' RequestContextV2AuthorizerIam has exactly these fields.
IAM_FIELDS = {
    "accessKey",
    "accountId",
    "callerId",
    "cognitoIdentity",
    "principalOrgId",
    "userArn",
    "userId",
}


def _json(body: bytes) -> Any:
    return json.loads(body)


@pytest.fixture(scope="module")
def iam_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevProcess]:
    server = serve_test_app(None, tmp_path_factory.mktemp("iam"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def jwt_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("jwt-config") / "Pulumi.jwt.yaml"
    path.write_text(
        f"config:\n  draht:auth: jwt\n  draht:jwtIssuer: {ISSUER}\n  draht:jwtAudience: web, cli\n"
    )
    return path


@pytest.fixture(scope="module")
def jwt_server(tmp_path_factory: pytest.TempPathFactory, jwt_config: Path) -> Iterator[DevProcess]:
    server = serve_test_app(jwt_config, tmp_path_factory.mktemp("jwt"))
    yield server
    server.stop()


def _data_dir(server: DevProcess) -> Path:
    return Path(server.args[server.args.index("--data-dir") + 1])


# iam ----------------------------------------------------------------------------------------


def test_a_botocore_signed_request_reaches_the_function_with_its_iam_identity(
    iam_server: DevProcess,
) -> None:
    reply = iam_server.request("/items/42?x=a%20b")
    assert reply.status == 200
    event = _json(reply.body)["event"]
    credentials = local_credentials(_data_dir(iam_server))
    iam = event["requestContext"]["authorizer"]["iam"]
    assert set(iam) == IAM_FIELDS
    assert iam == {
        "accessKey": credentials.access_key,
        "accountId": "000000000000",
        "callerId": credentials.user_id,
        "cognitoIdentity": None,
        "principalOrgId": None,
        "userArn": "arn:aws:iam::000000000000:user/draht-local",
        "userId": credentials.user_id,
    }
    assert set(event["requestContext"]["authorizer"]) == {"iam"}
    # HTTP API passes the signature's headers on to the function.
    assert event["headers"]["authorization"].startswith("AWS4-HMAC-SHA256 Credential=")
    assert "x-amz-date" in event["headers"]


def test_an_unsigned_request_is_forbidden_before_the_function_runs(iam_server: DevProcess) -> None:
    reply = iam_server.request("/items/unsigned", sign=False)
    assert (reply.status, _json(reply.body)) == (403, {"message": "Forbidden"})
    assert "x-amzn-errortype" not in reply.headers
    iam_server.wait_for(r"^GET /items/unsigned 403 - - [\d.]+ ms$")


def test_a_tampered_request_is_a_signature_mismatch(iam_server: DevProcess) -> None:
    target, headers = iam_server.signed("GET", "/items/1?limit=1")
    reply = iam_server.request(target.replace("limit=1", "limit=2"), headers=headers, sign=False)
    assert reply.status == 403
    assert reply.headers["x-amzn-errortype"] == "InvalidSignatureException"
    assert _json(reply.body)["message"].startswith(
        "The request signature we calculated does not match the signature you provided."
    )


def test_a_stale_request_has_expired(iam_server: DevProcess) -> None:
    six_minutes_ago = datetime.now(UTC) - timedelta(minutes=6)
    with mock.patch("botocore.auth.get_current_datetime", return_value=six_minutes_ago):
        target, headers = iam_server.signed("GET", "/items/1")
    reply = iam_server.request(target, headers=headers, sign=False)
    assert reply.status == 403
    assert reply.headers["x-amzn-errortype"] == "InvalidSignatureException"
    message = _json(reply.body)["message"]
    assert message.startswith(f"Signature expired: {six_minutes_ago:%Y%m%dT%H%M%SZ} is now")
    assert message.endswith(" - 5 min.)")


def test_a_public_route_needs_no_signature(iam_server: DevProcess) -> None:
    reply = iam_server.request("/echo", sign=False)
    assert reply.status == 200
    assert "authorizer" not in _json(reply.body)["event"]["requestContext"]


def test_a_signed_post_covers_its_body(iam_server: DevProcess) -> None:
    headers = [("content-type", "application/json")]
    reply = iam_server.request("/echo", "POST", headers, b'{"n": 1}')
    assert reply.status == 200
    assert _json(reply.body)["event"]["body"] == '{"n": 1}'
    target, signed = iam_server.signed("POST", "/echo", headers, b'{"n": 1}')
    forged = iam_server.request(target, "POST", signed, b'{"n": 2}', sign=False)
    assert forged.headers["x-amzn-errortype"] == "InvalidSignatureException"


# jwt ----------------------------------------------------------------------------------------


def _token(server: DevProcess, **claims: Any) -> str:
    issuer = local_issuer(_data_dir(server))
    now = int(time.time())
    base: dict[str, Any] = {"iss": ISSUER, "aud": "web", "sub": "dev", "iat": now, "exp": now + 60}
    return sign({**base, **claims}, issuer.private_key, issuer.kid)


def _bearer(server: DevProcess, path: str, token: str) -> Any:
    return server.request(path, headers=[("authorization", f"Bearer {token}")], sign=False)


def test_a_draht_token_reaches_the_function_with_its_claims(
    jwt_server: DevProcess, jwt_config: Path
) -> None:
    made = run_draht(
        "token",
        "--app",
        TEST_APP,
        "--stack-config",
        str(jwt_config),
        "--data-dir",
        str(_data_dir(jwt_server)),
        "--subject",
        "alice",
    )
    assert made.returncode == 0, made.stderr
    reply = _bearer(jwt_server, "/scoped", made.stdout.strip())
    assert reply.status == 200
    authorizer = _json(reply.body)["event"]["requestContext"]["authorizer"]
    assert set(authorizer) == {"jwt"}
    claims = authorizer["jwt"]["claims"]
    assert (claims["iss"], claims["aud"], claims["sub"], claims["scope"]) == (
        ISSUER,
        "web",
        "alice",
        "echo.read",
    )
    assert claims["exp"].isdigit() and int(claims["exp"]) - int(claims["iat"]) == 3600
    assert authorizer["jwt"]["scopes"] == ["echo.read"]
    # A route without scopes gets `scopes: null`.
    plain = _json(_bearer(jwt_server, "/items/1", made.stdout.strip()).body)
    assert plain["event"]["requestContext"]["authorizer"]["jwt"]["scopes"] is None


@pytest.mark.parametrize(
    ("claims", "description"),
    [
        ({"exp": int(time.time()) - 10}, "the token has expired"),
        ({"aud": "mobile"}, "the token does not have a valid audience"),
        ({"iss": "https://other.example.com"}, "the token does not have a valid issuer"),
    ],
)
def test_a_token_http_api_would_refuse_is_401(
    jwt_server: DevProcess, claims: dict[str, Any], description: str
) -> None:
    reply = _bearer(jwt_server, "/items/1", _token(jwt_server, **claims))
    assert (reply.status, _json(reply.body)) == (401, {"message": "Unauthorized"})
    assert reply.headers["www-authenticate"] == (
        f'Bearer scope="" error="invalid_token" error_description="{description}"'
    )


def test_a_missing_token_is_401(jwt_server: DevProcess) -> None:
    reply = jwt_server.request("/items/1", sign=False)
    assert (reply.status, _json(reply.body)) == (401, {"message": "Unauthorized"})


def test_a_token_without_the_routes_scope_is_403(jwt_server: DevProcess) -> None:
    reply = _bearer(jwt_server, "/scoped", _token(jwt_server, scope="other"))
    assert (reply.status, _json(reply.body)) == (403, {"message": "Forbidden"})
    assert reply.headers["www-authenticate"].startswith(
        'Bearer scope="echo.read" error="insufficient_scope"'
    )
    # The same token passes a route that asks for no scope.
    assert _bearer(jwt_server, "/items/1", _token(jwt_server, scope="other")).status == 200


def test_the_banner_names_the_jwt_routes_and_the_local_issuer(jwt_server: DevProcess) -> None:
    jwt_server.wait_for(
        r"GET /scoped\s+-> Echo\s+-> Sessions \(Query\)\s+\[jwt auth, scopes echo\.read\]"
    )
    jwt_server.wait_for(rf"^auth\s+\d+ protected route\(s\) need a bearer token for {ISSUER}")


# --no-auth ----------------------------------------------------------------------------------


def test_no_auth_serves_protected_routes_open_and_says_so(tmp_path: Path) -> None:
    server = serve_test_app(None, tmp_path, "--no-auth")
    try:
        server.wait_for(r"GET /items/\{itemId\}\s+-> Echo\s+-> .*\[iam auth on AWS, none here\]$")
        server.wait_for(
            r"^auth\s+--no-auth: \d+ protected route\(s\) served without auth here \(on AWS: iam\)"
        )
        reply = server.request("/items/1", sign=False)
        assert reply.status == 200
        assert "authorizer" not in _json(reply.body)["event"]["requestContext"]
        assert not (tmp_path / "credentials").exists()
    finally:
        server.stop()


def test_no_auth_on_a_non_loopback_host_warns(tmp_path: Path) -> None:
    server = serve_test_app(None, tmp_path, "--host", "0.0.0.0", "--no-auth")
    try:
        # Printed before the banner, so among the lines read while the server started.
        assert server.output.startswith(
            "draht dev: warning: --no-auth on --host 0.0.0.0: anyone who can reach this address"
        )
        assert server.request("/items/1", sign=False).status == 200
    finally:
        server.stop()


def test_auth_on_a_non_loopback_host_needs_no_warning(tmp_path: Path) -> None:
    server = serve_test_app(None, tmp_path, "--host", "0.0.0.0")
    try:
        server.wait_for(r"^reload\s")
        assert "warning" not in server.output
    finally:
        server.stop()


# draht call ---------------------------------------------------------------------------------


def _call(server: DevProcess, *args: str) -> subprocess.CompletedProcess[str]:
    return run_draht("call", *args, "--app", TEST_APP, "--data-dir", str(_data_dir(server)))


def test_draht_call_signs_and_exits_by_the_answer(iam_server: DevProcess) -> None:
    ok = _call(iam_server, "GET /items/7?q=a%20b+c&r=%2B")
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith("HTTP 200\n")
    body = json.loads(ok.stdout.split("\n\n", 1)[1])
    assert body["event"]["queryStringParameters"] == {"q": "a b c", "r": "+"}
    assert body["event"]["requestContext"]["authorizer"]["iam"]["userArn"].endswith(
        ":user/draht-local"
    )
    unsigned = _call(iam_server, "GET /items/7", "--unsigned")
    assert (unsigned.returncode, unsigned.stdout.splitlines()[0]) == (4, "HTTP 403")
    assert _call(iam_server, "GET /nowhere").returncode == 4
    failed = _call(iam_server, "GET /fails")
    assert (failed.returncode, failed.stdout.splitlines()[0]) == (5, "HTTP 500")


def test_draht_call_attaches_a_token_for_jwt(jwt_server: DevProcess, jwt_config: Path) -> None:
    called = _call(jwt_server, "GET /scoped", "--stack-config", str(jwt_config))
    assert called.returncode == 0, called.stdout
    jwt = json.loads(called.stdout.split("\n\n", 1)[1])["event"]["requestContext"]["authorizer"]
    assert jwt["jwt"]["scopes"] == ["echo.read"]


def test_draht_call_without_a_server_or_with_a_bad_request_says_why(tmp_path: Path) -> None:
    nobody = run_draht("call", "GET /health", "--data-dir", str(tmp_path))
    assert nobody.returncode == 1
    assert "no draht dev is running on the data folder" in nobody.stderr
    bad = run_draht("call", "GET health", "--data-dir", str(tmp_path))
    assert bad.returncode == 2
    assert "must look like" in bad.stderr


def test_draht_token_needs_jwt_auth(tmp_path: Path) -> None:
    refused = run_draht("token", "--data-dir", str(tmp_path))
    assert refused.returncode == 2
    assert "tokens are for jwt auth" in refused.stderr
