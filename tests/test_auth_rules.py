"""HTTP API's IAM (SigV4) and JWT authorizer rules, as pure functions, against AWS's references.

Signatures come from botocore's own signer (`SigV4Auth`), not from the verifier's
code; tokens from `cryptography` with the local issuer's key. Each answer cites
the AWS page it comes from:

- SIGV4_SIGNING: https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html
- SIGV4_ERRORS: https://docs.aws.amazon.com/IAM/latest/UserGuide/signature-v4-troubleshooting.html
- APIGW_SIGV4: https://repost.aws/knowledge-center/api-gateway-iam-sigv4-mismatch
- JWT_FLOW: https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-jwt-authorizer.html
  ("Authorizing API requests with a JWT authorizer")
- JWT_401: https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-troubleshooting-jwt.html
"""

from __future__ import annotations

import json
import stat
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import hypothesis
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from hypothesis import strategies as st

from draht.local import jwt, sigv4
from draht.local.auth import (
    IamAuthorizer,
    JwtAuthorizer,
    dev_token_claims,
    local_authorizer,
    route_label,
    summary,
)
from draht.local.caller import Caller, strict_query
from draht.local.events import HttpRequest, HttpResponse
from draht.local.keys import LocalIssuer, local_credentials, local_issuer
from draht.model import App, Function, Route
from draht.settings import Settings

ACCESS_KEY = "AKIAIOSFODNN7EXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
SECRETS = {ACCESS_KEY: SECRET}
REGION = "us-east-1"
SIGNED_AT = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
HOST = "127.0.0.1:3000"


def botocore_signed(
    method: str = "GET",
    target: str = "/sessions?clientId=acme&limit=5",
    headers: Sequence[tuple[str, str]] = (),
    body: bytes = b"",
    *,
    access_key: str = ACCESS_KEY,
    secret: str = SECRET,
    region: str = REGION,
    service: str = "execute-api",
    when: datetime = SIGNED_AT,
) -> sigv4.Request:
    """A request as botocore's SigV4 signer signs it, at `when`."""
    request = AWSRequest(method=method, url=f"http://{HOST}{target}", data=body)
    request.headers["host"] = HOST
    for name, value in headers:
        request.headers[name] = value
    with mock.patch("botocore.auth.get_current_datetime", return_value=when):
        SigV4Auth(Credentials(access_key, secret), service, region).add_auth(request)
    return sigv4.Request(method, target, list(request.headers.items()), body)


def verify(request: sigv4.Request, now: datetime = SIGNED_AT) -> sigv4.Signed | sigv4.Rejection:
    return sigv4.verify(request, SECRETS, REGION, now)


def with_headers(request: sigv4.Request, **changes: str) -> sigv4.Request:
    names = {name.lower().replace("_", "-"): value for name, value in changes.items()}
    kept = [(n, v) for n, v in request.headers if n.lower() not in names]
    return sigv4.Request(request.method, request.target, [*kept, *names.items()], request.body)


def authorization(request: sigv4.Request) -> str:
    return next(v for n, v in request.headers if n.lower() == "authorization")


_SCOPED_ROUTE = Route("GET /scoped", Function("Echo", "echo.handler"), scopes=("echo.read",))
_SCOPED_APP = App("drahttest", (), (_SCOPED_ROUTE,))

MISMATCH = (
    "The request signature we calculated does not match the signature you provided."
    " Check your AWS Secret Access Key and signing method."
)


# SigV4: what verifies -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "target", "headers", "body"),
    [
        ("GET", "/sessions?clientId=acme&limit=5", (), b""),
        ("GET", "/health", (), b""),
        # Escapes, reserved characters, repeated and empty parameters, unsorted keys.
        ("GET", "/items/a%20b?z=1&a=%2B%3D&a=0&empty=&flag", (), b""),
        # Dot segments and doubled slashes are normalized before the path is encoded again.
        ("GET", "/files/./x//y/../z.txt", (), b""),
        ("POST", "/echo", [("content-type", "application/json")], b'{"a": 1}'),
        # A repeated header is signed with its values joined, spaces trimmed.
        ("GET", "/echo", [("x-tag", "one"), ("x-tag", "  two   words ")], b""),
    ],
)
def test_a_request_signed_by_botocore_verifies(
    method: str, target: str, headers: Sequence[tuple[str, str]], body: bytes
) -> None:
    # SIGV4_SIGNING: canonical request, string to sign, derived key, as botocore computes them.
    request = botocore_signed(method, target, headers, body)
    assert verify(request) == sigv4.Signed(ACCESS_KEY)


def test_a_header_added_after_signing_is_not_covered() -> None:
    # SIGV4_SIGNING: only the headers named in SignedHeaders enter the signature.
    request = botocore_signed()
    assert verify(with_headers(request, x_forwarded_for="10.0.0.1")) == sigv4.Signed(ACCESS_KEY)


