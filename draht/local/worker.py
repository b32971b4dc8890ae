"""One function's worker process: imports the handler once, then runs it for each event.

The server talks to it over two pipes with length-prefixed JSON frames: an init
frame (what to import and the policy to enforce), then one frame per invocation
each way. Nothing else crosses, so a warm call costs two small writes and reads.

Run as `python -I -m draht.local.worker <read fd> <write fd>`; the environment is
the function's own, as Lambda builds it, set by the server.
"""

from __future__ import annotations

import decimal
import importlib
import json
import os
import signal
import struct
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from typing import Any

from draht.local.iam import Enforcer, Policy

_HEADER = struct.Struct(">I")


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


def _error(exception: BaseException, error_type: str | None = None) -> dict[str, Any]:
    """An error in the shape Lambda reports it, plus the traceback for the server's console."""
    return {
        "error": {
            "errorType": error_type or type(exception).__name__,
            "errorMessage": str(exception),
            "stackTrace": traceback.format_tb(exception.__traceback__),
            "traceback": "".join(traceback.format_exception(exception)),
        }
    }


def _end_with_parent() -> None:
    """Die with the server even if it is killed outright, in the middle of a handler."""
    if sys.platform != "linux":
        return
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)


def _load_handler(init: dict[str, Any]) -> Callable[[Any, Any], Any]:
    Enforcer(
        policy=Policy(init["statements"]),
        caller=init["caller"],
        table_arn_prefix=init["tableArnPrefix"],
    ).install()
    # As in a zip, the generated modules sit beside the handlers.
    sys.path[0:0] = [init["handlersDir"], init["generatedDir"]]
    module = importlib.import_module(init["module"])
    handler: Callable[[Any, Any], Any] = getattr(module, init["attribute"])
    return handler


def _invoke(
    handler: Callable[[Any, Any], Any], function_arn: str, message: dict[str, Any]
) -> bytes:
    context = LambdaContext(message["requestId"], message["deadlineMs"], function_arn)
    try:
        result = handler(message["event"], context)
    except Exception as exception:
        return encode_frame(_error(exception))
    try:
        return encode_frame({"result": result})
    except (TypeError, ValueError) as exception:
        return encode_frame(_error(exception, "Runtime.MarshalError"))


def main(argv: list[str]) -> int:
    # Ctrl-C reaches the whole terminal process group; the server decides when workers end.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _end_with_parent()
    channel = _Channel(int(argv[1]), int(argv[2]))
    init = channel.receive()
    if init is None:
        return 0
    try:
        handler = _load_handler(init)
    except Exception as exception:
        channel.send(encode_frame(_error(exception, "Runtime.ImportModuleError")))
        return 1
    channel.send(encode_frame({"ready": True}))
    while (message := channel.receive()) is not None:
        channel.send(_invoke(handler, init["functionArn"], message))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
