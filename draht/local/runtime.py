"""The Lambda side of `draht dev`: warm worker processes per function, routed v2 events.

Each function runs in its own processes with its own environment, as on Lambda:
one warm worker serves requests one at a time, more start only while requests
overlap and retire once idle, and a crashed, timed-out or outdated worker is
replaced by a fresh one on the next request. Workers run on the deployed
runtime's Python where this machine has it, and import only what the
function's zip and Lambda's runtime hold.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import secrets
import subprocess
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from draht import PROJECT_ROOT
from draht.cors import cors_for
from draht.local import cors
from draht.local.auth import Authorizer
from draht.local.events import (
    INTERNAL_ERROR,
    LOCAL_ACCOUNT_ID,
    NOT_FOUND,
    HttpRequest,
    HttpResponse,
    MalformedResponse,
    Router,
    build_event,
    http_response,
)
from draht.local.iam import caller_arn
from draht.local.limits import (
    INTEGRATION_TIMED_OUT,
    INTEGRATION_TIMEOUT_S,
    TOO_MANY_REQUESTS,
    RouteThrottle,
    integration_cutoff_s,
)
from draht.local.python import Interpreter, lambda_interpreter, runtime_packages
from draht.local.store import LOCAL_CREDENTIALS, LOCAL_REGION, local_table_name
from draht.local.worker import BOOTSTRAP, FrameDecoder, FrameTooLarge, encode_frame
from draht.model import PYTHON_RUNTIME, App, Function, policy_statements, resource_environment
from draht.package import (
    GENERATED_DIR,
    function_request_schemas,
    handler_files,
    write_validators,
)
from draht.settings import Settings

LOCAL_STAGE = "local"
INIT_TIMEOUT_S = 10.0
"""Lambda's limit on a function's init phase: importing the handler."""
DEFAULT_IDLE_RETIRE_S = 60.0
"""How long a worker beyond a function's last warm one stays after a burst."""
RESPONSE_LIMIT_BYTES = 6 * 1024 * 1024
"""Lambda's limit on a synchronous invocation's response payload."""
_PASSED_THROUGH = ("PATH", "SYSTEMROOT")
_LAMBDA_ERROR_FIELDS = ("errorMessage", "errorType", "requestId", "stackTrace")


@dataclass(frozen=True)
class Invocation:
    result: Any
    duration_ms: float
    """The handler's own time, as Lambda's REPORT line gives it."""


class InvocationFailed(Exception):
    """The function did not produce a result; the message is for the server's console."""


