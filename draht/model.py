"""The vocabulary of the app declaration, and what both back ends derive from it.

Nothing here knows Pulumi or the local runtime: the Pulumi components and
`draht dev` each read the same declaration and call the same derivations, so a
route, a link or a permission is never written twice.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from draht.iam_actions import DYNAMODB_ACTIONS, unknown_action_hint
from draht.settings import LAMBDA_MEMORY_MB, LAMBDA_TIMEOUT_S

PYTHON_RUNTIME = "python3.13"
"""The Lambda runtime every function deploys on; `draht dev` runs workers on the same version."""

RESOURCE_ENV_PREFIX = "DRAHT_RESOURCE_"
"""Linked resources reach a function as `DRAHT_RESOURCE_<Name>` = JSON of their properties."""

APP_RESOURCE = "App"
"""Every function gets this resource unlinked: the app's name and stage (SST's `Resource.App`)."""

_NAME = re.compile(r"^[A-Z][A-Za-z0-9]*$")
_ROUTE_KEY = re.compile(r"^(GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS) (/[A-Za-z0-9_\-./{}+]*)$")
_ACTION = re.compile(r"^dynamodb:[A-Za-z]+$")
# DynamoDB's rule for index names: 3 to 255 of these characters.
_INDEX_NAME = re.compile(r"^[A-Za-z0-9_.-]{3,255}$")

Auth = Literal["public", "protected"]


class DeclarationError(ValueError):
    """The app declaration contradicts itself; raised when it is built, not at deploy time."""


@dataclass(frozen=True)
class LocalIndex:
    """A local secondary index: the table's hash key with another string sort key.

    Unlike a global index it can be read with ConsistentRead, so a write is visible
    through it at once. It can only be created with its table.
    """

    name: str
    range_key: str


@dataclass(frozen=True)
class Table:
    """A DynamoDB table with string keys, as SST's `new sst.aws.Dynamo(name, {...})`."""

    name: str
    hash_key: str
    range_key: str | None = None
    local_indexes: tuple[LocalIndex, ...] = ()

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise DeclarationError(
                f"table name {self.name!r} must be PascalCase letters and digits"
            )
        if self.local_indexes and self.range_key is None:
            raise DeclarationError(f"table {self.name}: a local index needs a table sort key")
        for index in self.local_indexes:
            if not _INDEX_NAME.match(index.name):
                raise DeclarationError(f"table {self.name}: index name {index.name!r} is invalid")
            if index.range_key in self.key_names:
                raise DeclarationError(
                    f"table {self.name}: index {index.name} must sort by another attribute"
                )

    @property
    def attribute_names(self) -> tuple[str, ...]:
        """Every attribute a key of the table or of one of its indexes names, once."""
        names = [*self.key_names, *(index.range_key for index in self.local_indexes)]
        return tuple(dict.fromkeys(names))

    @property
    def key_names(self) -> tuple[str, ...]:
        return (self.hash_key,) if self.range_key is None else (self.hash_key, self.range_key)


@dataclass(frozen=True)
class Link:
    """Access from a function to a table: exactly the actions its handler calls, nothing more."""

    table: Table
    actions: tuple[str, ...]
    queried_indexes: tuple[str, ...] = ()
    """Indexes of the table the handler queries: `dynamodb:Query` on each index's ARN only."""

    def __post_init__(self) -> None:
        if not self.actions:
            raise DeclarationError(f"link to {self.table.name} grants no action")
        known = {index.name for index in self.table.local_indexes}
        for index in self.queried_indexes:
            if index not in known:
                raise DeclarationError(f"link to {self.table.name}: it has no index {index!r}")
        for action in self.actions:
            if not _ACTION.match(action):
                raise DeclarationError(
                    f"link to {self.table.name}: {action!r} is not one named DynamoDB action"
                    " (wildcards are not allowed)"
                )
            if action not in DYNAMODB_ACTIONS:
                raise DeclarationError(f"link to {self.table.name}: {unknown_action_hint(action)}")


@dataclass(frozen=True)
class Function:
    """A Lambda function: a handler under `handlers/` and the tables it is linked to."""

    name: str
    handler: str
    links: tuple[Link, ...] = ()
    description: str = ""
    memory_mb: int | None = None
    """Overrides the stack's `draht:memory` for this function, as SST's `memory` does."""
    timeout_s: int | None = None
    """Overrides the stack's `draht:timeout` for this function."""

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise DeclarationError(
                f"function name {self.name!r} must be PascalCase letters and digits"
            )
        for what, value, (low, high) in (
            ("memory_mb", self.memory_mb, LAMBDA_MEMORY_MB),
            ("timeout_s", self.timeout_s, LAMBDA_TIMEOUT_S),
        ):
            if value is not None and not low <= value <= high:
                raise DeclarationError(
                    f"function {self.name}: {what} must be from {low} to {high} (got {value})"
                )
        module, _, attribute = self.handler.partition(".")
        if not module or not attribute or "." in attribute:
            raise DeclarationError(
                f"function {self.name}: handler {self.handler!r} must look like 'module.function'"
            )
        linked = [link.table.name for link in self.links]
        if len(set(linked)) != len(linked):
            raise DeclarationError(f"function {self.name} links a table twice: {linked}")
        if APP_RESOURCE in linked:
            raise DeclarationError(f"function {self.name}: {APP_RESOURCE!r} is reserved")

    @property
    def module(self) -> str:
        return self.handler.partition(".")[0]

    @property
    def attribute(self) -> str:
        return self.handler.partition(".")[2]


