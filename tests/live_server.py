"""`draht dev` as a user runs it: the console script, as a child process on a free port.

The server's console goes to a file rather than a pipe: under load it prints a line
per request, and a pipe nobody drains would stall it.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from draht import PROJECT_ROOT

DRAHT = Path(sys.executable).with_name("draht")
_URL = re.compile(r"^draht dev\s+(http://127\.0\.0\.1:\d+)\s", re.MULTILINE)


class LiveServer:
    """`draht dev --port 0` on its own fresh data folder, or on `dynamodb_endpoint` when given."""

    def __init__(self, data_dir: Path, dynamodb_endpoint: str | None = None) -> None:
        self.data_dir = data_dir
        self.dynamodb_endpoint = dynamodb_endpoint
        self.url = ""
        self._console = tempfile.NamedTemporaryFile(  # noqa: SIM115  (lives as long as the server)
            prefix="draht-dev-", suffix=".log", delete=False
        )
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def store_endpoint(self) -> str:
        if self.dynamodb_endpoint is not None:
            return self.dynamodb_endpoint
        return str(json.loads((self.data_dir / "dev.json").read_text())["storeEndpoint"])

    def console(self) -> str:
        return Path(self._console.name).read_text(errors="replace")

    def start(self, timeout_s: float = 60.0) -> LiveServer:
        command = [str(DRAHT), "dev", "--port", "0", "--data-dir", str(self.data_dir)]
        if self.dynamodb_endpoint is not None:
            command += ["--dynamodb-endpoint", self.dynamodb_endpoint]
        self._process = subprocess.Popen(
            command,
            cwd=PROJECT_ROOT,
            stdin=subprocess.DEVNULL,
            stdout=self._console,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            found = _URL.search(self.console())
            if found is not None:
                self.url = found.group(1)
                self._wait_until_serving(deadline)
                return self
            if self._process.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"draht dev did not start within {timeout_s:g} s:\n{self.console()}")

    def _wait_until_serving(self, deadline: float) -> None:
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=5) as response:
                    if response.status == 200:
                        return
            except OSError:
                if time.monotonic() > deadline:
                    raise
            time.sleep(0.05)

    def seed_sample_data(self) -> str:
        """`draht seed` into this server's store, as the README tells a newcomer to."""
        command = [str(DRAHT), "seed", "--data-dir", str(self.data_dir)]
        if self.dynamodb_endpoint is not None:
            command += ["--dynamodb-endpoint", self.dynamodb_endpoint]
        completed = subprocess.run(
            command, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120, check=True
        )
        return completed.stdout

    def stop(self) -> None:
        """SIGTERM, as Ctrl-C would; the whole process group is killed if it lingers."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        self._console.close()

    def remove_console(self) -> None:
        Path(self._console.name).unlink(missing_ok=True)

    def __enter__(self) -> LiveServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
        self.remove_console()
