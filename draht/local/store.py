"""The local DynamoDB-compatible store: dynalite, run by Node.js as a child process,
and the data folder it keeps its tables in.

Node picks a free loopback port itself and reports it, so two stores (a test run
beside `draht dev`, say) never race for a port.

The data folder holds the store (LevelDB under `store/`), a lock and, while
`draht dev` runs, `dev.json` naming its URL and store endpoint. LevelDB allows one
process at a time, so `draht seed` and `draht invoke` use the running server's
store when the lock is held, and start their own store when it is not.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import select
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from draht import PROJECT_ROOT
from draht.model import Table

LOCAL_REGION = "us-east-1"
BATCH_WRITE_LIMIT = 25
"""Write requests per BatchWriteItem call, DynamoDB's maximum."""
BATCH_WRITE_ATTEMPTS = 8
# dynalite accepts any credentials; boto3 still wants some to sign with.
LOCAL_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "draht-local", "AWS_SECRET_ACCESS_KEY": "draht-local"}

_LAUNCH = """
const dynalite = require(process.argv[1]);
const path = process.argv[2] || undefined;
const port = Number(process.argv[3]) || 0;
const server = dynalite({path, createTableMs: 0, deleteTableMs: 0, updateTableMs: 0});
server.listen(port, '127.0.0.1', () => {
  process.stdout.write(JSON.stringify({port: server.address().port}) + '\\n');
});
// Ending with the parent: a store must never outlive the process that started it.
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => process.exit(0));
"""


_STORE_ENVIRONMENT = ("PATH", "LANG", "SYSTEMROOT")
"""All of the parent's environment the store is given: never its credentials or tokens."""


class StoreError(RuntimeError):
    """The store could not be started; the message says what to install or which flag to use."""


