"""`draht`: the app on this machine.

    draht dev        serve the routes on http://127.0.0.1:3000 with a local store
    draht seed       load the sample data set into the local store
    draht invoke     run one request through its function's worker and print the response
    draht call       send one request to the running `draht dev`, signed as the stage's auth wants
    draht token      print a development token for jwt routes
    draht openapi    print the API's OpenAPI document

Errors are one line on stderr: exit status 2 for bad usage or configuration, 1
when something needed could not be started or reached. `draht invoke` and
`draht call` exit 4 when the answer is a 4xx and 5 when it is a 5xx.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import http.client
import importlib
import ipaddress
import json
import os
import signal
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from draht import PROJECT_ROOT
from draht.local.events import HttpRequest, HttpResponse
from draht.local.keys import KeyFileError
from draht.local.runtime import DEFAULT_IDLE_RETIRE_S, Deployment, Outcome, Runtime
from draht.local.store import (
    LOCAL_CREDENTIALS,
    LOCAL_REGION,
    DataFolder,
    Store,
    StoreError,
    open_store,
)
from draht.model import App, DeclarationError
from draht.settings import LOCAL_SETTINGS_FILE, ConfigError, Settings, local_settings

if TYPE_CHECKING:
    from draht.local.server import Console

DEFAULT_PORT = 3000
DEFAULT_APP = "draht.app:app"
_CREDENTIAL_VARIABLES = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
)


class UsageError(Exception):
    """Bad arguments or configuration: exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="draht", description="Draht's API on this machine.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    common = _Parser(add_help=False)
    common.add_argument(
        "--app",
        default=DEFAULT_APP,
        metavar="MODULE:ATTR",
        help=f"the app declaration to serve (default {DEFAULT_APP})",
    )
    store = _Parser(add_help=False)
    store.add_argument(
        "--data-dir",
        type=Path,
        default=PROJECT_ROOT / ".draht",
        metavar="DIR",
        help="the local store's folder (default .draht/ in the project)",
    )
    store.add_argument(
        "--dynamodb-endpoint",
        metavar="URL",
        help="use this DynamoDB endpoint (DynamoDB Local, LocalStack, AWS) instead of dynalite",
    )
    code = _Parser(add_help=False)
    code.add_argument(
        "--handlers",
        type=Path,
        default=PROJECT_ROOT / "handlers",
        metavar="DIR",
        help="the handlers' folder (default handlers/ in the project)",
    )
    stack = _Parser(add_help=False)
    stack.add_argument(
        "--stack-config",
        type=Path,
        default=PROJECT_ROOT / LOCAL_SETTINGS_FILE,
        metavar="FILE",
        help="the Pulumi stack config for memory, timeout and auth"
        f" (default {LOCAL_SETTINGS_FILE})",
    )

    dev = commands.add_parser(
        "dev", parents=[common, store, code, stack], help="serve the app's routes locally"
    )
    dev.add_argument("--port", type=int, default=DEFAULT_PORT, help="0 picks a free port")
    dev.add_argument("--host", default="127.0.0.1", help="the address to listen on")
    dev.add_argument("--reset", action="store_true", help="empty the local store first")
    dev.add_argument(
        "--no-auth",
        action="store_true",
        help="serve the protected routes without their iam or jwt auth",
    )
    dev.add_argument(
        "--worker-idle",
        type=float,
        default=DEFAULT_IDLE_RETIRE_S,
        metavar="SECONDS",
        help="a function's extra workers retire after this long idle; one stays warm"
        f" (default {DEFAULT_IDLE_RETIRE_S:g})",
    )

    commands.add_parser("seed", parents=[common, store], help="load the sample data set")

    one_request = _Parser(add_help=False)
    one_request.add_argument("request", metavar='"METHOD /path?query"')
    one_request.add_argument(
        "-H",
        "--header",
        action="append",
        default=[],
        metavar="'NAME: VALUE'",
        help="a request header (repeatable)",
    )
    one_request.add_argument("--body", default="", help="the request body")

    commands.add_parser(
        "invoke",
        parents=[common, store, code, stack, one_request],
        help="run one request and print the response",
    )

    call = commands.add_parser(
        "call",
        parents=[common, store, stack, one_request],
        help="send one request to the running draht dev, signed for the stage's auth",
    )
    call.add_argument(
        "--url", help="the server's base URL (default: the draht dev of the data folder)"
    )
    call.add_argument(
        "--unsigned", action="store_true", help="send it without a signature or token"
    )

    token = commands.add_parser(
        "token",
        parents=[common, store, stack],
        help="print a development token for the stage's jwt routes",
    )
    token.add_argument(
        "--scope",
        action="append",
        metavar="SCOPE",
        help="a scope to grant (repeatable; default: every scope a route asks for)",
    )
    token.add_argument("--subject", default="draht-local", help="the token's sub claim")
    token.add_argument(
        "--expires-in", type=int, default=3600, metavar="SECONDS", help="lifetime (default 3600)"
    )

    commands.add_parser(
        "openapi", parents=[common, stack], help="print the OpenAPI document for the stack's auth"
    )
    return parser


