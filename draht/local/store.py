"""The embedded DynamoDB-compatible store: dynalite, run by Node.js as a child process.

Node picks a free loopback port itself and reports it, so two stores (a test run
beside `draht dev`, say) never race for a port.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import subprocess
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from draht.model import Table

PROJECT_ROOT = Path(__file__).resolve().parents[2]
LOCAL_REGION = "us-east-1"
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
        project_root: Path = PROJECT_ROOT,
        port: int = 0,
    ) -> None:
        self.data_dir = data_dir
        self._project_root = project_root
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
        package = self._project_root / "node_modules" / "dynalite"
        if not package.is_dir():
            raise StoreError(
                f"dynalite is not installed under {self._project_root}: run `npm ci` there"
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
        if process is None or process.poll() is not None:
            return
        try:
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

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def __enter__(self) -> Dynalite:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


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