@dataclass(frozen=True)
class Deployment:
    """What the local stack was built with: the app, its code, its store and its settings."""

    app: App
    handlers_dir: Path
    settings: Settings
    store_endpoint: str
    table_arns: Mapping[str, str]
    region: str = LOCAL_REGION
    credentials: Mapping[str, str] = field(default_factory=lambda: dict(LOCAL_CREDENTIALS))
    python: Interpreter = field(default_factory=lambda_interpreter)
    generated_dir: Path = GENERATED_DIR
    """Where the code generated into the zips (the request validators) is written for workers,
    in a folder per function."""
    authorizer: Authorizer | None = None
    """Checks protected routes as deployed; None serves them open (`--no-auth`, `draht invoke`)."""

    @property
    def _any_table_arn(self) -> str | None:
        return next(iter(self.table_arns.values()), None)

    @property
    def account_id(self) -> str:
        """The store's account, as its table ARNs name it (dynalite's is all zeros)."""
        arn = self._any_table_arn
        return arn.split(":")[4] if arn else LOCAL_ACCOUNT_ID

    @property
    def table_arn_prefix(self) -> str:
        arn = self._any_table_arn
        if arn:
            return arn.rsplit("/", 1)[0] + "/"
        return f"arn:aws:dynamodb:{self.region}:{self.account_id}:table/"

    def role_name(self, function: Function) -> str:
        return f"{self.app.name}-{LOCAL_STAGE}-{function.name}"

    def function_arn(self, function: Function) -> str:
        return f"arn:aws:lambda:{self.region}:{self.account_id}:function:{function.name}"

    def environment(self, function: Function) -> dict[str, str]:
        """Lambda's environment for the function: its own links and nothing of its neighbours."""
        environment = {name: os.environ[name] for name in _PASSED_THROUGH if name in os.environ}
        environment.update(self.credentials)
        environment.update(
            {
                "LANG": "C.UTF-8",
                "TZ": ":UTC",
                # Handler output reaches the console as it is written, as it reaches CloudWatch.
                "PYTHONUNBUFFERED": "1",
                "PYTHONDONTWRITEBYTECODE": "1",
                "LAMBDA_TASK_ROOT": str(self.handlers_dir),
                "_HANDLER": function.handler,
                "AWS_EXECUTION_ENV": f"AWS_Lambda_{PYTHON_RUNTIME}",
                "AWS_LAMBDA_FUNCTION_NAME": function.name,
                "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(self.settings.memory_mb_of(function)),
                "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{function.name}",
                "AWS_LAMBDA_LOG_STREAM_NAME": f"{time.strftime('%Y/%m/%d')}/[$LATEST]local",
                "AWS_REGION": self.region,
                "AWS_DEFAULT_REGION": self.region,
                "AWS_ENDPOINT_URL_DYNAMODB": self.store_endpoint,
            }
        )
        linked = {
            link.table.name: (
                local_table_name(self.app.name, link.table),
                self.table_arns[link.table.name],
            )
            for link in function.links
        }
        environment.update(resource_environment(self.app, LOCAL_STAGE, linked))
        return environment

    def worker_command(self, read_fd: int, write_fd: int) -> list[str]:
        # -I -S: nothing from the environment or site-packages; the init frame says what
        # may be imported. -u: handler output reaches the console as written.
        return [
            self.python.executable,
            "-I",
            "-S",
            "-u",
            "-c",
            BOOTSTRAP,
            # The folder the worker's own package is imported from.
            str(PROJECT_ROOT),
            str(read_fd),
            str(write_fd),
        ]

    def _zip_files(self, function: Function) -> list[str]:
        try:
            return list(handler_files(function, self.handlers_dir))
        except SyntaxError:
            # The worker's import reports the error as Lambda does; the packager cannot
            # follow the imports of a file it cannot parse.
            return [f"{function.module.replace('.', '/')}.py"]

    def init_frame(self, function: Function) -> bytes:
        packages = runtime_packages()
        return encode_frame(
            {
                "module": function.module,
                "attribute": function.attribute,
                "handlersDir": str(self.handlers_dir),
                "generatedDir": str(self.generated_dir / function.name),
                "zipFiles": self._zip_files(function),
                "runtimeModules": sorted(packages.modules),
                "runtimePaths": list(packages.paths),
                "functionArn": self.function_arn(function),
                "statements": policy_statements(function, self.table_arns),
                "caller": caller_arn(self.account_id, self.role_name(function), function.name),
                "tableArnPrefix": self.table_arn_prefix,
            }
        )