def test_the_clock_may_be_five_minutes_off_either_way() -> None:
    # APIGW_SIGV4 / SIGV4_ERRORS: "Signature expired … - 5 min."; the boundary itself is valid.
    request = botocore_signed()
    assert verify(request, SIGNED_AT + timedelta(minutes=5)) == sigv4.Signed(ACCESS_KEY)
    assert verify(request, SIGNED_AT - timedelta(minutes=5)) == sigv4.Signed(ACCESS_KEY)


# SigV4: what HTTP API answers instead ---------------------------------------------------------


def test_an_unsigned_request_is_forbidden() -> None:
    # HTTP API answers 403 {"message":"Forbidden"} to a request without a signature on an
    # AWS_IAM route (REST APIs say "Missing Authentication Token" instead, APIGW_SIGV4).
    unsigned = sigv4.Request("GET", "/sessions", [("host", HOST)], b"")
    assert verify(unsigned) == sigv4.Rejection("Forbidden", None)


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(
            lambda r: sigv4.Request(r.method, "/sessions?clientId=other", r.headers, r.body),
            id="query",
        ),
        pytest.param(lambda r: sigv4.Request(r.method, "/clients", r.headers, r.body), id="path"),
        pytest.param(lambda r: sigv4.Request("POST", r.target, r.headers, r.body), id="method"),
        pytest.param(lambda r: sigv4.Request(r.method, r.target, r.headers, b"x"), id="payload"),
        pytest.param(lambda r: with_headers(r, host="evil.example.com"), id="signed-header"),
        pytest.param(
            lambda r: with_headers(r, authorization=authorization(r)[:-1] + "0"), id="signature"
        ),
    ],
)
def test_a_tampered_request_is_a_signature_mismatch(tamper: Any) -> None:
    # APIGW_SIGV4 "Resolve signature mismatch": 403, InvalidSignatureException, and the
    # canonical request and string to sign the service computed (SIGV4_ERRORS).
    rejection = verify(tamper(botocore_signed(body=b"")))
    assert isinstance(rejection, sigv4.Rejection)
    assert rejection.error_type == "InvalidSignatureException"
    assert rejection.message.startswith(MISMATCH)
    assert "The Canonical String for this request should have been" in rejection.message


def test_a_payload_hash_covers_the_body_received() -> None:
    request = botocore_signed("POST", "/echo", [("content-type", "text/plain")], b"signed body")
    assert verify(request) == sigv4.Signed(ACCESS_KEY)
    changed = sigv4.Request(request.method, request.target, request.headers, b"signed bodY")
    assert isinstance(verify(changed), sigv4.Rejection)


def test_a_wrong_secret_is_a_signature_mismatch() -> None:
    rejection = verify(botocore_signed(secret="not-the-secret"))
    assert isinstance(rejection, sigv4.Rejection)
    assert rejection.message.startswith(MISMATCH)


@pytest.mark.parametrize(
    "request_",
    [
        pytest.param(botocore_signed(access_key="AKIAUNKNOWNKEY000000"), id="unknown-key"),
        pytest.param(
            with_headers(botocore_signed(), x_amz_security_token="FwoGZXIvYXdzEXAMPLE"),
            id="session-token",
        ),
    ],
)
def test_an_unknown_key_is_an_invalid_security_token(request_: sigv4.Request) -> None:
    # APIGW_SIGV4 "Verify IAM credentials".
    assert verify(request_) == sigv4.Rejection(
        "The security token included in the request is invalid.", "UnrecognizedClientException"
    )


def test_a_stale_request_has_expired() -> None:
    # SIGV4_ERRORS "Signature expired: date is now earlier than date", with API Gateway's
    # five minutes (APIGW_SIGV4).
    now = SIGNED_AT + timedelta(minutes=5, seconds=1)
    assert verify(botocore_signed(), now) == sigv4.Rejection(
        "Signature expired: 20260301T120000Z is now earlier than 20260301T120001Z"
        " (20260301T120501Z - 5 min.)",
        "InvalidSignatureException",
    )


def test_a_request_from_the_future_is_not_yet_current() -> None:
    # SIGV4_ERRORS "Signature not yet current: date is still later than date".
    now = SIGNED_AT - timedelta(minutes=5, seconds=1)
    assert verify(botocore_signed(), now) == sigv4.Rejection(
        "Signature not yet current: 20260301T120000Z is still later than 20260301T115959Z"
        " (20260301T115459Z + 5 min.)",
        "InvalidSignatureException",
    )


