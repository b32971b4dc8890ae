"""One function's worker process: imports the handler once, then runs it for each event.

The server talks to it over two pipes with length-prefixed JSON frames: an init
frame (what to import, what the zip holds and the policy to enforce), then one
frame per invocation each way. Nothing else crosses, so a warm call costs two
small writes and reads.

Started as `python -I -S -u -c BOOTSTRAP <draht folder> <read fd> <write fd>` on the
interpreter of the deployed runtime's version when there is one. The environment
is the function's own, as Lambda builds it, set by the server. Only the standard
library is imported here, so the worker runs on any Python the server finds.
"""

from __future__ import annotations

import decimal
import importlib
import importlib.abc
import importlib.machinery
import json
import os
import signal
import struct
import sys
import time
import traceback
from collections.abc import Callable, Iterable, Iterator, Sequence
from types import ModuleType
from typing import Any

from draht.local.iam import Enforcer, Policy

_HEADER = struct.Struct(">I")

BOOTSTRAP = (
    "import sys; sys.path.insert(0, sys.argv[1]); "
    "from draht.local.worker import main; sys.exit(main(sys.argv[1:]))"
)
"""What the server runs with `-c`: the worker's own package is found from its folder alone."""


def encode_frame(message: Any) -> bytes:
    data = json.dumps(message, separators=(",", ":"), default=_lambda_json).encode()
    return _HEADER.pack(len(data)) + data


