"""HTTP API's IAM authorization: verifying a request's Signature Version 4.

Pure functions of the request, the known credentials and the time, so every rule
is testable on its own. The rules and answers are AWS's:

- signing: https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html
  (canonical request, string to sign, signing key; `execute-api` is a service whose
  path is URI-encoded twice and whose payload hash is that of the body received);
- answers: https://docs.aws.amazon.com/IAM/latest/UserGuide/signature-v4-troubleshooting.html
  and https://repost.aws/knowledge-center/api-gateway-iam-sigv4-mismatch (403 with
  `{"message": ...}` and the exception named in `x-amzn-errortype`).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from urllib.parse import quote, unquote

ALGORITHM = "AWS4-HMAC-SHA256"
SERVICE = "execute-api"
ALLOWED_SKEW = timedelta(minutes=5)
"""How far a request's date may be from the server's clock, either way."""

_AMZ_DATE = "%Y%m%dT%H%M%SZ"
_PARTS = ("Credential", "Signature", "SignedHeaders")
_MISMATCH = (
    "The request signature we calculated does not match the signature you provided."
    " Check your AWS Secret Access Key and signing method."
    " Consult the service documentation for details."
)
UNRECOGNIZED_KEY = "The security token included in the request is invalid."


@dataclass(frozen=True)
class Rejection:
    """A request HTTP API refuses before the function runs: always a 403."""

    message: str
    error_type: str | None = None
    """`x-amzn-errortype`; None for the plain `Forbidden` of an unsigned request."""


FORBIDDEN = Rejection("Forbidden")


@dataclass(frozen=True)
class Signed:
    """A request whose signature verified: who signed it."""

    access_key: str


@dataclass(frozen=True)
class Request:
    """What SigV4 covers of a request, as it arrived."""

    method: str
    target: str
    """The path and `?query` exactly as sent (still percent-encoded)."""
    headers: Sequence[tuple[str, str]]
    body: bytes


@dataclass(frozen=True)
class _Authorization:
    access_key: str
    scope_date: str
    scope_region: str
    scope_service: str
    scope_terminator: str
    signed_headers: tuple[str, ...]
    signature: str
    amz_date: str
    """The request's time as it was signed."""
    moment: datetime


def verify(
    request: Request, secrets: Mapping[str, str], region: str, now: datetime
) -> Signed | Rejection:
    """Check `request`'s signature against `secrets` (access key id -> secret access key)."""
    header = _header(request.headers, "authorization")
    if header is None:
        return FORBIDDEN
    parsed = parse_authorization(header, request.headers)
    if isinstance(parsed, Rejection):
        return parsed
    secret = secrets.get(parsed.access_key)
    if secret is None or _header(request.headers, "x-amz-security-token") is not None:
        # Local credentials are long-term keys: any session token is one AWS did not issue.
        return Rejection(UNRECOGNIZED_KEY, "UnrecognizedClientException")
    if "host" not in parsed.signed_headers:
        return Rejection(
            "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.",
            "InvalidSignatureException",
        )
    problem = _scope_problem(parsed, region) or _skew_problem(parsed.moment, now)
    if problem is not None:
        return Rejection(problem, "InvalidSignatureException")
    canonical = canonical_request(request, parsed.signed_headers)
    to_sign = string_to_sign(parsed.amz_date, region, canonical)
    expected = signature(secret, parsed.scope_date, region, to_sign)
    if not hmac.compare_digest(expected, parsed.signature):
        return Rejection(
            f"{_MISMATCH}\n\nThe Canonical String for this request should have been\n"
            f"'{canonical}'\n\nThe String-to-Sign should have been\n'{to_sign}'\n",
            "InvalidSignatureException",
        )
    return Signed(parsed.access_key)


def parse_authorization(
    header: str, headers: Sequence[tuple[str, str]]
) -> _Authorization | Rejection:
    """The parts of an `AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…` header."""
    algorithm, _, rest = header.strip().partition(" ")
    parts: dict[str, str] = {}
    if algorithm == ALGORITHM:
        for item in rest.split(","):
            name, equals, value = item.strip().partition("=")
            if equals and name in _PARTS:
                parts[name] = value.strip()
    missing = [part for part in _PARTS if not parts.get(part)]
    stamp = request_time(headers)
    if stamp is None:
        missing.append("date")
    if missing or stamp is None:
        return Rejection(_incomplete(header, missing), "IncompleteSignatureException")
    scope = parts["Credential"].split("/")
    if len(scope) != 5 or not all(scope):
        return Rejection(
            f"Credential should have five parts separated by '/' (got {parts['Credential']!r}).",
            "IncompleteSignatureException",
        )
    access_key, scope_date, scope_region, scope_service, terminator = scope
    return _Authorization(
        access_key=access_key,
        scope_date=scope_date,
        scope_region=scope_region,
        scope_service=scope_service,
        scope_terminator=terminator,
        signed_headers=tuple(parts["SignedHeaders"].split(";")),
        signature=parts["Signature"],
        amz_date=stamp[0],
        moment=stamp[1],
    )