@pytest.mark.parametrize(
    ("signed", "message"),
    [
        (
            {"region": "eu-west-1"},
            "Credential should be scoped to a valid region, not 'eu-west-1'. ",
        ),
        ({"service": "lambda"}, "Credential should be scoped to correct service: 'execute-api'. "),
    ],
)
def test_a_credential_scoped_elsewhere_is_refused(signed: dict[str, str], message: str) -> None:
    # SIGV4_ERRORS "Credential scope errors": Region and Service.
    request = botocore_signed(
        region=signed.get("region", REGION), service=signed.get("service", "execute-api")
    )
    assert verify(request) == sigv4.Rejection(message, "InvalidSignatureException")


def test_a_credential_scope_dated_another_day_is_refused() -> None:
    # SIGV4_ERRORS "Credential scope errors": Date.
    request = botocore_signed()
    header = authorization(request).replace("/20260301/", "/20260302/")
    assert verify(with_headers(request, authorization=header)) == sigv4.Rejection(
        "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from"
        " HTTP: '20260302' != '20260301', from '20260301T120000Z'.",
        "InvalidSignatureException",
    )


def test_a_credential_without_the_aws4_request_terminator_is_refused() -> None:
    request = botocore_signed()
    header = authorization(request).replace("/aws4_request", "/aws4_other")
    rejection = verify(with_headers(request, authorization=header))
    assert rejection == sigv4.Rejection(
        "Credential should be scoped with a valid terminator: 'aws4_request', not 'aws4_other'. ",
        "InvalidSignatureException",
    )


def test_the_host_must_be_signed() -> None:
    request = botocore_signed()
    header = authorization(request).replace("SignedHeaders=host;", "SignedHeaders=")
    assert verify(with_headers(request, authorization=header)) == sigv4.Rejection(
        "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.",
        "InvalidSignatureException",
    )


@pytest.mark.parametrize(
    ("header", "missing"),
    [
        ("AWS4-HMAC-SHA256 Credential=x", ["Signature", "SignedHeaders"]),
        ("AWS4-HMAC-SHA256 SignedHeaders=host, Signature=ab", ["Credential"]),
        ("Bearer abc", ["Credential", "Signature", "SignedHeaders"]),
        ("AWS4-HMAC-SHA256 Credential=, SignedHeaders=host, Signature=ab", ["Credential"]),
    ],
)
def test_an_incomplete_authorization_header_names_what_it_lacks(
    header: str, missing: list[str]
) -> None:
    # API Gateway's IncompleteSignatureException: one sentence per missing part, then the header.
    headers = [("host", HOST), ("x-amz-date", "20260301T120000Z"), ("authorization", header)]
    request = sigv4.Request("GET", "/sessions", headers, b"")
    expected = " ".join(f"Authorization header requires '{part}' parameter." for part in missing)
    assert verify(request) == sigv4.Rejection(
        f"{expected} Authorization={header}", "IncompleteSignatureException"
    )


def test_a_signature_without_a_date_is_incomplete() -> None:
    request = botocore_signed()
    undated = [(n, v) for n, v in request.headers if n.lower() != "x-amz-date"]
    rejection = verify(sigv4.Request(request.method, request.target, undated, request.body))
    assert rejection == sigv4.Rejection(
        "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
        f" Authorization={authorization(request)}",
        "IncompleteSignatureException",
    )


def test_each_authorization_part_ends_at_its_first_equals_sign() -> None:
    # A Credential holding "=" is read whole, and so refused for its key, not as missing.
    request = botocore_signed()
    header = authorization(request).replace(f"{ACCESS_KEY}/", f"{ACCESS_KEY}=/")
    rejection = verify(with_headers(request, authorization=header))
    assert isinstance(rejection, sigv4.Rejection)
    assert rejection.error_type != "IncompleteSignatureException"


def test_a_credential_of_fewer_than_five_parts_is_incomplete() -> None:
    request = botocore_signed()
    header = authorization(request).replace(f"{ACCESS_KEY}/", "")
    rejection = verify(with_headers(request, authorization=header))
    assert isinstance(rejection, sigv4.Rejection)
    assert rejection.error_type == "IncompleteSignatureException"
    assert rejection.message.startswith("Credential should have five parts")


def test_the_date_header_serves_when_there_is_no_x_amz_date() -> None:
    # SIGV4_SIGNING: the time comes from X-Amz-Date, or else from Date.
    headers = [("date", "Sun, 01 Mar 2026 12:00:00 GMT")]
    assert sigv4.request_time(headers) == ("20260301T120000Z", SIGNED_AT)
    preferred = sigv4.request_time([("x-amz-date", "20260301T115000Z"), *headers])
    assert preferred is not None and preferred[0] == "20260301T115000Z"
    assert sigv4.request_time([("x-amz-date", "2026-03-01")]) is None
    assert sigv4.request_time([("date", "yesterday")]) is None
    assert sigv4.request_time([("date", "Sun, 01 Mar 2026 12:00:00")]) is None


