"""`draht dev` as a user runs it: the console script, as a child process on a free port.

The one way the tests and the benchmarks start it. The console goes to a file rather
than a pipe: under load the server prints a line per request, and a pipe read by a
thread of the measuring process would compete with the measurement itself.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from signing import SignedByCaller, caller_from_args, forget, register

from draht import PROJECT_ROOT
from draht.settings import LOCAL_SETTINGS_FILE

DRAHT = str(Path(sys.executable).with_name("draht"))
TEST_APP = "tests.local_apps.declarations:app"
TEST_HANDLERS = PROJECT_ROOT / "tests" / "local_apps" / "handlers"
# Served on 127.0.0.1, or on every address (0.0.0.0), which includes it.
_URL = re.compile(r"^draht dev\s+http://(?:127\.0\.0\.1|0\.0\.0\.0):(\d+)\s")


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


def store_processes(pid: int) -> set[int]:
    """The store (Node.js) processes below `pid`."""
    found = set()
    for child in descendants(pid):
        try:
            command = Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if Path(command[0].decode()).name == "node":
            found.add(child)
    return found


def alive(pid: int) -> bool:
    """True while the process exists and is not a zombie waiting to be reaped."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


UNTHROTTLED = {"throttlingRate": 10000, "throttlingBurst": 5000}
"""Route throttling far above what a load test or benchmark sends (5000 is the burst's maximum)."""


def stack_config(folder: Path, values: Mapping[str, object]) -> Path:
    """The dev stack's config with some `draht:` keys changed, written into `folder`."""
    import yaml

    config = yaml.safe_load((PROJECT_ROOT / LOCAL_SETTINGS_FILE).read_text())
    config.setdefault("config", {}).update({f"draht:{key}": value for key, value in values.items()})
    path = Path(folder) / LOCAL_SETTINGS_FILE
    path.write_text(yaml.safe_dump(config))
    return path


def unthrottled(folder: Path | str) -> list[str]:
    """`draht dev` options for traffic past the dev stack's route throttling."""
    return ["--stack-config", str(stack_config(Path(folder), UNTHROTTLED))]


def status_and_json(raw: bytes) -> tuple[int, Any]:
    """The status and JSON body of one raw HTTP/1.1 answer, as `DevProcess.exchange` returns it."""
    head, _, body = raw.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), json.loads(body)


def run_draht(
    *args: str, env: dict[str, str] | None = None, timeout_s: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [DRAHT, *args], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=timeout_s, env=env
    )