def _incomplete(header: str, missing: Sequence[str]) -> str:
    sentences = [
        "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
        if part == "date"
        else f"Authorization header requires '{part}' parameter."
        for part in missing
    ]
    return " ".join([*sentences, f"Authorization={header}"])


def request_time(headers: Sequence[tuple[str, str]]) -> tuple[str, datetime] | None:
    """The request's time as signed (`X-Amz-Date`, else `Date`) and as a moment."""
    amz_date = _header(headers, "x-amz-date")
    if amz_date is not None:
        try:
            moment = datetime.strptime(amz_date, _AMZ_DATE).replace(tzinfo=UTC)
        except ValueError:
            return None
        return amz_date, moment
    date = _header(headers, "date")
    if date is None:
        return None
    try:
        moment = parsedate_to_datetime(date)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        return None
    return moment.astimezone(UTC).strftime(_AMZ_DATE), moment


def _scope_problem(parsed: _Authorization, region: str) -> str | None:
    if parsed.scope_date != parsed.amz_date[:8]:
        return (
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date"
            f" from HTTP: '{parsed.scope_date}' != '{parsed.amz_date[:8]}',"
            f" from '{parsed.amz_date}'."
        )
    if parsed.scope_region != region:
        return f"Credential should be scoped to a valid region, not '{parsed.scope_region}'. "
    if parsed.scope_service != SERVICE:
        return f"Credential should be scoped to correct service: '{SERVICE}'. "
    if parsed.scope_terminator != "aws4_request":
        return (
            "Credential should be scoped with a valid terminator: 'aws4_request',"
            f" not '{parsed.scope_terminator}'. "
        )
    return None


def _skew_problem(moment: datetime, now: datetime) -> str | None:
    if moment < now - ALLOWED_SKEW:
        return (
            f"Signature expired: {moment.strftime(_AMZ_DATE)} is now earlier than"
            f" {(now - ALLOWED_SKEW).strftime(_AMZ_DATE)} ({now.strftime(_AMZ_DATE)} - 5 min.)"
        )
    if moment > now + ALLOWED_SKEW:
        return (
            f"Signature not yet current: {moment.strftime(_AMZ_DATE)} is still later than"
            f" {(now + ALLOWED_SKEW).strftime(_AMZ_DATE)} ({now.strftime(_AMZ_DATE)} + 5 min.)"
        )
    return None


def canonical_request(request: Request, signed_headers: Sequence[str]) -> str:
    path, _, query = request.target.partition("?")
    return "\n".join(
        [
            request.method,
            canonical_path(path),
            canonical_query(query),
            "".join(f"{name}:{_header_values(request.headers, name)}\n" for name in signed_headers),
            ";".join(signed_headers),
            hashlib.sha256(request.body).hexdigest(),
        ]
    )


def canonical_path(path: str) -> str:
    """The path without dot segments or empty ones, URI-encoded once more (not S3's rule)."""
    segments: list[str] = []
    for segment in path.split("/"):
        if segment == "..":
            if segments:
                segments.pop()
        elif segment and segment != ".":
            segments.append(segment)
    trailing = "/" if path.endswith("/") and segments else ""
    return quote("/" + "/".join(segments) + trailing, safe="/~")


def canonical_query(query: str) -> str:
    """Each name and value decoded, then encoded with only unreserved characters kept; sorted."""
    pairs = []
    for pair in query.split("&"):
        if not pair:
            continue
        name, _, value = pair.partition("=")
        pairs.append((quote(unquote(name), safe="-_.~"), quote(unquote(value), safe="-_.~")))
    return "&".join(f"{name}={value}" for name, value in sorted(pairs))


def string_to_sign(amz_date: str, region: str, canonical: str) -> str:
    digest = hashlib.sha256(canonical.encode()).hexdigest()
    return f"{ALGORITHM}\n{amz_date}\n{amz_date[:8]}/{region}/{SERVICE}/aws4_request\n{digest}"


def signature(secret: str, scope_date: str, region: str, to_sign: str) -> str:
    key = _hmac(f"AWS4{secret}".encode(), scope_date)
    for part in (region, SERVICE, "aws4_request"):
        key = _hmac(key, part)
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode(), hashlib.sha256).digest()


def _header(headers: Sequence[tuple[str, str]], name: str) -> str | None:
    for key, value in headers:
        if key.lower() == name:
            return value
    return None


def _header_values(headers: Sequence[tuple[str, str]], name: str) -> str:
    return ",".join(" ".join(value.split()) for key, value in headers if key.lower() == name)