def test_a_date_header_is_read_in_utc_whatever_the_machines_time_zone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The signed time is UTC (SIGV4_SIGNING "X-Amz-Date"), on a laptop in Berlin too.
    monkeypatch.setenv("TZ", "Europe/Berlin")
    time.tzset()
    try:
        stamp = sigv4.request_time([("date", "Sun, 01 Mar 2026 13:00:00 +0100")])
    finally:
        monkeypatch.undo()
        time.tzset()
    assert stamp == ("20260301T120000Z", SIGNED_AT)


def test_canonical_paths_are_encoded_twice_as_documented() -> None:
    # SIGV4_SIGNING "Canonical URI": every service but S3 encodes each segment twice;
    # the documented example is /documents and settings/ -> /documents%2520and%2520settings/.
    assert sigv4.canonical_path("/documents%20and%20settings/") == (
        "/documents%2520and%2520settings/"
    )
    assert sigv4.canonical_path("") == "/"
    assert sigv4.canonical_path("/a/b/../../..") == "/"
    assert sigv4.canonical_path("/a~b/c") == "/a~b/c"


def test_canonical_queries_are_sorted_and_strictly_encoded() -> None:
    # SIGV4_SIGNING "Canonical query string": sorted by name, then value; only unreserved
    # characters left as they are; a parameter without a value has an empty one.
    assert sigv4.canonical_query("b=2&a=2&a=1&c") == "a=1&a=2&b=2&c="
    assert sigv4.canonical_query("q=a b&r=%7e&s=-_.~") == "q=a%20b&r=~&s=-_.~"
    assert sigv4.canonical_query("&&") == ""
    # "/" is not unreserved, in a name or a value.
    assert sigv4.canonical_query("path=a/b&x/y=1") == "path=a%2Fb&x%2Fy=1"


# JWT ----------------------------------------------------------------------------------------

ISSUER = "https://id.example.com/pool"
AUDIENCES = ("web", "cli")
NOW = 1_780_000_000


@pytest.fixture(scope="module")
def issuer(tmp_path_factory: pytest.TempPathFactory) -> LocalIssuer:
    return local_issuer(tmp_path_factory.mktemp("keys"))


def token(issuer: LocalIssuer, kid: str | None = None, **claims: Any) -> str:
    base: dict[str, Any] = {"iss": ISSUER, "aud": "web", "sub": "u1", "exp": NOW + 60}
    base.update(claims)
    present = {name: value for name, value in base.items() if value is not None}
    return jwt.sign(present, issuer.private_key, kid or issuer.kid)


def validate(
    issuer: LocalIssuer, header: str | None, route_scopes: Sequence[str] = ()
) -> jwt.Grant | jwt.Denial:
    return jwt.validate(
        header, ISSUER, AUDIENCES, route_scopes, {issuer.kid: issuer.public_key}, NOW
    )


def test_a_valid_token_is_granted_with_or_without_bearer(issuer: LocalIssuer) -> None:
    # JWT_FLOW step 1: the identity source holds the token alone or prefixed with "Bearer ".
    signed = token(issuer, scope="a b")
    for header in (signed, f"Bearer {signed}", f"bearer   {signed}"):
        grant = validate(issuer, header)
        assert isinstance(grant, jwt.Grant)
        assert grant.claims["sub"] == "u1"
        assert grant.scopes == ("a", "b")


@pytest.mark.parametrize(
    ("claims", "description"),
    [
        ({"exp": NOW}, "the token has expired"),
        ({"exp": NOW - 3600}, "the token has expired"),
        ({"nbf": NOW + 1}, "the token is not valid yet"),
        ({"iat": NOW + 1}, "the token was issued in the future"),
        ({"iss": "https://other.example.com/pool"}, "the token does not have a valid issuer"),
        ({"iss": None}, "the token does not have a valid issuer"),
        ({"aud": "mobile"}, "the token does not have a valid audience"),
        ({"aud": ["mobile", "tv"]}, "the token does not have a valid audience"),
        ({"aud": None}, "the token does not have a valid audience"),
        # client_id counts only when there is no aud at all.
        ({"aud": "mobile", "client_id": "web"}, "the token does not have a valid audience"),
        ({"aud": [], "client_id": "web"}, "the token does not have a valid audience"),
        ({"exp": "tomorrow"}, "the token's exp, nbf and iat must be numbers"),
        ({"nbf": True}, "the token's exp, nbf and iat must be numbers"),
    ],
)
def test_claims_http_api_checks_deny_with_401(
    issuer: LocalIssuer, claims: dict[str, Any], description: str
) -> None:
    # JWT_FLOW step 4 (iss, aud or client_id, exp, nbf, iat); JWT_401 for the answer.
    assert validate(issuer, token(issuer, **claims)) == jwt.Denial(401, description)


