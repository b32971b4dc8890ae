"""moto's DynamoDB in server mode: a second, independent implementation for the store tests.

dynalite (Node.js, LevelDB) is the local default; moto is a separate Python code base
with its own reading of DynamoDB's rules (conditions, transactions, limits), so a test
that passes on both depends on neither emulator's quirks. Each server is a child
process of its own on a free loopback port, in memory, and ends with the tests.

`pytest --dynamodb-endpoint=moto` runs the store-backed tests against it (see conftest.py).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from draht.local.store import dynamodb_client

_LISTENING = re.compile(r"Running on (http://127\.0\.0\.1:\d+)")


class MotoServer:
    """`python -m moto.server` on a free port, in memory; the same interface as `Dynalite`.

    Its console (a line per request) goes to a file rather than a pipe nobody drains.
    """

    def __init__(self) -> None:
        self.endpoint = ""
        self._console = tempfile.NamedTemporaryFile(  # noqa: SIM115  (lives as long as the server)
            prefix="moto-", suffix=".log", delete=False
        )
        self._process: subprocess.Popen[bytes] | None = None

    def console(self) -> str:
        return Path(self._console.name).read_text(errors="replace")

    def start(self, timeout_s: float = 60.0) -> MotoServer:
        self._process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "--host", "127.0.0.1", "--port", "0"],
            stdin=subprocess.DEVNULL,
            stdout=self._console,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout_s
        while not self.endpoint:
            found = _LISTENING.search(self.console())
            if found is not None:
                self.endpoint = found.group(1)
            elif self._process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"moto did not start within {timeout_s:g} s:\n{self.console()}")
            else:
                time.sleep(0.05)
        dynamodb_client(self.endpoint).list_tables()
        return self

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        self._console.close()
        Path(self._console.name).unlink(missing_ok=True)

    def __enter__(self) -> MotoServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
