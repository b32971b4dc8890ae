"""How the tests call a `draht dev` they started: signed as its auth wants, by default.

`draht dev` checks the stage's auth as deployed, so a harness that starts one
registers its `Caller` (`register`); `traffic.Connection` and the servers'
`request` helpers then sign with it, and other tests need not know about auth.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlsplit

import requests

from draht import PROJECT_ROOT
from draht.cli import DEFAULT_APP, load_app
from draht.local.caller import Caller
from draht.settings import LOCAL_SETTINGS_FILE, local_settings

_CALLERS: dict[str, Caller] = {}


def caller_from_args(args: Sequence[str]) -> Caller:
    """The `Caller` for a `draht dev` started with `args` (its stack config, data folder, app)."""

    def option(name: str, default: str) -> str:
        return args[list(args).index(name) + 1] if name in args else default

    settings = local_settings(Path(option("--stack-config", LOCAL_SETTINGS_FILE)))
    if "--no-auth" in args:
        settings = replace(settings, auth="none")
    data_dir = Path(option("--data-dir", str(PROJECT_ROOT / ".draht")))
    return Caller(settings, data_dir, load_app(option("--app", DEFAULT_APP)))


def register(url: str, caller: Caller) -> None:
    _CALLERS[url.rstrip("/")] = caller


def forget(url: str) -> None:
    _CALLERS.pop(url.rstrip("/"), None)


def caller_for(url: str) -> Caller | None:
    """How to call the server at `url` started by this process; None for any other server."""
    return _CALLERS.get(url.rstrip("/"))


class SignedByCaller(requests.auth.AuthBase):
    """`requests` auth (schemathesis sends through `requests`) that signs with a `Caller`."""

    def __init__(self, caller: Caller) -> None:
        self._caller = caller

    def __call__(self, prepared: requests.PreparedRequest) -> requests.PreparedRequest:
        body = prepared.body
        payload = (
            body.encode() if isinstance(body, str) else body if isinstance(body, bytes) else b""
        )
        parts = urlsplit(prepared.url or "")
        sent = [
            (name, value.decode() if isinstance(value, bytes) else value)
            for name, value in prepared.headers.items()
        ]
        target, headers = self._caller.prepare(
            prepared.method or "GET", prepared.url or "", sent, payload
        )
        prepared.url = f"{parts.scheme}://{parts.netloc}{target}"
        prepared.headers.clear()
        prepared.headers.update(headers)
        return prepared