class Worker:
    """One worker process of one function, and the pipes to it."""

    def __init__(self, deployment: Deployment, function: Function, generation: int) -> None:
        self.generation = generation
        self.invocations = 0
        self.idle_since = 0.0
        self._function_name = function.name
        self._loop = asyncio.get_running_loop()
        self._decoder = FrameDecoder(RESPONSE_LIMIT_BYTES)
        self._pending: asyncio.Future[Any] | None = None
        request_read, self._request_fd = os.pipe()
        self._response_fd, response_write = os.pipe()
        try:
            self._process = subprocess.Popen(
                deployment.worker_command(request_read, response_write),
                env=deployment.environment(function),
                cwd=deployment.handlers_dir,
                stdin=subprocess.DEVNULL,
                pass_fds=(request_read, response_write),
            )
        except BaseException:
            os.close(self._request_fd)
            os.close(self._response_fd)
            raise
        finally:
            os.close(request_read)
            os.close(response_write)
        self._loop.add_reader(self._response_fd, self._on_readable)
        self._send(deployment.init_frame(function))

    @property
    def alive(self) -> bool:
        return self._response_fd >= 0

    async def ready(self) -> None:
        reply = await self._next_reply(INIT_TIMEOUT_S, "init")
        if "error" in reply:
            self.stop()
            raise InvocationFailed(_describe_error(reply["error"], self._function_name))

    async def invoke(self, event: dict[str, Any], timeout_s: float) -> Invocation:
        self.invocations += 1
        deadline_ms = int((time.time() + timeout_s) * 1000)
        self._send(
            encode_frame(
                {"requestId": str(uuid.uuid4()), "deadlineMs": deadline_ms, "event": event}
            )
        )
        reply = await self._next_reply(timeout_s, "invocation")
        if "error" in reply:
            raise InvocationFailed(_describe_error(reply["error"], self._function_name))
        return Invocation(reply["result"], reply["durationMs"])

    def _send(self, frame: bytes) -> None:
        try:
            view = memoryview(frame)
            while view:
                view = view[os.write(self._request_fd, view) :]
        except OSError:
            # The worker is gone; its end-of-file arrives through `_on_readable`.
            pass

    def _next_reply(self, timeout_s: float, phase: str) -> asyncio.Future[Any]:
        future = self._loop.create_future()
        if not self.alive:
            future.set_exception(InvocationFailed(self._exit_description()))
            return future
        self._pending = future
        timer = self._loop.call_later(timeout_s, self._time_out, future, timeout_s, phase)
        future.add_done_callback(lambda _: timer.cancel())
        return future

    def _time_out(self, future: asyncio.Future[Any], timeout_s: float, phase: str) -> None:
        self.stop()
        if not future.done():
            future.set_exception(
                InvocationFailed(f"Task timed out after {timeout_s:.2f} seconds ({phase})")
            )

    def _on_readable(self) -> None:
        try:
            chunk = os.read(self._response_fd, 1 << 16)
        except OSError:
            chunk = b""
        if not chunk:
            self._reap()
            self._fail_pending(InvocationFailed(self._exit_description()))
            return
        try:
            for message in self._decoder.feed(chunk):
                pending, self._pending = self._pending, None
                if pending is not None and not pending.done():
                    pending.set_result(message)
        except FrameTooLarge as too_large:
            self.stop()
            self._fail_pending(
                InvocationFailed(f"response payload exceeds Lambda's 6 MB limit: {too_large}")
            )

    def _fail_pending(self, failure: InvocationFailed) -> None:
        pending, self._pending = self._pending, None
        if pending is not None and not pending.done():
            pending.set_exception(failure)

    def _exit_description(self) -> str:
        code = self._process.poll()
        if code is None:
            return "the worker closed its channel"
        if code < 0:
            return f"Runtime exited with signal {-code}"
        return f"Runtime exited with error: exit status {code}"

    def _reap(self) -> None:
        if self._response_fd >= 0:
            self._loop.remove_reader(self._response_fd)
            os.close(self._response_fd)
            os.close(self._request_fd)
            self._response_fd = self._request_fd = -1
        try:
            self._process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()

    def stop(self) -> None:
        """End the process now: a stopped worker never finishes what it was doing."""
        if self._process.poll() is None:
            self._process.kill()
        self._reap()


def _describe_error(error: Mapping[str, Any], function_name: str) -> str:
    """The console's account of a failed invocation: Lambda's own log line, or the traceback."""
    if str(error.get("errorType", "")).startswith("Runtime."):
        # awslambdaric's `log_error` under the JSON log format the stack configures.
        text = json.dumps(
            {
                "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()),
                "level": "ERROR",
                **{key: error.get(key) for key in _LAMBDA_ERROR_FIELDS},
            }
        )
    else:
        text = str(
            error.get("traceback") or f"{error.get('errorType')}: {error.get('errorMessage')}"
        )
    missing = error.get("missingModule")
    if missing:
        text = (
            f"{text.rstrip()}\n{missing} is not in the {function_name} function's zip, and"
            " Lambda's Python runtime does not provide it (it has the standard library, boto3,"
            " botocore and their dependencies): deployed, this import fails the same way"
        )
    return text