class Dynalite:
    """A running dynalite; in memory, or persistent under `data_dir`.

    `port` 0 lets the OS choose a free one; a fixed port lets a store be stopped and
    started again behind the same endpoint, as a client that outlives an outage sees it.
    """

    def __init__(
        self,
        data_dir: Path | None = None,
        port: int = 0,
    ) -> None:
        self.data_dir = data_dir
        self._process: subprocess.Popen[str] | None = None
        self._requested_port = port
        self.port = port

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 15.0) -> Dynalite:
        node = shutil.which("node")
        if node is None:
            raise StoreError(
                "draht dev needs Node.js 20 or newer for its local store: install it"
                " (https://nodejs.org), or point --dynamodb-endpoint at another store"
            )
        package = PROJECT_ROOT / "node_modules" / "dynalite"
        if not package.is_dir():
            raise StoreError(
                f"dynalite is not installed under {PROJECT_ROOT}: run `npm ci` there"
                " (or `make install`), or point --dynamodb-endpoint at another store"
            )
        if self.data_dir is not None:
            self.data_dir.mkdir(parents=True, exist_ok=True)
        self._process = subprocess.Popen(
            [
                node,
                "-e",
                _LAUNCH,
                str(package),
                str(self.data_dir or ""),
                str(self._requested_port),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            start_new_session=True,
            env={name: os.environ[name] for name in _STORE_ENVIRONMENT if name in os.environ},
        )
        assert self._process.stdout is not None
        ready, _, _ = select.select([self._process.stdout], [], [], timeout_s)
        line = self._process.stdout.readline() if ready else ""
        if not line:
            self.stop()
            raise StoreError(f"dynalite did not start listening within {timeout_s:g} s")
        self.port = int(json.loads(line)["port"])
        return self

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        try:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        except ProcessLookupError:
            pass
        finally:
            for stream in (process.stdin, process.stdout):
                if stream is not None:
                    stream.close()

    async def keep_running(self, report: Callable[[str], None], retry_s: float = 1.0) -> None:
        """Restart the store from its data folder, on its port, each time it dies; until cancelled.

        Its output pipe reaching end-of-file is the sign: dynalite writes nothing
        after its port, so only its end closes the pipe. Requests that need the
        store answer 503 (the handlers' own answer) until it is back.
        """
        loop = asyncio.get_running_loop()
        while True:
            await self._ended(loop)
            process = self._process
            code = process.wait() if process is not None else None
            report(
                f"store   dynalite exited ({_exit_reason(code)}): restarting it from"
                f" {self.data_dir or 'memory'} on port {self.port}"
            )
            failures = 0
            while True:
                try:
                    await loop.run_in_executor(None, self._restart)
                    break
                except StoreError as error:
                    # Said once: a port taken by another process may stay taken for a while.
                    if failures == 0:
                        report(f"store   could not restart: {error}; retrying every {retry_s:g} s")
                    failures += 1
                    await asyncio.sleep(retry_s)
            if failures:
                report(f"store   dynalite is back at {self.endpoint}")

    async def _ended(self, loop: asyncio.AbstractEventLoop) -> None:
        assert self._process is not None and self._process.stdout is not None
        fd = self._process.stdout.fileno()
        ended = loop.create_future()

        def on_readable() -> None:
            if not os.read(fd, 4096) and not ended.done():
                ended.set_result(None)

        loop.add_reader(fd, on_readable)
        try:
            await ended
        finally:
            loop.remove_reader(fd)

    def _restart(self) -> None:
        self.stop()
        self._requested_port = self.port
        self.start()

    def __enter__(self) -> Dynalite:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _exit_reason(code: int | None) -> str:
    if code is None:
        return "gone"
    return f"signal {-code}" if code < 0 else f"exit status {code}"


class DataFolderBusy(StoreError):
    """Another process holds the data folder's store."""


class DataFolder:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.store_dir = root / "store"
        self._state_file = root / "dev.json"
        self._lock_fd = -1

    def lock(self) -> bool:
        """Take the folder for this process; False when another process has it."""
        self.root.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.root / "lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._lock_fd = fd
        return True

    def unlock(self) -> None:
        if self._lock_fd >= 0:
            self._state_file.unlink(missing_ok=True)
            os.close(self._lock_fd)
            self._lock_fd = -1

    def record_server(self, url: str, store_endpoint: str) -> None:
        state = {"pid": os.getpid(), "url": url, "storeEndpoint": store_endpoint}
        self._state_file.write_text(json.dumps(state) + "\n")

    def running_server(self) -> dict[str, Any] | None:
        try:
            state: dict[str, Any] = json.loads(self._state_file.read_text())
        except (OSError, ValueError):
            return None
        return state

    def empty(self) -> None:
        shutil.rmtree(self.store_dir, ignore_errors=True)


@dataclass(frozen=True)
class Store:
    """The store a command talks to, and how to describe it."""

    endpoint: str
    description: str
    folder: DataFolder | None = None
    dynalite: Dynalite | None = None


@contextlib.contextmanager
def open_store(
    data_dir: Path, endpoint: str | None, *, reset: bool = False, share_running: bool = False
) -> Iterator[Store]:
    """The store for a command: `endpoint` if given, else dynalite on the data folder.

    With `share_running`, a data folder held by a running `draht dev` is used through
    that server's store instead of being opened a second time.
    """
    if endpoint is not None:
        yield Store(endpoint, f"{endpoint} (from --dynamodb-endpoint)")
        return
    folder = DataFolder(data_dir)
    if not folder.lock():
        running = folder.running_server()
        if running is not None and share_running and not reset:
            yield Store(
                running["storeEndpoint"],
                f"dynalite at {running['storeEndpoint']} of draht dev (pid {running['pid']})",
            )
            return
        holder = (
            f"draht dev (pid {running['pid']}, {running['url']})"
            if running is not None
            else "another draht command"
        )
        raise DataFolderBusy(
            f"{holder} is using the data folder {data_dir}: stop it first,"
            " or pass --data-dir for a separate store"
        )
    try:
        if reset:
            folder.empty()
        with Dynalite(folder.store_dir) as dynalite:
            yield Store(
                dynalite.endpoint,
                f"dynalite at {dynalite.endpoint}, data in {folder.store_dir}",
                folder,
                dynalite,
            )
    finally:
        folder.unlock()


def dynamodb_client(endpoint: str, region: str = LOCAL_REGION) -> Any:
    """A boto3 DynamoDB client for a local store (imported lazily: the CLI starts faster)."""
    import boto3

    return boto3.client(
        "dynamodb",
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id=LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )


def local_table_name(app_name: str, table: Table) -> str:
    return f"{app_name}-local-{table.name.lower()}"


def ensure_tables(client: Any, app_name: str, tables: Iterable[Table]) -> dict[str, str]:
    """Create each declared table that does not exist yet; return name -> ARN for every table."""
    existing = set(client.list_tables().get("TableNames", []))
    arns: dict[str, str] = {}
    for table in tables:
        name = local_table_name(app_name, table)
        if name not in existing:
            client.create_table(TableName=name, **_table_definition(table))
        description = client.describe_table(TableName=name)["Table"]
        present = {index["IndexName"] for index in description.get("LocalSecondaryIndexes", [])}
        missing = [index.name for index in table.local_indexes if index.name not in present]
        if missing:
            # A local index can only be created with its table, and data is never dropped here.
            raise StoreError(
                f"table {name} lacks index {', '.join(missing)}, which only a new table can have:"
                " start once with `draht dev --reset` (local data is lost), then `draht seed`"
            )
        arns[table.name] = description["TableArn"]
    return arns


class UnprocessedItems(RuntimeError):
    """Some writes of a batch stayed unprocessed after every retry."""


def batch_write(
    client: Any,
    table_name: str,
    requests: Sequence[Mapping[str, Any]],
    *,
    attempts: int = BATCH_WRITE_ATTEMPTS,
    first_pause_s: float = 0.05,
) -> None:
    """Write `PutRequest`/`DeleteRequest`s to a table, 25 per BatchWriteItem call.

    DynamoDB may leave part of a batch unprocessed; those requests are sent again with
    exponential backoff, as its BatchWriteItem reference advises, up to `attempts` calls
    per batch. What still remains raises `UnprocessedItems`: nothing is dropped quietly.
    """
    for start in range(0, len(requests), BATCH_WRITE_LIMIT):
        pending = [dict(request) for request in requests[start : start + BATCH_WRITE_LIMIT]]
        for attempt in range(attempts):
            answer = client.batch_write_item(RequestItems={table_name: pending})
            pending = (answer.get("UnprocessedItems") or {}).get(table_name, [])
            if not pending:
                break
            if attempt + 1 < attempts:
                time.sleep(min(1.0, first_pause_s * 2**attempt))
        else:
            raise UnprocessedItems(
                f"{len(pending)} writes to {table_name} stayed unprocessed"
                f" after {attempts} attempts"
            )


def _table_definition(table: Table) -> dict[str, Any]:
    def key_schema(hash_key: str, range_key: str | None) -> list[dict[str, str]]:
        schema = [{"AttributeName": hash_key, "KeyType": "HASH"}]
        if range_key is not None:
            schema.append({"AttributeName": range_key, "KeyType": "RANGE"})
        return schema

    definition: dict[str, Any] = {
        "KeySchema": key_schema(table.hash_key, table.range_key),
        "AttributeDefinitions": [
            {"AttributeName": name, "AttributeType": "S"} for name in table.attribute_names
        ],
        "BillingMode": "PAY_PER_REQUEST",
    }
    if table.local_indexes:
        definition["LocalSecondaryIndexes"] = [
            {
                "IndexName": index.name,
                "KeySchema": key_schema(table.hash_key, index.range_key),
                "Projection": {"ProjectionType": "ALL"},
            }
            for index in table.local_indexes
        ]
    return definition