def load_app(reference: str) -> App:
    """`module:attribute`, imported with the current directory on the path, as uvicorn does."""
    module_name, colon, attribute = reference.partition(":")
    if not colon or not module_name or not attribute:
        raise UsageError(f"--app {reference!r} must look like module:attribute")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise UsageError(f"--app {reference}: cannot import {module_name}: {error}") from None
    app = getattr(module, attribute, None)
    if not isinstance(app, App):
        raise UsageError(f"--app {reference}: {attribute} is not an App declaration")
    return app


def _settings(path: Path) -> Settings:
    if path != PROJECT_ROOT / LOCAL_SETTINGS_FILE and not path.is_file():
        raise UsageError(f"--stack-config {path} does not exist")
    return local_settings(path)


def _handlers_dir(path: Path) -> Path:
    if not path.is_dir():
        raise UsageError(f"--handlers {path} is not a folder")
    return path.resolve()


@dataclass(frozen=True)
class _Access:
    """The region and credentials the CLI and the workers use with a store."""

    region: str
    credentials: dict[str, str]
    from_environment: bool

    @classmethod
    def for_store(cls, custom_endpoint: bool) -> _Access:
        if custom_endpoint:
            # Another store may want real credentials and a region (an AWS endpoint does).
            passed = {k: os.environ[k] for k in _CREDENTIAL_VARIABLES if k in os.environ}
            if passed:
                region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
                return cls(region or LOCAL_REGION, passed, True)
        return cls(LOCAL_REGION, dict(LOCAL_CREDENTIALS), False)

    def client(self, endpoint: str) -> Any:
        from draht.local.store import dynamodb_client

        if not self.from_environment:
            return dynamodb_client(endpoint, self.region)
        import boto3

        return boto3.client("dynamodb", endpoint_url=endpoint, region_name=self.region)


def _deployment(
    app: App,
    handlers_dir: Path,
    settings: Settings,
    store: Store,
    access: _Access,
    keys_dir: Path | None = None,
) -> Deployment:
    """The local stack; with `keys_dir`, its protected routes check auth with those keys."""
    from draht.local.store import ensure_tables

    try:
        table_arns = ensure_tables(access.client(store.endpoint), app.name, app.tables)
    except Exception as error:
        raise StoreError(f"the store at {store.endpoint} failed: {error}") from None
    deployment = Deployment(
        app=app,
        handlers_dir=handlers_dir,
        settings=settings,
        store_endpoint=store.endpoint,
        table_arns=table_arns,
        region=access.region,
        credentials=access.credentials,
    )
    if keys_dir is None:
        return deployment
    from draht.local.auth import local_authorizer

    authorizer = local_authorizer(settings, keys_dir, deployment.region, deployment.account_id)
    return dataclasses.replace(deployment, authorizer=authorizer)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _dev(args: argparse.Namespace) -> int:
    app = load_app(args.app)
    handlers_dir = _handlers_dir(args.handlers)
    settings = _settings(args.stack_config)
    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port {args.port} must be from 0 to 65535")
    if args.worker_idle <= 0:
        raise UsageError(f"--worker-idle {args.worker_idle:g} must be above 0 seconds")
    if args.reset and args.dynamodb_endpoint:
        raise UsageError(
            "--reset empties the local store only; it cannot be used with --dynamodb-endpoint"
        )
    # Only `draht dev` serves HTTP: seed and invoke never load the server.
    from draht.local.server import Console

    console = Console()
    if args.no_auth and settings.auth != "none" and not _is_loopback(args.host):
        print(
            f"draht dev: warning: --no-auth on --host {args.host}: anyone who can reach this"
            f" address can call the {settings.auth}-protected routes without auth",
            file=sys.stderr,
        )
    keys_dir = None if args.no_auth else args.data_dir
    with open_store(args.data_dir, args.dynamodb_endpoint, reset=args.reset) as store:
        access = _Access.for_store(args.dynamodb_endpoint is not None)
        deployment = _deployment(app, handlers_dir, settings, store, access, keys_dir)
        asyncio.run(_serve(deployment, store, args.host, args.port, console, args.worker_idle))
    return 0