class FunctionPool:
    """The workers of one function: reused while warm, one more only while requests overlap.

    Workers started before the handlers last changed are outdated: they finish
    the request they are serving and are not used again. After a burst, workers
    idle for `idle_retire_s` retire until one warm worker is left.
    """

    def __init__(
        self,
        deployment: Deployment,
        function: Function,
        max_workers: int,
        idle_retire_s: float = DEFAULT_IDLE_RETIRE_S,
    ) -> None:
        self._deployment = deployment
        self._function = function
        self._max_workers = max_workers
        self._idle_retire_s = idle_retire_s
        self._generation = 0
        # Most recently released last: acquiring takes from the end, so the others age.
        self._idle: list[Worker] = []
        self._workers: set[Worker] = set()
        self._waiting: deque[asyncio.Future[None]] = deque()
        self._retire_timer: asyncio.TimerHandle | None = None

    async def acquire(self) -> Worker:
        while True:
            while self._idle:
                worker = self._idle.pop()
                if worker.alive:
                    return worker
                self._retire(worker)
            if len(self._workers) < self._max_workers:
                worker = Worker(self._deployment, self._function, self._generation)
                self._workers.add(worker)
                try:
                    await worker.ready()
                except BaseException:
                    self._retire(worker)
                    raise
                return worker
            waiter = asyncio.get_running_loop().create_future()
            self._waiting.append(waiter)
            await waiter

    def release(self, worker: Worker) -> None:
        if worker.alive and worker.generation == self._generation:
            worker.idle_since = time.monotonic()
            self._idle.append(worker)
            self._wake_one()
            self._schedule_retirement()
        else:
            self._retire(worker)

    def _schedule_retirement(self) -> None:
        if self._retire_timer is not None or len(self._idle) < 2:
            return
        due = self._idle[0].idle_since + self._idle_retire_s - time.monotonic()
        loop = asyncio.get_running_loop()
        self._retire_timer = loop.call_later(max(0.0, due), self._retire_idle)

    def _retire_idle(self) -> None:
        self._retire_timer = None
        cutoff = time.monotonic() - self._idle_retire_s
        while len(self._idle) > 1 and self._idle[0].idle_since <= cutoff:
            self._retire(self._idle.pop(0))
        self._schedule_retirement()

    def _retire(self, worker: Worker) -> None:
        worker.stop()
        self._workers.discard(worker)
        self._wake_one()

    def _wake_one(self) -> None:
        while self._waiting:
            waiter = self._waiting.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def outdate(self) -> None:
        self._generation += 1
        idle, self._idle = self._idle, []
        for worker in idle:
            self._retire(worker)

    def stop_all(self) -> None:
        if self._retire_timer is not None:
            self._retire_timer.cancel()
            self._retire_timer = None
        self._idle = []
        for worker in list(self._workers):
            self._retire(worker)


class HandlerWatcher:
    """Notices a change under `handlers/` when the next request arrives.

    A stat of each file per request costs tens of microseconds and is exact: no
    watcher thread, no polling interval within which an old handler still answers.
    """

    def __init__(self, root: Path) -> None:
        self._root = str(root)
        self._snapshot = self._take()

    def _take(self) -> list[tuple[str, int, int]]:
        entries: list[tuple[str, int, int]] = []
        pending = [self._root]
        while pending:
            # Editors create and remove temporary files; one gone before its stat is skipped.
            try:
                with os.scandir(pending.pop()) as scan:
                    listed = list(scan)
            except FileNotFoundError:
                continue
            for entry in listed:
                if entry.name.startswith(".") or entry.name == "__pycache__":
                    continue
                try:
                    if entry.is_dir(follow_symlinks=False):
                        pending.append(entry.path)
                        continue
                    stat = entry.stat()
                except FileNotFoundError:
                    continue
                entries.append((entry.path, stat.st_mtime_ns, stat.st_size))
        entries.sort()
        return entries

    def changed(self) -> bool:
        snapshot = self._take()
        if snapshot == self._snapshot:
            return False
        self._snapshot = snapshot
        return True


@dataclass(frozen=True)
class Outcome:
    """How one request was served, for the console's request line."""

    response: HttpResponse
    request_id: str
    function: str | None = None
    cold: bool = False
    error: str | None = None
    handler_ms: float | None = None
    """How long the handler ran, when it returned."""