@pytest.mark.parametrize(
    "claims",
    [
        {"aud": ["mobile", "cli"]},
        {"aud": None, "client_id": "cli"},
        {"exp": None, "nbf": NOW, "iat": NOW},
        {"exp": NOW + 1.5},
    ],
)
def test_claims_within_the_rules_are_granted(issuer: LocalIssuer, claims: dict[str, Any]) -> None:
    assert isinstance(validate(issuer, token(issuer, **claims)), jwt.Grant)


def test_the_documented_audience_answer(issuer: LocalIssuer) -> None:
    # JWT_401: the www-authenticate header of a token for another audience, verbatim.
    denial = validate(issuer, token(issuer, aud="mobile"))
    assert isinstance(denial, jwt.Denial)
    assert jwt.www_authenticate(denial, ()) == (
        'Bearer scope="" error="invalid_token"'
        ' error_description="the token does not have a valid audience"'
    )


def test_no_token_is_401_without_a_description(issuer: LocalIssuer) -> None:
    for header in (None, "", "Bearer ", "   "):
        assert validate(issuer, header) == jwt.MISSING
    assert jwt.www_authenticate(jwt.MISSING, ()) is None


def test_a_token_without_a_route_scope_is_403(issuer: LocalIssuer) -> None:
    # JWT_FLOW: "the token must include at least one of the route's scopes".
    denial = validate(issuer, token(issuer, scope="other"), ("echo.read", "admin"))
    assert denial == jwt.Denial(403, "the token has none of the route's scopes: echo.read admin")
    assert jwt.www_authenticate(denial, ("echo.read", "admin")) == (
        'Bearer scope="echo.read admin" error="insufficient_scope"'
        ' error_description="the token has none of the route\'s scopes: echo.read admin"'
    )
    assert validate(issuer, token(issuer), ("echo.read",)) == jwt.Denial(
        403, "the token has none of the route's scopes: echo.read"
    )


@pytest.mark.parametrize(
    "claims", [{"scope": "x echo.read"}, {"scp": ["echo.read"]}, {"scp": "admin y"}]
)
def test_one_route_scope_in_scope_or_scp_is_enough(
    issuer: LocalIssuer, claims: dict[str, Any]
) -> None:
    assert isinstance(validate(issuer, token(issuer, **claims), ("echo.read", "admin")), jwt.Grant)


def test_scope_wins_over_scp_and_odd_shapes_carry_no_scope() -> None:
    assert jwt.token_scopes({"scope": "a", "scp": ["b"]}) == ("a",)
    assert jwt.token_scopes({"scp": ["a", 3, "b"]}) == ("a", "b")
    assert jwt.token_scopes({"scope": 7}) == ()
    assert jwt.token_scopes({}) == ()


def test_signature_and_key_checks(issuer: LocalIssuer, tmp_path: Path) -> None:
    # JWT_FLOW step 3: RSA signature by the issuer's key named by kid.
    good = token(issuer)
    head, _, signature = good.split(".")
    other = local_issuer(tmp_path)
    forged = token(other, kid=issuer.kid)
    assert validate(issuer, forged) == jwt.Denial(401, "the token's signature is invalid")
    tampered = f"{head}.{jwt.b64url_encode(json.dumps({'iss': ISSUER}).encode())}.{signature}"
    assert validate(issuer, tampered) == jwt.Denial(401, "the token's signature is invalid")
    assert validate(issuer, token(issuer, kid="unknown")) == jwt.Denial(
        401, "the token's kid does not match a key of the issuer"
    )


@pytest.mark.parametrize("alg", ["HS256", "none", "ES256", None])
def test_only_rsa_algorithms_are_accepted(issuer: LocalIssuer, alg: str | None) -> None:
    # JWT_FLOW step 3: "Currently, only RSA-based algorithms are supported."
    _, body, signature = token(issuer).split(".")
    header = jwt.b64url_encode(json.dumps({"alg": alg, "kid": issuer.kid}).encode())
    assert validate(issuer, f"{header}.{body}.{signature}") == jwt.Denial(
        401, f"signing method {alg} is invalid"
    )


@pytest.mark.parametrize(
    ("text", "description"),
    [
        ("a.b", "token contains an invalid number of segments"),
        ("a.b.c.d", "token contains an invalid number of segments"),
        ("!!.??.**", "the token is not base64url-encoded JSON"),
        (
            f"{jwt.b64url_encode(b'[1]')}.{jwt.b64url_encode(b'{}')}.eA",
            "the token's header and claims must be JSON objects",
        ),
    ],
)
def test_a_malformed_token_is_401(issuer: LocalIssuer, text: str, description: str) -> None:
    assert validate(issuer, text) == jwt.Denial(401, description)


def test_every_rsa_hash_verifies(issuer: LocalIssuer) -> None:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    for alg, digest in (("RS384", hashes.SHA384()), ("RS512", hashes.SHA512())):
        header = jwt.b64url_encode(f'{{"alg":"{alg}","kid":"{issuer.kid}"}}'.encode())
        body = jwt.b64url_encode(f'{{"iss":"{ISSUER}","aud":"web"}}'.encode())
        signature = issuer.private_key.sign(f"{header}.{body}".encode(), padding.PKCS1v15(), digest)
        signed = f"{header}.{body}.{jwt.b64url_encode(signature)}"
        assert isinstance(validate(issuer, signed), jwt.Grant), alg