@dataclass(frozen=True)
class Route:
    """`api.route("GET /sessions", handler)`: a route key and the function that serves it."""

    key: str
    function: Function
    auth: Auth = "protected"
    scopes: tuple[str, ...] = ()
    """With JWT auth, a token must carry one of these (HTTP API's `authorizationScopes`)."""

    def __post_init__(self) -> None:
        if not _ROUTE_KEY.match(self.key):
            raise DeclarationError(f"route {self.key!r} must look like 'GET /path'")
        if self.scopes and self.auth == "public":
            raise DeclarationError(f"route {self.key} is public: it cannot require scopes")
        for scope in self.scopes:
            if not scope or scope != "".join(scope.split()):
                raise DeclarationError(
                    f"route {self.key}: scope {scope!r} must be one word without spaces"
                )

    @property
    def method(self) -> str:
        return self.key.split(" ", 1)[0]

    @property
    def path(self) -> str:
        return self.key.split(" ", 1)[1]


@dataclass(frozen=True)
class App:
    name: str
    tables: tuple[Table, ...]
    routes: tuple[Route, ...]
    functions: tuple[Function, ...] = field(init=False)

    def __post_init__(self) -> None:
        keys = [route.key for route in self.routes]
        if len(set(keys)) != len(keys):
            raise DeclarationError(f"a route is declared twice: {keys}")
        functions: dict[str, Function] = {}
        for route in self.routes:
            known = functions.setdefault(route.function.name, route.function)
            if known is not route.function:
                raise DeclarationError(f"two different functions are named {known.name}")
        object.__setattr__(self, "functions", tuple(functions.values()))
        declared = {table.name for table in self.tables}
        for function in self.functions:
            for link in function.links:
                if link.table.name not in declared:
                    raise DeclarationError(
                        f"function {function.name} links table {link.table.name},"
                        " which the app does not declare"
                    )

    def function(self, name: str) -> Function:
        for function in self.functions:
            if function.name == name:
                return function
        raise KeyError(name)


def policy_statements(function: Function, table_arns: Mapping[str, str]) -> list[dict[str, Any]]:
    """The IAM statements a function's links grant, given each table's ARN.

    Pulumi attaches these to the function's role; `draht dev` checks every call a
    worker makes against the very same list.
    """
    statements = []
    for link in function.links:
        table_arn = table_arns[link.table.name]
        statements.append(
            {
                "Sid": f"{link.table.name}Access",
                "Effect": "Allow",
                "Action": sorted(link.actions),
                "Resource": [table_arn],
            }
        )
        if link.queried_indexes:
            # A Query on an index is authorized against the index's ARN, not the table's.
            statements.append(
                {
                    "Sid": f"{link.table.name}IndexQuery",
                    "Effect": "Allow",
                    "Action": ["dynamodb:Query"],
                    "Resource": [f"{table_arn}/index/{name}" for name in link.queried_indexes],
                }
            )
    return statements


def python_version(runtime: str = PYTHON_RUNTIME) -> tuple[int, int]:
    """`python3.13` -> (3, 13)."""
    major, _, minor = runtime.removeprefix("python").partition(".")
    return int(major), int(minor)


def link_value(properties: Mapping[str, str]) -> str:
    """The JSON a `DRAHT_RESOURCE_<Name>` variable holds."""
    return json.dumps(dict(properties), separators=(",", ":"), sort_keys=True)


def app_value(app: App, stage: str) -> str:
    return link_value({"name": app.name, "stage": stage})


def table_value(name: str, arn: str) -> str:
    """What a linked table's variable holds: `{"arn": …, "name": …}`."""
    return link_value({"name": name, "arn": arn})


def resource_environment(
    app: App, stage: str, linked_tables: Mapping[str, tuple[str, str]]
) -> dict[str, str]:
    """The `DRAHT_RESOURCE_*` variables a function's handler reads its links from.

    `DRAHT_RESOURCE_App` names the app and stage; `linked_tables` maps each table linked
    to the function (by its declared name) to its (name, ARN), and nothing else may be
    in it: a function never sees the links of another. The stack builds the same
    variables from Pulumi outputs, through `app_value` and `table_value`.
    """
    environment = {RESOURCE_ENV_PREFIX + APP_RESOURCE: app_value(app, stage)}
    for resource, (name, arn) in linked_tables.items():
        environment[RESOURCE_ENV_PREFIX + resource] = table_value(name, arn)
    return environment