class DevProcess:
    """A running `draht dev --port 0 ARGS`; `stop()` checks that it leaves no process behind."""

    def __init__(
        self, args: Sequence[str] = (), env: dict[str, str] | None = None, timeout_s: float = 60
    ) -> None:
        self.args = list(args)
        self.lines: list[str] = []
        self._console = tempfile.NamedTemporaryFile(  # noqa: SIM115  (lives as long as the server)
            prefix="draht-dev-", suffix=".log", delete=False
        )
        self._read_to = 0
        self._partial = ""
        self.process = subprocess.Popen(
            [DRAHT, "dev", "--port", "0", *self.args],
            cwd=PROJECT_ROOT,
            stdin=subprocess.DEVNULL,
            stdout=self._console,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
        try:
            self.port = int(self.wait_for(_URL.pattern, timeout=timeout_s).group(1))
        except AssertionError:
            self._kill()
            self._remove_console()
            raise
        # It started, so its stack config and app load: sign for it from now on.
        self.caller = caller_from_args(self.args)
        register(self.url, self.caller)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _option(self, name: str) -> str | None:
        return self.args[self.args.index(name) + 1] if name in self.args else None

    @property
    def store_endpoint(self) -> str:
        """The store it serves from: `--dynamodb-endpoint`, or its data folder's dynalite."""
        endpoint = self._option("--dynamodb-endpoint")
        if endpoint is not None:
            return endpoint
        data_dir = Path(self._option("--data-dir") or PROJECT_ROOT / ".draht")
        return str(json.loads((data_dir / "dev.json").read_text())["storeEndpoint"])

    def seed_sample_data(self) -> str:
        """`draht seed` into this server's store, as the README tells a newcomer to."""
        command = ["seed"]
        for option in ("--data-dir", "--dynamodb-endpoint", "--app"):
            value = self._option(option)
            if value is not None:
                command += [option, value]
        seeded = run_draht(*command, timeout_s=120)
        assert seeded.returncode == 0, seeded.stderr
        return seeded.stdout

    def _new_lines(self) -> list[str]:
        with open(self._console.name, encoding="utf-8", errors="replace") as console:
            console.seek(self._read_to)
            text = console.read()
            self._read_to = console.tell()
        *complete, self._partial = (self._partial + text).split("\n")
        return complete

    def wait_for(self, pattern: str, timeout: float = 10) -> re.Match[str]:
        """The first console line from now on that matches, or an assertion naming the output."""
        deadline = time.monotonic() + timeout
        expression = re.compile(pattern)
        pending: list[str] = []
        while True:
            pending += self._new_lines()
            while pending:
                line = pending.pop(0)
                self.lines.append(line)
                found = expression.search(line)
                if found:
                    # Lines after the match stay unread for the next wait.
                    self._unread(pending)
                    return found
            if time.monotonic() > deadline or self.process.poll() is not None:
                self.lines += self._new_lines()
                raise AssertionError(f"no line matching {pattern!r} in:\n{self.output}")
            time.sleep(0.02)

    def _unread(self, lines: list[str]) -> None:
        if lines:
            self._partial = "\n".join([*lines, self._partial])

    @property
    def output(self) -> str:
        self.lines += self._new_lines()
        return "\n".join(self.lines)

    def signed(
        self, method: str, path: str, headers: Sequence[tuple[str, str]] = (), body: bytes = b""
    ) -> tuple[str, list[tuple[str, str]]]:
        """The target and headers that carry this server's auth for a request."""
        return self.caller.prepare(method, f"{self.url}{path}", headers, body)

    def requests_auth(self) -> SignedByCaller:
        """Signing for requests sent through `requests` (schemathesis)."""
        return SignedByCaller(self.caller)

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

    def exchange(self, data: bytes, byte_by_byte: bool = False, timeout: float = 20) -> bytes:
        """Raw bytes in, everything the server sends until it closes: for what HTTP clients
        will not send. `byte_by_byte` sends each byte in its own segment."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=timeout) as connection:
            if byte_by_byte:
                connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                for index in range(len(data)):
                    connection.sendall(data[index : index + 1])
            else:
                connection.sendall(data)
            received = bytearray()
            while chunk := connection.recv(65536):
                received += chunk
            return bytes(received)

    def children(self) -> set[int]:
        return descendants(self.process.pid)

    def store(self) -> int:
        (store,) = store_processes(self.process.pid)
        return store

    def stop(self, how: signal.Signals = signal.SIGTERM) -> None:
        """Stop it as a terminal or a process manager would, and check nothing is left."""
        forget(self.url)
        try:
            below = self.children()
            if self.process.poll() is None:
                self.process.send_signal(how)
            try:
                code = self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self._kill()
                raise AssertionError(
                    f"draht dev did not stop on {how.name}:\n{self.output}"
                ) from None
            deadline = time.monotonic() + 5
            while any(alive(pid) for pid in below) and time.monotonic() < deadline:
                time.sleep(0.05)
            left = sorted(pid for pid in below if alive(pid))
            assert not left, f"processes left behind: {left}\n{self.output}"
            # A clean stop exits 0; SIGKILL leaves no say in the matter.
            expected = -signal.SIGKILL if how == signal.SIGKILL else 0
            assert code == expected, f"draht dev exited with {code}:\n{self.output}"
        finally:
            self._remove_console()

    def _remove_console(self) -> None:
        self._console.close()
        Path(self._console.name).unlink(missing_ok=True)

    def _kill(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def __enter__(self) -> DevProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve_test_app(stack_config: Path | None, data_dir: Path, *options: str) -> DevProcess:
    """`draht dev` of the test app and its handlers, with that stack config (None: the default
    one) and data folder, and more `options`."""
    config = () if stack_config is None else ("--stack-config", str(stack_config))
    return DevProcess(
        [
            *("--app", TEST_APP),
            *("--handlers", str(TEST_HANDLERS)),
            *config,
            *("--data-dir", str(data_dir)),
            *options,
        ]
    )