def test_the_authorizer_context_passes_claims_as_strings() -> None:
    # HTTP API hands every claim over as a string; lists appear as "[a b]".
    claims = {"sub": "u1", "exp": 1780000060, "admin": True, "groups": ["a", "b"]}
    grant = jwt.Grant({**claims, "n": 1.5, "m": {"k": 1}}, ("read",))
    assert jwt.authorizer_context(grant, ("read",)) == {
        "claims": {
            "sub": "u1",
            "exp": "1780000060",
            "admin": "true",
            "groups": "[a b]",
            "n": "1.5",
            "m": '{"k":1}',
        },
        "scopes": ["read"],
    }
    assert jwt.authorizer_context(grant, ())["scopes"] is None
    assert jwt.claim_text(1780000060.0) == "1780000060"
    assert jwt.claim_text({"k": 1, "l": [2, 3]}) == '{"k":1,"l":[2,3]}'


# The keys in the data folder ----------------------------------------------------------------


def test_local_keys_are_made_once_and_kept_owner_only(tmp_path: Path) -> None:
    credentials = local_credentials(tmp_path)
    assert credentials == local_credentials(tmp_path)
    assert credentials.access_key.startswith("AKIA") and len(credentials.access_key) == 20
    assert len(credentials.secret_key) == 40
    assert credentials.user_id.startswith("AIDA") and len(credentials.user_id) == 21
    assert credentials.user_arn("000000000000") == "arn:aws:iam::000000000000:user/draht-local"
    issuer = local_issuer(tmp_path)
    assert issuer.kid == local_issuer(tmp_path).kid
    for name in ("credentials", "jwt-signing-key.pem"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["credentials", "jwt-signing-key.pem"]


def test_a_damaged_key_file_says_how_to_recover(tmp_path: Path) -> None:
    from draht.local.keys import KeyFileError

    (tmp_path / "credentials").write_text("[other]\n")
    with pytest.raises(KeyFileError, match="delete it and a new pair is made"):
        local_credentials(tmp_path)
    (tmp_path / "jwt-signing-key.pem").write_text("not a key")
    with pytest.raises(KeyFileError, match="delete it and a new one is made"):
        local_issuer(tmp_path)


# The gateway's answers and the caller's side --------------------------------------------------


def _settings(**values: str) -> Settings:
    return Settings.load("dev", lambda key: values.get(key))


JWT_SETTINGS = {"auth": "jwt", "jwtIssuer": ISSUER, "jwtAudience": "web, cli"}


def test_the_iam_authorizer_answers_as_http_api(tmp_path: Path) -> None:
    authorizer = local_authorizer(_settings(), tmp_path, REGION, "123456789012")
    assert isinstance(authorizer, IamAuthorizer)
    caller = Caller(_settings(), tmp_path, _SCOPED_APP)
    target, headers = caller.prepare("GET", f"http://{HOST}/items/1?b=2&a=1")
    granted = authorizer.authorize(HttpRequest("GET", target, headers), _SCOPED_ROUTE)
    credentials = local_credentials(tmp_path)
    assert granted == {
        "iam": {
            "accessKey": credentials.access_key,
            "accountId": "123456789012",
            "callerId": credentials.user_id,
            "cognitoIdentity": None,
            "principalOrgId": None,
            "userArn": "arn:aws:iam::123456789012:user/draht-local",
            "userId": credentials.user_id,
        }
    }
    unsigned = authorizer.authorize(HttpRequest("GET", "/items/1", [("host", HOST)]), _SCOPED_ROUTE)
    assert unsigned == HttpResponse(
        403, [("content-type", "application/json")], b'{"message":"Forbidden"}'
    )
    tampered = authorizer.authorize(HttpRequest("GET", "/items/2", headers), _SCOPED_ROUTE)
    assert isinstance(tampered, HttpResponse)
    assert tampered.status == 403
    assert ("x-amzn-errortype", "InvalidSignatureException") in tampered.headers


def test_the_jwt_authorizer_answers_as_http_api(tmp_path: Path) -> None:
    settings = _settings(**JWT_SETTINGS)
    authorizer = local_authorizer(settings, tmp_path, REGION, "000000000000")
    assert isinstance(authorizer, JwtAuthorizer)
    caller = Caller(settings, tmp_path, _SCOPED_APP)
    _, headers = caller.prepare("GET", f"http://{HOST}/scoped")
    granted = authorizer.authorize(HttpRequest("GET", "/scoped", headers), _SCOPED_ROUTE)
    assert isinstance(granted, dict)
    assert granted["jwt"]["scopes"] == ["echo.read"]
    assert granted["jwt"]["claims"]["aud"] == "web"
    missing = authorizer.authorize(HttpRequest("GET", "/scoped", [("host", HOST)]), _SCOPED_ROUTE)
    assert missing == HttpResponse(
        401, [("content-type", "application/json")], b'{"message":"Unauthorized"}'
    )
    issuer = local_issuer(tmp_path)
    unscoped = jwt.sign({"iss": ISSUER, "aud": "cli"}, issuer.private_key, issuer.kid)
    refused = authorizer.authorize(
        HttpRequest("GET", "/scoped", [("authorization", unscoped)]), _SCOPED_ROUTE
    )
    assert isinstance(refused, HttpResponse)
    assert (refused.status, refused.body) == (403, b'{"message":"Forbidden"}')
    assert dict(refused.headers)["www-authenticate"].startswith(
        'Bearer scope="echo.read" error="insufficient_scope"'
    )


def test_a_stage_deployed_without_auth_has_no_authorizer(tmp_path: Path) -> None:
    assert local_authorizer(_settings(auth="none"), tmp_path, REGION, "0") is None
    assert list(tmp_path.iterdir()) == []


def test_development_token_claims() -> None:
    claims = dev_token_claims(_settings(**JWT_SETTINGS), ["a", "b"], "alice", 60, NOW)
    assert claims == {
        "iss": ISSUER,
        "aud": "web",
        "sub": "alice",
        "iat": NOW,
        "nbf": NOW,
        "exp": NOW + 60,
        "scope": "a b",
    }
    assert "scope" not in dev_token_claims(_settings(**JWT_SETTINGS), [], "alice", 60, NOW)
    needed = "^tokens need draht:jwtIssuer and draht:jwtAudience in the stack config$"
    with pytest.raises(ValueError, match=needed):
        dev_token_claims(_settings(), [], "alice", 60, NOW)
    with pytest.raises(ValueError, match=needed):
        # An issuer without an audience is kept on an iam stack, and makes no token either.
        dev_token_claims(_settings(jwtIssuer=ISSUER), [], "alice", 60, NOW)


def test_the_banner_describes_each_mode(tmp_path: Path) -> None:
    iam = _settings()
    jwt_settings = _settings(**JWT_SETTINGS)
    public = Route("GET /open", _SCOPED_ROUTE.function, auth="public")
    iam_authorizer = local_authorizer(iam, tmp_path, REGION, "0")
    jwt_authorizer = local_authorizer(jwt_settings, tmp_path, REGION, "0")
    assert route_label(public, iam, iam_authorizer) == "public"
    assert route_label(_SCOPED_ROUTE, iam, iam_authorizer) == "iam auth"
    assert route_label(_SCOPED_ROUTE, jwt_settings, jwt_authorizer) == "jwt auth, scopes echo.read"
    two_scopes = Route("GET /two", _SCOPED_ROUTE.function, scopes=("a.read", "a.write"))
    two_label = route_label(two_scopes, jwt_settings, jwt_authorizer)
    assert two_label == "jwt auth, scopes a.read a.write"
    assert route_label(_SCOPED_ROUTE, iam, None) == "iam auth on AWS, none here"
    assert route_label(_SCOPED_ROUTE, _settings(auth="none"), None) == "no auth, as deployed"
    assert summary(2, iam, None) == (
        "--no-auth: 2 protected route(s) served without auth here (on AWS: iam)"
    )
    assert summary(2, _settings(auth="none"), None).endswith("as draht:auth none deploys")
    assert summary(2, iam, iam_authorizer) == (
        "2 protected route(s) need SigV4 signed with the local credentials"
        f" (profile draht-local in {tmp_path / 'credentials'}); `draht call` signs"
    )
    assert summary(1, jwt_settings, jwt_authorizer) == (
        f"1 protected route(s) need a bearer token for {ISSUER} signed by the local issuer"
        f" ({tmp_path / 'jwt-signing-key.pem'}); `draht token` makes one"
    )


@pytest.mark.parametrize(
    ("target", "sent"),
    [
        ("/sessions", "/sessions"),
        ("/sessions?", "/sessions"),
        ("/s?clientId=a b+c&x=%7e&flag&&y=a:b", "/s?clientId=a%20b%20c&x=~&flag&y=a%3Ab"),
        ("/s?q=%2B", "/s?q=%2B"),
    ],
)
def test_the_caller_sends_the_query_as_it_signs_it(target: str, sent: str) -> None:
    # `+` is a space to HTTP API's query parsing: it is sent as %20, a literal + as %2B.
    assert strict_query(target) == sent
    assert sigv4.canonical_query(sent.partition("?")[2]) == "&".join(
        sorted(p if "=" in p else f"{p}=" for p in sent.partition("?")[2].split("&") if p)
    )


def test_the_caller_adds_nothing_without_auth(tmp_path: Path) -> None:
    caller = Caller(_settings(auth="none"), tmp_path, _SCOPED_APP)
    assert caller.prepare("GET", "http://h:1/x?a=b c", [("host", "x"), ("a", "1")]) == (
        "/x?a=b%20c",
        [("host", "h:1"), ("a", "1")],
    )
    assert list(tmp_path.iterdir()) == []


def test_the_callers_token_is_reused_until_it_nears_expiry(tmp_path: Path) -> None:
    caller = Caller(_settings(**JWT_SETTINGS), tmp_path, _SCOPED_APP)
    first = caller.token()
    assert caller.token() == first
    with mock.patch("draht.local.caller.time.time", return_value=time.time() + 3600 - 59):
        assert caller.token() != first


# Whatever arrives, an answer and never an exception ------------------------------------------


@hypothesis.given(
    authorization=st.text(max_size=300),
    amz_date=st.one_of(st.none(), st.text(max_size=20), st.just("20260301T120000Z")),
    date=st.one_of(st.none(), st.text(max_size=40)),
)
@hypothesis.settings(max_examples=300, deadline=None, derandomize=True)
def test_any_authorization_header_gets_an_answer(
    authorization: str, amz_date: str | None, date: str | None
) -> None:
    headers = [("host", HOST), ("authorization", authorization)]
    headers += [("x-amz-date", amz_date)] if amz_date is not None else []
    headers += [("date", date)] if date is not None else []
    verdict = verify(sigv4.Request("GET", "/sessions", headers, b""))
    assert isinstance(verdict, sigv4.Rejection)


@hypothesis.given(token=st.text(max_size=300))
@hypothesis.settings(max_examples=300, deadline=None, derandomize=True)
def test_any_bearer_value_gets_an_answer(issuer: LocalIssuer, token: str) -> None:
    assert isinstance(validate(issuer, f"Bearer {token}"), jwt.Denial)


_CLAIM_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(max_size=20),
    st.lists(st.text(max_size=10), max_size=3),
    st.sampled_from([ISSUER, "web", "cli", NOW, NOW + 60]),
)