def _lambda_json(value: object) -> Any:
    """What Lambda's Python runtime does with values `json` cannot encode: Decimal as float."""
    if isinstance(value, decimal.Decimal):
        return float(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


class FrameTooLarge(ValueError):
    pass


class FrameDecoder:
    """Reassembles frames from whatever chunks the pipe delivers."""

    def __init__(self, max_frame_bytes: int) -> None:
        self._buffer = bytearray()
        self._max_frame_bytes = max_frame_bytes

    def feed(self, chunk: bytes) -> Iterator[Any]:
        self._buffer += chunk
        while len(self._buffer) >= _HEADER.size:
            (length,) = _HEADER.unpack_from(self._buffer)
            if length > self._max_frame_bytes:
                raise FrameTooLarge(f"{length} bytes, above the limit of {self._max_frame_bytes}")
            end = _HEADER.size + length
            if len(self._buffer) < end:
                return
            frame = bytes(self._buffer[_HEADER.size : end])
            del self._buffer[:end]
            yield json.loads(frame)


class _Channel:
    def __init__(self, read_fd: int, write_fd: int) -> None:
        self._read_fd = read_fd
        self._write_fd = write_fd

    def receive(self) -> Any | None:
        """The next frame, or None once the server has gone."""
        header = self._read_exactly(_HEADER.size)
        if header is None:
            return None
        (length,) = _HEADER.unpack(header)
        data = self._read_exactly(length)
        return None if data is None else json.loads(data)

    def _read_exactly(self, size: int) -> bytes | None:
        chunks = bytearray()
        while len(chunks) < size:
            chunk = os.read(self._read_fd, size - len(chunks))
            if not chunk:
                return None
            chunks += chunk
        return bytes(chunks)

    def send(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            written = os.write(self._write_fd, view)
            view = view[written:]


class LambdaContext:
    """The `context` Lambda's Python runtime passes a handler, with the fields handlers use."""

    function_version = "$LATEST"
    identity = None
    client_context = None

    def __init__(self, aws_request_id: str, deadline_ms: int, function_arn: str) -> None:
        self.aws_request_id = aws_request_id
        self.function_name = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
        self.memory_limit_in_mb = os.environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"]
        self.invoked_function_arn = function_arn
        self.log_group_name = os.environ["AWS_LAMBDA_LOG_GROUP_NAME"]
        self.log_stream_name = os.environ["AWS_LAMBDA_LOG_STREAM_NAME"]
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self._deadline_ms - int(time.time() * 1000))


def _error(
    message: str,
    error_type: str,
    stack_trace: Sequence[str],
    exception: BaseException,
    request_id: str = "",
) -> dict[str, Any]:
    """An error in the shape Lambda's runtime reports it, plus what the server's console needs.

    `errorMessage`, `errorType`, `requestId` and `stackTrace` are awslambdaric's
    `make_error`; `traceback` and `missingModule` stay on this machine.
    """
    missing = _missing_module(exception)
    return {
        "error": {
            "errorMessage": message,
            "errorType": error_type,
            # Empty during init, as awslambdaric reports an init error.
            "requestId": request_id,
            "stackTrace": list(stack_trace),
            "traceback": "".join(traceback.format_exception(exception)),
            **({"missingModule": missing} if missing else {}),
        }
    }


def _missing_module(exception: BaseException | None) -> str | None:
    while exception is not None:
        if isinstance(exception, ModuleNotFoundError) and exception.name:
            return exception.name
        exception = exception.__cause__ or exception.__context__
    return None


class LambdaImports(importlib.abc.MetaPathFinder):
    """Imports as Lambda resolves them: the zip, the standard library, the runtime's packages.

    The handlers folder stays first on `sys.path` like `/var/task` on Lambda, but a
    module there that the function's zip does not carry is not found; the
    runtime's packages are searched in their own folders only, so nothing else
    installed beside them (yaml, pulumi...) can be imported.
    """

    def __init__(
        self,
        task_root: str,
        zip_files: Iterable[str],
        runtime_modules: Iterable[str],
        runtime_paths: Sequence[str],
    ) -> None:
        self._task_root = task_root
        self._zip_modules = {_module_name(file) for file in zip_files}
        self._zip_packages = {name.partition(".")[0] for name in self._zip_modules}
        self._runtime_modules = frozenset(runtime_modules)
        self._runtime_paths = list(runtime_paths)

    def find_spec(
        self, fullname: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        top = fullname.partition(".")[0]
        if fullname in self._zip_modules:
            return None
        if top in self._runtime_modules:
            if path is None:
                return importlib.machinery.PathFinder.find_spec(fullname, self._runtime_paths)
            return None
        if path is None:
            present = importlib.machinery.PathFinder.find_spec(fullname, [self._task_root])
            in_task_root = present is not None
        else:
            in_task_root = top in self._zip_packages
        if in_task_root:
            raise ModuleNotFoundError(f"No module named {fullname!r}", name=fullname)
        return None

    def install(self) -> None:
        # After the built-in and frozen importers, in front of the path finder.
        position = sys.meta_path.index(importlib.machinery.PathFinder)
        sys.meta_path.insert(position, self)


def _module_name(relative_path: str) -> str:
    parts = relative_path.removesuffix(".py").split("/")
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _forget_own_modules(own_folder: str) -> None:
    """Leave the handler nothing of draht's: Lambda has no such package."""
    if own_folder in sys.path:
        sys.path.remove(own_folder)
    for name in [n for n in sys.modules if n == "draht" or n.startswith("draht.")]:
        del sys.modules[name]


def _end_with_parent() -> None:
    """Die with the server even if it is killed outright, in the middle of a handler."""
    if sys.platform != "linux":
        return
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)


def _load_handler(init: dict[str, Any]) -> Callable[[Any, Any], Any]:
    """Import the handler as awslambdaric's `_get_handler` does, with its error types."""
    LambdaImports(
        init["handlersDir"], init["zipFiles"], init["runtimeModules"], init["runtimePaths"]
    ).install()
    Enforcer(
        policy=Policy(init["statements"]),
        caller=init["caller"],
        table_arn_prefix=init["tableArnPrefix"],
    ).install()
    # As in a zip, the generated modules sit beside the handlers.
    sys.path[0:0] = [init["handlersDir"], init["generatedDir"]]
    module_name, attribute = init["module"], init["attribute"]
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise _InitError(
            f"Unable to import module '{module_name}': {error}", "Runtime.ImportModuleError"
        ) from error
    except SyntaxError as error:
        raise _InitError(
            f"Syntax error in module '{module_name}': {error}",
            "Runtime.UserCodeSyntaxError",
            [f'  File "{error.filename}" Line {error.lineno}\n    {error.text}'],
        ) from error
    try:
        handler: Callable[[Any, Any], Any] = getattr(module, attribute)
    except AttributeError as error:
        raise _InitError(
            f"Handler '{attribute}' missing on module '{module_name}'", "Runtime.HandlerNotFound"
        ) from error
    return handler


class _InitError(Exception):
    def __init__(self, message: str, error_type: str, trace: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.trace = trace


def _failure(exception: BaseException, request_id: str = "") -> dict[str, Any]:
    if isinstance(exception, _InitError):
        cause = exception.__cause__ or exception
        return _error(str(exception), exception.error_type, exception.trace, cause)
    return _error(
        str(exception),
        type(exception).__name__,
        traceback.format_list(traceback.extract_tb(exception.__traceback__)),
        exception,
        request_id,
    )


def _invoke(
    handler: Callable[[Any, Any], Any], function_arn: str, message: dict[str, Any]
) -> bytes:
    context = LambdaContext(message["requestId"], message["deadlineMs"], function_arn)
    started = time.perf_counter()
    try:
        result = handler(message["event"], context)
    except Exception as exception:
        return encode_frame(_failure(exception, context.aws_request_id))
    # What Lambda's REPORT line calls Duration: the handler alone, so the server can tell
    # its own time from the function's.
    duration_ms = (time.perf_counter() - started) * 1000
    try:
        return encode_frame({"result": result, "durationMs": duration_ms})
    except (TypeError, ValueError) as exception:
        return encode_frame(
            _error(
                f"Unable to marshal response: {exception}",
                "Runtime.MarshalError",
                [],
                exception,
                context.aws_request_id,
            )
        )


def main(argv: list[str]) -> int:
    """`argv`: the folder draht was imported from, then the read and write descriptors."""
    # Ctrl-C reaches the whole terminal process group; the server decides when workers end.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _end_with_parent()
    _forget_own_modules(argv[0])
    channel = _Channel(int(argv[1]), int(argv[2]))
    init = channel.receive()
    if init is None:
        return 0
    try:
        handler = _load_handler(init)
    except Exception as exception:
        channel.send(encode_frame(_failure(exception)))
        return 1
    channel.send(encode_frame({"ready": True}))
    while (message := channel.receive()) is not None:
        channel.send(_invoke(handler, init["functionArn"], message))
    return 0
