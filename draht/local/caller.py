"""Calling the local API as a deployed client would: signed with SigV4, or with a bearer token.

`draht call`, the tests and the benchmarks all sign through `Caller`, so what
they send is what an SDK sends: SigV4 by botocore's own signer with the data
folder's local credentials, or a development token of the local issuer.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import quote, unquote_plus, urlsplit

from draht.local.auth import dev_token_claims
from draht.local.keys import LocalCredentials, local_credentials, local_issuer
from draht.local.sigv4 import SERVICE
from draht.local.store import LOCAL_REGION
from draht.model import App
from draht.settings import Settings

TOKEN_LIFETIME_S = 3600
_TOKEN_RENEWAL_S = 60


def strict_query(target: str) -> str:
    """`target` with its query encoded as SigV4 canonicalizes it: what is signed is what is sent.

    `+` is a space to HTTP API's query parsing, so it is sent as `%20`.
    """
    path, mark, query = target.partition("?")
    if not mark:
        return target
    pairs = []
    for pair in query.split("&"):
        if not pair:
            continue
        name, equals, value = pair.partition("=")
        encoded = quote(unquote_plus(name), safe="-_.~")
        pairs.append(f"{encoded}={quote(unquote_plus(value), safe='-_.~')}" if equals else encoded)
    return f"{path}?{'&'.join(pairs)}" if pairs else path


class Caller:
    """Adds what the stage's auth needs to a request: nothing, a SigV4 signature or a token."""

    def __init__(
        self, settings: Settings, data_dir: Path, app: App, region: str = LOCAL_REGION
    ) -> None:
        self.auth = settings.auth
        self._settings = settings
        self._data_dir = data_dir
        self._region = region
        # A development token carries every scope a route asks for, so it opens every route.
        self._scopes = sorted({scope for route in app.routes for scope in route.scopes})
        self._credentials: LocalCredentials | None = None
        self._token = ""
        self._token_expiry = 0.0

    def prepare(
        self, method: str, url: str, headers: Sequence[tuple[str, str]] = (), body: bytes = b""
    ) -> tuple[str, list[tuple[str, str]]]:
        """The target to send (its query strict) and `headers` with `host` and the auth headers."""
        parts = urlsplit(url)
        target = strict_query(parts.path + (f"?{parts.query}" if parts.query else ""))
        sent = [(name, value) for name, value in headers if name.lower() != "host"]
        sent.insert(0, ("host", parts.netloc))
        if self.auth == "iam":
            return target, self._signed(
                method, f"{parts.scheme}://{parts.netloc}{target}", sent, body
            )
        if self.auth == "jwt":
            return target, [*sent, ("authorization", f"Bearer {self.token()}")]
        return target, sent

    def _signed(
        self, method: str, url: str, headers: list[tuple[str, str]], body: bytes
    ) -> list[tuple[str, str]]:
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials

        if self._credentials is None:
            self._credentials = local_credentials(self._data_dir)
        credentials = self._credentials
        request = AWSRequest(method=method, url=url, data=body)
        for name, value in headers:
            # Appends: a repeated header is signed with all its values, as it is sent.
            request.headers[name] = value
        signer = SigV4Auth(
            Credentials(credentials.access_key, credentials.secret_key), SERVICE, self._region
        )
        signer.add_auth(request)
        return list(request.headers.items())

    def token(self) -> str:
        """A development token of the local issuer, renewed a minute before it expires."""
        now = time.time()
        if now > self._token_expiry - _TOKEN_RENEWAL_S:
            from draht.local.jwt import sign

            issuer = local_issuer(self._data_dir)
            claims = dev_token_claims(
                self._settings, self._scopes, "draht-local", TOKEN_LIFETIME_S, int(now)
            )
            self._token = sign(claims, issuer.private_key, issuer.kid)
            self._token_expiry = claims["exp"]
        return self._token