@hypothesis.given(
    claims=st.dictionaries(
        st.sampled_from(["iss", "aud", "client_id", "exp", "nbf", "iat", "scope", "scp", "x"]),
        _CLAIM_VALUES,
    )
)
@hypothesis.settings(max_examples=300, deadline=None, derandomize=True)
def test_any_signed_claims_get_an_answer(issuer: LocalIssuer, claims: dict[str, Any]) -> None:
    signed = jwt.sign(claims, issuer.private_key, issuer.kid)
    verdict = validate(issuer, signed, ("echo.read",))
    assert isinstance(verdict, jwt.Grant | jwt.Denial)
    if isinstance(verdict, jwt.Grant):
        assert claims["iss"] == ISSUER
        assert "echo.read" in verdict.scopes
        jwt.authorizer_context(verdict, ("echo.read",))


def test_a_local_token_is_unpadded_base64url_of_compact_json_with_an_rs256_jwt_header(
    issuer: LocalIssuer,
) -> None:
    # RFC 7515, section 2 (Base64url Encoding: "with all trailing '=' characters omitted")
    # and RFC 7519, section 5.1 ("typ": "JWT"): https://www.rfc-editor.org/rfc/rfc7515#section-2
    header, claims, signature = token(issuer).split(".")
    assert "=" not in header + claims + signature
    assert header == jwt.b64url_encode(
        f'{{"alg":"RS256","kid":"{issuer.kid}","typ":"JWT"}}'.encode()
    )
    assert claims == jwt.b64url_encode(
        f'{{"iss":"{ISSUER}","aud":"web","sub":"u1","exp":{NOW + 60}}}'.encode()
    )


def test_base64url_round_trips_every_length_and_last_character() -> None:
    for length in range(200):
        data = bytes((length * 7 + i * 31) % 256 for i in range(length))
        text = jwt.b64url_encode(data)
        assert "=" not in text
        assert jwt.b64url_decode(text) == data
    # 0xFB 0xF0 encodes as "-_A"; a trailing X must survive too (0x5D 0x70 is "XXA").
    assert jwt.b64url_encode(b"\x5d\x70") == "XXA"
    assert jwt.b64url_encode(b"\x5d\x75\xd7") == "XXXX"


def test_a_token_whose_kid_is_not_a_string_is_refused(issuer: LocalIssuer) -> None:
    jose = {"alg": "RS256", "kid": [issuer.kid], "typ": "JWT"}
    _, claims, signature = token(issuer).split(".")
    forged = f"{jwt.b64url_encode(json.dumps(jose).encode())}.{claims}.{signature}"
    assert isinstance(validate(issuer, f"Bearer {forged}"), jwt.Denial)