class Runtime:
    """Routes HTTP requests to functions' workers and turns their results into responses."""

    def __init__(
        self,
        deployment: Deployment,
        max_workers_per_function: int = 4,
        on_reload: Callable[[], None] | None = None,
        integration_timeout_s: float = INTEGRATION_TIMEOUT_S,
        idle_retire_s: float = DEFAULT_IDLE_RETIRE_S,
    ) -> None:
        self.deployment = deployment
        # Workers import what the zips carry: the handlers and the code generated for each.
        for function in deployment.app.functions:
            write_validators(
                deployment.generated_dir / function.name,
                function_request_schemas(function, deployment.app),
            )
        self._router = Router(deployment.app.routes)
        self._cors = cors_for(deployment.app, deployment.settings.cors_origins)
        settings = deployment.settings
        self._throttle = RouteThrottle(settings.throttling_rate, settings.throttling_burst)
        self._integration_timeout_s = integration_timeout_s
        self._pools = {
            function.name: FunctionPool(
                deployment, function, max_workers_per_function, idle_retire_s
            )
            for function in deployment.app.functions
        }
        self._watcher = HandlerWatcher(deployment.handlers_dir)
        self._on_reload = on_reload

    async def handle(self, request: HttpRequest) -> Outcome:
        request_id = _api_request_id()
        match = self._router.match(request.method, request.path)
        if match is None and self._cors is not None and cors.is_preflight(request):
            return Outcome(cors.preflight_response(self._cors, request), request_id)
        if match is None:
            return Outcome(NOT_FOUND, request_id)
        route, path_parameters = match
        if not self._throttle.admit(route.key, time.monotonic()):
            return Outcome(TOO_MANY_REQUESTS, request_id)
        if self._watcher.changed():
            for pool in self._pools.values():
                pool.outdate()
            if self._on_reload is not None:
                self._on_reload()
        authorizer = self.deployment.authorizer
        context = None
        if authorizer is not None and route.auth == "protected":
            decision = authorizer.authorize(request, route)
            if isinstance(decision, HttpResponse):
                return Outcome(decision, request_id)
            context = decision
        function = route.function
        event = build_event(
            request,
            route,
            path_parameters,
            request_id,
            account_id=self.deployment.account_id,
            authorizer=context,
        )
        pool = self._pools[function.name]
        try:
            worker = await pool.acquire()
        except InvocationFailed as failure:
            return Outcome(INTERNAL_ERROR, request_id, function.name, cold=True, error=str(failure))
        cold = worker.invocations == 0
        timeout_s = self.deployment.settings.timeout_s_of(function)
        invocation: Awaitable[Invocation] = worker.invoke(event, timeout_s)
        cutoff = integration_cutoff_s(timeout_s, self._integration_timeout_s)
        if cutoff is not None:
            # Only a function allowed to run past the integration timeout needs a task of its
            # own; awaiting it directly saves the common case two turns of the event loop.
            detached = asyncio.ensure_future(invocation)
            try:
                finished, _ = await asyncio.wait((detached,), timeout=cutoff)
            except asyncio.CancelledError:
                detached.cancel()
                worker.stop()
                pool.release(worker)
                raise
            if not finished:
                # HTTP API has stopped waiting; the function runs on to its own timeout, as on AWS.
                detached.add_done_callback(lambda _: _settle(detached, pool, worker))
                error = (
                    f"no answer within HTTP API's {cutoff:g} s integration timeout;"
                    f" the function runs on until its own {timeout_s} s timeout"
                )
                return Outcome(INTEGRATION_TIMED_OUT, request_id, function.name, cold, error)
            invocation = detached
        try:
            returned = await invocation
            response = http_response(returned.result)
            if self._cors is not None:
                response = cors.integration_response(self._cors, request, response)
        except (InvocationFailed, MalformedResponse) as failure:
            return Outcome(INTERNAL_ERROR, request_id, function.name, cold, str(failure))
        finally:
            pool.release(worker)
        return Outcome(response, request_id, function.name, cold, handler_ms=returned.duration_ms)

    def close(self) -> None:
        for pool in self._pools.values():
            pool.stop_all()


def _settle(invocation: asyncio.Future[Any], pool: FunctionPool, worker: Worker) -> None:
    """Frees the worker of an invocation nobody waits for any more, whatever its end."""
    if not invocation.cancelled():
        invocation.exception()
    pool.release(worker)


def _api_request_id() -> str:
    """An id shaped like API Gateway's (`JKJaXmPLvHcESHA=`), distinct from Lambda's UUID."""
    return base64.b64encode(secrets.token_bytes(10)).decode()