async def _serve(
    deployment: Deployment,
    store: Store,
    host: str,
    port: int,
    console: Console,
    idle_retire_s: float,
) -> None:
    from draht.local.server import DevServer, banner

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for stop_signal in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(stop_signal, stop.set)
    runtime = Runtime(
        deployment,
        on_reload=lambda: console.line("handlers changed: workers restart on their next request"),
        idle_retire_s=idle_retire_s,
    )
    server = DevServer(runtime, console)
    try:
        bound = await server.start(host, port)
    except OSError as error:
        raise UsageError(
            f"cannot listen on {host}:{port} ({error.strerror}): stop what holds it or pass --port"
        ) from None
    supervisor = (
        None
        if store.dynalite is None
        else loop.create_task(store.dynalite.keep_running(console.line))
    )
    try:
        url = f"http://{host}:{bound}"
        if store.folder is not None:
            store.folder.record_server(url, store.endpoint)
        console.line(banner(url, deployment, store))
        await stop.wait()
        console.line("stopping: workers and store")
    finally:
        if supervisor is not None:
            supervisor.cancel()
        await server.stop()


def _seed(args: argparse.Namespace) -> int:
    from draht.local.seed import seed
    from draht.local.store import ensure_tables

    app = load_app(args.app)
    with open_store(args.data_dir, args.dynamodb_endpoint, share_running=True) as store:
        client = _Access.for_store(args.dynamodb_endpoint is not None).client(store.endpoint)
        try:
            ensure_tables(client, app.name, app.tables)
            data = seed(client, app)
        except DeclarationError:
            raise
        except Exception as error:
            raise StoreError(f"seeding the store at {store.endpoint} failed: {error}") from None
    print(
        f"seeded {len(data.clients)} clients and {len(data.sessions)} sessions"
        f" into {store.description}"
    )
    return 0


def parse_request_line(text: str, headers: Sequence[str], body: str) -> HttpRequest:
    parts = text.split()
    if len(parts) != 2 or not parts[1].startswith("/"):
        raise UsageError(f'request {text!r} must look like "GET /path?query"')
    parsed_headers = [("host", "localhost"), ("user-agent", "draht-invoke")]
    for header in headers:
        name, colon, value = header.partition(":")
        if not colon or not name.strip():
            raise UsageError(f"header {header!r} must look like 'Name: value'")
        parsed_headers.append((name.strip(), value.strip()))
    return HttpRequest(
        method=parts[0].upper(), target=parts[1], headers=parsed_headers, body=body.encode()
    )


def _invoke(args: argparse.Namespace) -> int:
    app = load_app(args.app)
    handlers_dir = _handlers_dir(args.handlers)
    settings = _settings(args.stack_config)
    request = parse_request_line(args.request, args.header, args.body)
    with open_store(args.data_dir, args.dynamodb_endpoint, share_running=True) as store:
        access = _Access.for_store(args.dynamodb_endpoint is not None)
        deployment = _deployment(app, handlers_dir, settings, store, access)
        outcome = asyncio.run(_invoke_once(deployment, request))
    if outcome.error is not None:
        print(outcome.error.rstrip(), file=sys.stderr)
    print(dumps_response(outcome))
    temperature = "-" if outcome.function is None else "cold" if outcome.cold else "warm"
    print(f"{outcome.function or 'no route'} {temperature}", file=sys.stderr)
    return exit_status(outcome.response.status)


def exit_status(http_status: int) -> int:
    """0 for an answer below 400; 4 for a 4xx and 5 for a 5xx, so a script can tell them apart."""
    return http_status // 100 if http_status >= 400 else 0


