"""The gateway's authorization of protected routes, as the stage's `draht:auth` deploys it.

`iam` verifies SigV4 (`draht.local.sigv4`) against the data folder's local
credentials; `jwt` validates bearer tokens (`draht.local.jwt`) signed by the data
folder's local issuer, for the stack's issuer and audiences. Either way a
request that passes gets `requestContext.authorizer` as on AWS, and one that
does not gets HTTP API's answer before any function runs.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from draht.local import jwt, sigv4
from draht.local.events import HttpRequest, HttpResponse, gateway_answer
from draht.local.keys import (
    PROFILE,
    LocalCredentials,
    LocalIssuer,
    local_credentials,
    local_issuer,
)
from draht.model import Route
from draht.settings import Settings

Decision = dict[str, Any] | HttpResponse
"""`requestContext.authorizer` for an authorized request, or the gateway's answer."""


@dataclass(frozen=True)
class IamAuthorizer:
    credentials: LocalCredentials
    region: str
    account_id: str

    def authorize(self, request: HttpRequest, route: Route) -> Decision:
        verdict = sigv4.verify(
            sigv4.Request(request.method, request.target, request.headers, request.body),
            {self.credentials.access_key: self.credentials.secret_key},
            self.region,
            datetime.now(UTC),
        )
        if isinstance(verdict, sigv4.Rejection):
            return iam_answer(verdict)
        return {"iam": self.caller(verdict.access_key)}

    def caller(self, access_key: str) -> dict[str, Any]:
        """`requestContext.authorizer.iam` for the local IAM user, signing with its key."""
        user_id = self.credentials.user_id
        return {
            "accessKey": access_key,
            "accountId": self.account_id,
            "callerId": user_id,
            "cognitoIdentity": None,
            "principalOrgId": None,
            "userArn": self.credentials.user_arn(self.account_id),
            "userId": user_id,
        }


def iam_answer(rejection: sigv4.Rejection) -> HttpResponse:
    answer = gateway_answer(403, rejection.message)
    if rejection.error_type is not None:
        answer.headers.append(("x-amzn-errortype", rejection.error_type))
    return answer


@dataclass(frozen=True)
class JwtAuthorizer:
    issuer: LocalIssuer
    token_issuer: str
    audiences: tuple[str, ...]

    def authorize(self, request: HttpRequest, route: Route) -> Decision:
        header = next((v for k, v in request.headers if k.lower() == "authorization"), None)
        verdict = jwt.validate(
            header,
            self.token_issuer,
            self.audiences,
            route.scopes,
            {self.issuer.kid: self.issuer.public_key},
            int(time.time()),
        )
        if isinstance(verdict, jwt.Denial):
            return jwt_answer(verdict, route.scopes)
        return {"jwt": jwt.authorizer_context(verdict, route.scopes)}


def jwt_answer(denial: jwt.Denial, route_scopes: Sequence[str]) -> HttpResponse:
    answer = gateway_answer(denial.status, "Unauthorized" if denial.status == 401 else "Forbidden")
    challenge = jwt.www_authenticate(denial, route_scopes)
    if challenge is not None:
        answer.headers.append(("www-authenticate", challenge))
    return answer


Authorizer = IamAuthorizer | JwtAuthorizer


def local_authorizer(
    settings: Settings, data_dir: Path, region: str, account_id: str
) -> Authorizer | None:
    """The authorizer of the stage's protected routes; None where they are deployed open."""
    if settings.auth == "iam":
        return IamAuthorizer(local_credentials(data_dir), region, account_id)
    if settings.auth == "jwt":
        assert settings.jwt_issuer is not None  # Settings.load requires it with jwt
        return JwtAuthorizer(local_issuer(data_dir), settings.jwt_issuer, settings.jwt_audience)
    return None


def dev_token_claims(
    settings: Settings, scopes: Sequence[str], subject: str, lifetime_s: int, now: int
) -> dict[str, Any]:
    """The claims of a development token for the stage's JWT authorizer."""
    if settings.jwt_issuer is None or not settings.jwt_audience:
        raise ValueError("tokens need draht:jwtIssuer and draht:jwtAudience in the stack config")
    claims: dict[str, Any] = {
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience[0],
        "sub": subject,
        "iat": now,
        "nbf": now,
        "exp": now + lifetime_s,
    }
    if scopes:
        claims["scope"] = " ".join(scopes)
    return claims


def route_label(route: Route, settings: Settings, authorizer: Authorizer | None) -> str:
    """How the banner marks a route's auth."""
    if route.auth == "public":
        return "public"
    if settings.auth == "none":
        return "no auth, as deployed"
    if authorizer is None:
        return f"{settings.auth} auth on AWS, none here"
    scopes = f", scopes {' '.join(route.scopes)}" if route.scopes and settings.auth == "jwt" else ""
    return f"{settings.auth} auth{scopes}"


def summary(protected: int, settings: Settings, authorizer: Authorizer | None) -> str:
    """The banner's `auth` line: what the protected routes need here, and where its keys are."""
    if settings.auth == "none":
        return f"{protected} protected route(s) served without auth, as draht:auth none deploys"
    if authorizer is None:
        return (
            f"--no-auth: {protected} protected route(s) served without auth here"
            f" (on AWS: {settings.auth})"
        )
    if isinstance(authorizer, IamAuthorizer):
        return (
            f"{protected} protected route(s) need SigV4 signed with the local credentials"
            f" (profile {PROFILE} in {authorizer.credentials.path}); `draht call` signs"
        )
    return (
        f"{protected} protected route(s) need a bearer token for {authorizer.token_issuer}"
        f" signed by the local issuer ({authorizer.issuer.path}); `draht token` makes one"
    )
