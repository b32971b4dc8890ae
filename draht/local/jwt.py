"""HTTP API's JWT authorizer: validating a bearer token, and signing development tokens.

Pure functions of the token, the authorizer's configuration, the issuer's keys
and the time. The workflow and its order are AWS's, from
https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-jwt-authorizer.html
("Authorizing API requests with a JWT authorizer"): the token from the
`Authorization` header (alone or after `Bearer `), decoded; its RSA signature
checked with the issuer's key named by `kid`; then `iss`, `aud` (or `client_id`
when there is no `aud`), `exp`, `nbf`, `iat`, and at least one of the route's
scopes in `scope` or `scp`. A refusal is 401 `{"message":"Unauthorized"}` with a
`www-authenticate` header saying why, as
https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-troubleshooting-jwt.html
shows; a valid token without a required scope is 403 `{"message":"Forbidden"}`.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey

HASHES = {"RS256": "SHA256", "RS384": "SHA384", "RS512": "SHA512"}
"""The RSA algorithms HTTP API accepts (RSASSA-PKCS1-v1_5), and their hash."""


@dataclass(frozen=True)
class Denial:
    status: int
    """401 for a missing or invalid token, 403 for a valid one without a route scope."""
    description: str
    """Why, as the `error_description` of `www-authenticate`; empty for a missing token."""


@dataclass(frozen=True)
class Grant:
    claims: dict[str, Any]
    scopes: tuple[str, ...]
    """The token's scopes (from `scope` or `scp`)."""


MISSING = Denial(401, "")


def validate(
    header: str | None,
    issuer: str,
    audiences: Sequence[str],
    route_scopes: Sequence[str],
    keys: Mapping[str, RSAPublicKey],
    now: int,
) -> Grant | Denial:
    """Validate the `Authorization` header's token for a route; `now` in epoch seconds."""
    token = _token(header)
    if token is None:
        return MISSING
    decoded = _decode(token)
    if isinstance(decoded, Denial):
        return decoded
    jose, claims, signing_input, signature = decoded
    algorithm = jose.get("alg")
    if algorithm not in HASHES:
        return Denial(401, f"signing method {algorithm} is invalid")
    kid = jose.get("kid")
    key = keys.get(kid) if isinstance(kid, str) else None
    if key is None:
        return Denial(401, "the token's kid does not match a key of the issuer")
    if not _signature_valid(key, str(algorithm), signing_input, signature):
        return Denial(401, "the token's signature is invalid")
    problem = _claims_problem(claims, issuer, audiences, now)
    if problem is not None:
        return Denial(401, problem)
    scopes = token_scopes(claims)
    if route_scopes and not set(route_scopes) & set(scopes):
        return Denial(403, f"the token has none of the route's scopes: {' '.join(route_scopes)}")
    return Grant(claims, scopes)


def _token(header: str | None) -> str | None:
    if header is None:
        return None
    value = header.strip()
    scheme, _, rest = value.partition(" ")
    if scheme.lower() == "bearer":
        value = rest.strip()
    return value or None


def _decode(token: str) -> tuple[dict[str, Any], dict[str, Any], bytes, bytes] | Denial:
    segments = token.split(".")
    if len(segments) != 3:
        return Denial(401, "token contains an invalid number of segments")
    try:
        jose = json.loads(b64url_decode(segments[0]))
        claims = json.loads(b64url_decode(segments[1]))
        signature = b64url_decode(segments[2])
    except (ValueError, binascii.Error):
        return Denial(401, "the token is not base64url-encoded JSON")
    if not isinstance(jose, dict) or not isinstance(claims, dict):
        return Denial(401, "the token's header and claims must be JSON objects")
    return jose, claims, f"{segments[0]}.{segments[1]}".encode(), signature


def _signature_valid(key: RSAPublicKey, algorithm: str, signed: bytes, signature: bytes) -> bool:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    digest: hashes.HashAlgorithm = getattr(hashes, HASHES[algorithm])()
    try:
        key.verify(signature, signed, padding.PKCS1v15(), digest)
    except InvalidSignature:
        return False
    return True


def _claims_problem(
    claims: Mapping[str, Any], issuer: str, audiences: Sequence[str], now: int
) -> str | None:
    if claims.get("iss") != issuer:
        return "the token does not have a valid issuer"
    # `client_id` counts only when the token has no `aud` at all.
    audience = claims["aud"] if "aud" in claims else claims.get("client_id")
    offered = audience if isinstance(audience, list) else [audience]
    if not any(isinstance(a, str) and a in audiences for a in offered):
        return "the token does not have a valid audience"
    times = {name: claims[name] for name in ("exp", "nbf", "iat") if name in claims}
    if any(isinstance(v, bool) or not isinstance(v, int | float) for v in times.values()):
        return "the token's exp, nbf and iat must be numbers"
    if "exp" in times and times["exp"] <= now:
        return "the token has expired"
    if "nbf" in times and times["nbf"] > now:
        return "the token is not valid yet"
    if "iat" in times and times["iat"] > now:
        return "the token was issued in the future"
    return None


def token_scopes(claims: Mapping[str, Any]) -> tuple[str, ...]:
    """`scope` (space-separated, OAuth 2.0) or `scp` (a list or a space-separated string)."""
    raw = claims["scope"] if "scope" in claims else claims.get("scp")
    if isinstance(raw, str):
        return tuple(raw.split())
    if isinstance(raw, list):
        return tuple(item for item in raw if isinstance(item, str))
    return ()


def www_authenticate(denial: Denial, route_scopes: Sequence[str]) -> str | None:
    """The `www-authenticate` header HTTP API sends with a refusal (none for a missing token)."""
    if not denial.description:
        return None
    error = "insufficient_scope" if denial.status == 403 else "invalid_token"
    return (
        f'Bearer scope="{" ".join(route_scopes)}" error="{error}"'
        f' error_description="{denial.description}"'
    )


def authorizer_context(grant: Grant, route_scopes: Sequence[str]) -> dict[str, Any]:
    """`requestContext.authorizer.jwt`: the claims as strings, as HTTP API passes them.

    HTTP API flattens every claim to a string: numbers and booleans as their JSON
    text, lists as `[a b]`. `scopes` is null unless the route requires scopes.
    """
    return {
        "claims": {name: claim_text(value) for name, value in grant.claims.items()},
        "scopes": list(grant.scopes) if route_scopes else None,
    }


def claim_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "[" + " ".join(claim_text(item) for item in value) + "]"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return json.dumps(value, separators=(",", ":"))


def sign(claims: Mapping[str, Any], key: RSAPrivateKey, kid: str) -> str:
    """An RS256 token of `claims`, with `kid` naming the key that verifies it."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    jose = {"alg": "RS256", "kid": kid, "typ": "JWT"}
    signing_input = f"{_segment(jose)}.{_segment(claims)}"
    signature = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{b64url_encode(signature)}"


def _segment(value: Mapping[str, Any]) -> str:
    return b64url_encode(json.dumps(value, separators=(",", ":")).encode())


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
