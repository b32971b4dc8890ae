"""`draht dev` as a subprocess for tests: its console, plain HTTP to it, and a clean stop."""

from __future__ import annotations

import http.client
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from signing import caller_from_args, forget, register

REPO = Path(__file__).resolve().parents[2]
DRAHT = str(Path(sys.executable).with_name("draht"))
TEST_APP = "tests.local_apps.declarations:app"
TEST_HANDLERS = REPO / "tests" / "local_apps" / "handlers"
# Served on 127.0.0.1, or on every address (0.0.0.0), which includes it.
_URL = re.compile(r"http://(?:127\.0\.0\.1|0\.0\.0\.0):(\d+)")


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    header_list: list[tuple[str, str]]
    body: bytes


def descendants(pid: int) -> set[int]:
    """Every live process below `pid`, from /proc (parents are known only while they live)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(entry))
    found: set[int] = set()
    pending = [pid]
    while pending:
        for child in children.get(pending.pop(), []):
            found.add(child)
            pending.append(child)
    return found


def alive(pid: int) -> bool:
    """True while the process exists and is not a zombie waiting to be reaped."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def run_draht(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [DRAHT, *args], cwd=REPO, capture_output=True, text=True, timeout=60, env=env
    )


class DevProcess:
    """A running `draht dev`; `stop()` checks that it leaves no process behind."""

    def __init__(self, args: Sequence[str], env: dict[str, str] | None = None) -> None:
        self.args = list(args)
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        self.process = subprocess.Popen(
            [DRAHT, "dev", "--port", "0", *args],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
            start_new_session=True,
        )
        threading.Thread(target=self._read, daemon=True).start()
        self.port = int(self.wait_for(_URL.pattern, timeout=30).group(1))
        # It started, so its stack config and app load: sign for it from now on.
        self.caller = caller_from_args(self.args)
        register(self.url, self.caller)

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def wait_for(self, pattern: str, timeout: float = 10) -> re.Match[str]:
        """The first console line from now on that matches, or an assertion naming the output."""
        deadline = time.monotonic() + timeout
        expression = re.compile(pattern)
        while True:
            remaining = deadline - time.monotonic()
            try:
                line = self._queue.get(timeout=max(0.01, remaining))
            except queue.Empty:
                line = None
                remaining = 0
            if line is not None:
                self.lines.append(line)
                found = expression.search(line)
                if found:
                    return found
                continue
            if remaining <= 0 or self.process.poll() is not None:
                output = "\n".join(self.lines)
                raise AssertionError(f"no line matching {pattern!r} in:\n{output}")

    @property
    def output(self) -> str:
        while True:
            try:
                line = self._queue.get_nowait()
            except queue.Empty:
                return "\n".join(self.lines)
            if line is not None:
                self.lines.append(line)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def signed(
        self, method: str, path: str, headers: Sequence[tuple[str, str]] = (), body: bytes = b""
    ) -> tuple[str, list[tuple[str, str]]]:
        """The target and headers that carry this server's auth for a request."""
        return self.caller.prepare(method, f"{self.url}{path}", headers, body)

    def request(
        self,
        path: str,
        method: str = "GET",
        headers: Sequence[tuple[str, str]] = (),
        body: bytes | None = None,
        timeout: float = 20,
        sign: bool = True,
    ) -> Reply:
        """One request on a new connection, as a browser or curl would send it, signed by default.

        `sign=False` sends `headers` as they are, with the `host` http.client adds.
        """
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        if sign:
            path, headers = self.signed(method, path, headers, body or b"")
        try:
            connection.putrequest(method, path, skip_host=sign, skip_accept_encoding=True)
            for name, value in headers:
                connection.putheader(name, value)
            if body is not None:
                connection.putheader("content-length", str(len(body)))
            connection.endheaders(body)
            response = connection.getresponse()
            data = response.read()
            header_list = [(k.lower(), v) for k, v in response.getheaders()]
            return Reply(response.status, dict(header_list), header_list, data)
        finally:
            connection.close()

    def children(self) -> set[int]:
        return descendants(self.process.pid)

    def stop(self, how: signal.Signals = signal.SIGTERM) -> None:
        """Stop it as a terminal or a process manager would, and check nothing is left."""
        forget(self.url)
        below = self.children()
        if self.process.poll() is None:
            self.process.send_signal(how)
        try:
            code = self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
            raise AssertionError(f"draht dev did not stop on {how.name}:\n{self.output}") from None
        deadline = time.monotonic() + 5
        while any(alive(pid) for pid in below) and time.monotonic() < deadline:
            time.sleep(0.05)
        left = sorted(pid for pid in below if alive(pid))
        assert not left, f"processes left behind: {left}\n{self.output}"
        # A clean stop exits 0; SIGKILL leaves no say in the matter.
        expected = -signal.SIGKILL if how == signal.SIGKILL else 0
        assert code == expected, f"draht dev exited with {code}:\n{self.output}"


def serve_test_app(data_dir: Path, *options: str) -> DevProcess:
    """`draht dev` of the test app and its handlers on `data_dir`, with more `options`."""
    return DevProcess(
        [
            "--app",
            TEST_APP,
            "--handlers",
            str(TEST_HANDLERS),
            *options,
            "--data-dir",
            str(data_dir),
        ]
    )