def dumps_response(outcome: Outcome) -> str:
    """A response as `draht invoke` prints it: status line, headers, then the body."""
    response = outcome.response
    lines = [f"HTTP {response.status}"]
    lines += [f"{name}: {value}" for name, value in response.headers]
    body = response.body.decode("utf-8", errors="replace")
    with contextlib.suppress(ValueError):
        body = json.dumps(json.loads(body), indent=2, ensure_ascii=False)
    return "\n".join([*lines, "", body])


async def _invoke_once(deployment: Deployment, request: HttpRequest) -> Outcome:
    runtime = Runtime(deployment)
    try:
        return await runtime.handle(request)
    finally:
        runtime.close()


def _call(args: argparse.Namespace) -> int:
    from draht.local.caller import Caller

    app = load_app(args.app)
    settings = _settings(args.stack_config)
    request = parse_request_line(args.request, args.header, args.body)
    base_url = args.url or _running_url(args.data_dir)
    if not base_url.startswith("http://"):
        raise UsageError(f"--url {base_url!r} must start with http://")
    if args.unsigned:
        settings = dataclasses.replace(settings, auth="none")
    caller = Caller(settings, args.data_dir, app)
    target, headers = caller.prepare(
        request.method, base_url.rstrip("/") + request.target, request.headers, request.body
    )
    response = _send(base_url, request.method, target, headers, request.body)
    print(dumps_response(Outcome(response, "")))
    return exit_status(response.status)


def _running_url(data_dir: Path) -> str:
    running = DataFolder(data_dir).running_server()
    if running is None:
        raise StoreError(
            f"draht call: no draht dev is running on the data folder {data_dir}:"
            " start one with `draht dev`, or pass --url"
        )
    return str(running["url"])


def _send(
    base_url: str, method: str, target: str, headers: Sequence[tuple[str, str]], body: bytes
) -> HttpResponse:
    connection = http.client.HTTPConnection(
        base_url.removeprefix("http://").rstrip("/"), timeout=60
    )
    try:
        connection.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
        for name, value in headers:
            connection.putheader(name, value)
        if body or method in ("POST", "PUT", "PATCH"):
            connection.putheader("content-length", str(len(body)))
        connection.endheaders(body or None)
        answer = connection.getresponse()
        return HttpResponse(
            answer.status, [(k.lower(), v) for k, v in answer.getheaders()], answer.read()
        )
    except OSError as error:
        raise StoreError(f"draht call: cannot reach {base_url} ({error})") from None
    finally:
        connection.close()


def _token(args: argparse.Namespace) -> int:
    import time

    from draht.local.auth import dev_token_claims
    from draht.local.jwt import sign
    from draht.local.keys import local_issuer

    app = load_app(args.app)
    settings = _settings(args.stack_config)
    if settings.auth != "jwt":
        raise UsageError(
            f"draht:auth is {settings.auth} in {args.stack_config}: tokens are for jwt auth"
            " (set draht:auth jwt with draht:jwtIssuer and draht:jwtAudience)"
        )
    if args.expires_in < 1:
        raise UsageError(f"--expires-in {args.expires_in} must be at least 1 second")
    scopes = args.scope
    if scopes is None:
        scopes = sorted({scope for route in app.routes for scope in route.scopes})
    issuer = local_issuer(args.data_dir)
    claims = dev_token_claims(settings, scopes, args.subject, args.expires_in, int(time.time()))
    print(sign(claims, issuer.private_key, issuer.kid))
    return 0


def _openapi(args: argparse.Namespace) -> int:
    from draht.openapi import document

    settings = _settings(args.stack_config)
    print(json.dumps(document(load_app(args.app), auth=settings.auth), indent=2))
    return 0


_COMMANDS = {
    "dev": _dev,
    "seed": _seed,
    "invoke": _invoke,
    "call": _call,
    "token": _token,
    "openapi": _openapi,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return _COMMANDS[args.command](args)
    except (UsageError, ConfigError, DeclarationError, KeyFileError) as error:
        print(f"draht {args.command}: {error}", file=sys.stderr)
        return 2
    except StoreError as error:
        # Store messages are whole sentences that name what failed ("draht dev needs Node.js").
        print(error, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
