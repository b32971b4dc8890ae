"""Run the stack program under Pulumi mocks and return what it would ask the engine for.

No CLI, no AWS: the mocks answer each registration with plausible outputs (ARNs,
auto-generated names, URLs) and record every resource's inputs together with
the options the engine would see (protect, retain on delete, provider), which
mocks alone do not show. Tests assert on the plain values in a `Synthesis`.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
from pulumi.runtime import MockCallArgs, MockResourceArgs, Mocks
from pulumi.runtime.mocks import MockMonitor

from draht.settings import NAMESPACE

PROJECT = "draht"
REGION = "eu-central-1"
ACCOUNT = "123456789012"


@dataclass(frozen=True)
class Recorded:
    type: str
    name: str
    id: str
    urn: str
    parent: str
    provider: str
    """`<provider urn>::<provider id>`, or empty for the default provider and for components."""
    protect: bool
    retain_on_delete: bool
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    """What the mocks answered: the inputs plus computed outputs such as `arn` and `name`."""


@dataclass(frozen=True)
class Synthesis:
    stack: str
    resources: tuple[Recorded, ...]
    outputs: dict[str, Any]

    def of_type(self, type_: str) -> list[Recorded]:
        return [resource for resource in self.resources if resource.type == type_]

    def named(self, type_: str, name: str) -> Recorded:
        matches = [resource for resource in self.of_type(type_) if resource.name == name]
        if len(matches) != 1:
            raise LookupError(f"{len(matches)} resources of type {type_} named {name}")
        return matches[0]

    def children(self, parent: Recorded) -> list[Recorded]:
        return [resource for resource in self.resources if resource.parent == parent.urn]


def _auto_name(name: str) -> str:
    """Pulumi's auto-naming: the logical name and a random suffix (here a stable one)."""
    return f"{name}-{hashlib.sha256(name.encode()).hexdigest()[:7]}"


def _outputs(args: MockResourceArgs) -> dict[str, Any]:
    """The computed outputs AWS would return, for the types whose outputs the stack reads."""
    region = f"{REGION}:{ACCOUNT}"
    name = args.inputs.get("name") or _auto_name(args.name)
    computed: dict[str, dict[str, Any]] = {
        "aws:dynamodb/table:Table": {
            "name": name,
            "arn": f"arn:aws:dynamodb:{region}:table/{name}",
        },
        "aws:cloudwatch/logGroup:LogGroup": {
            "name": name,
            "arn": f"arn:aws:logs:{region}:log-group:{name}",
        },
        "aws:iam/role:Role": {"name": name, "arn": f"arn:aws:iam::{ACCOUNT}:role/{name}"},
        "aws:lambda/function:Function": {
            "name": name,
            "arn": f"arn:aws:lambda:{region}:function:{name}",
        },
        "aws:apigatewayv2/api:Api": {
            "executionArn": f"arn:aws:execute-api:{region}:{args.name}-id",
            "apiEndpoint": f"https://{args.name}-id.execute-api.{REGION}.amazonaws.com",
        },
        "aws:apigatewayv2/domainName:DomainName": {
            "domainNameConfiguration": {
                **args.inputs.get("domainNameConfiguration", {}),
                "targetDomainName": f"d-{args.name}.execute-api.{REGION}.amazonaws.com",
                "hostedZoneId": "Z2FDTNDATAQYW2",
            },
        },
        "aws:sns/topic:Topic": {"arn": f"arn:aws:sns:{region}:{name}"},
        "aws:kms/key:Key": {"arn": f"arn:aws:kms:{region}:key/{args.name}-id"},
        "aws:apigatewayv2/stage:Stage": {
            "invokeUrl": f"https://{args.inputs.get('apiId')}.execute-api.{REGION}.amazonaws.com/",
        },
    }
    return {**args.inputs, **computed.get(args.typ, {})}


class _RecordingMocks(Mocks):  # type: ignore[misc]  # pulumi is not type-checked
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._count = 0
        self.registered: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}
        """Inputs and outputs by resource id."""

    def new_resource(self, args: MockResourceArgs) -> tuple[str, dict[str, Any]]:
        with self._lock:
            self._count += 1
            # Unique ids let the monitor find each registration's inputs again.
            resource_id = f"{args.name}-id{self._count}"
            outputs = _outputs(args)
            self.registered[resource_id] = (dict(args.inputs), outputs)
        return resource_id, outputs

    def call(self, args: MockCallArgs) -> tuple[dict[str, Any], None]:
        return {}, None


class _RecordingMonitor(MockMonitor):  # type: ignore[misc]  # pulumi is not type-checked
    """Sees each registration whole, so it can keep the options the mocks are not given."""

    def __init__(self, mocks: _RecordingMocks) -> None:
        super().__init__(mocks)
        self._recording_mocks = mocks
        self._lock = threading.Lock()
        self.recorded: list[Recorded] = []

    def RegisterResource(self, request: Any) -> Any:  # the gRPC method's name
        response = super().RegisterResource(request)
        if request.type == "pulumi:pulumi:Stack":
            return response
        inputs, outputs = self._recording_mocks.registered[response.id]
        with self._lock:
            self.recorded.append(
                Recorded(
                    type=request.type,
                    name=request.name,
                    id=response.id,
                    urn=response.urn,
                    parent=request.parent,
                    provider=request.provider,
                    protect=request.protect,
                    retain_on_delete=request.retainOnDelete,
                    inputs=inputs,
                    outputs=outputs,
                )
            )
        return response


def synthesize(
    program: Callable[[], object],
    stack: str,
    config: Mapping[str, str] | None = None,
) -> Synthesis:
    """Run `program` as the Pulumi program of `stack` in project `draht`.

    `config` keys without a namespace are `draht:` keys (`auth`); others keep theirs
    (`aws:region`).

    Raises what the program raises, so a bad config can be asserted on.
    """
    # A fresh root stack per run: otherwise exports of an earlier run would linger.
    pulumi.runtime.reset_options(project=PROJECT, stack=stack)
    mocks = _RecordingMocks()
    monitor = _RecordingMonitor(mocks)
    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack=stack, preview=False, monitor=monitor)
    pulumi.runtime.set_all_config(
        {
            key if ":" in key else f"{NAMESPACE}:{key}": value
            for key, value in (config or {}).items()
        }
    )
    outputs: dict[str, Any] = {}

    @pulumi.runtime.test  # type: ignore[untyped-decorator]  # pulumi is not type-checked
    def run() -> pulumi.Output[None]:
        program()
        exported = pulumi.runtime.get_root_resource().outputs
        return pulumi.Output.all(**exported).apply(outputs.update)

    run()
    return Synthesis(stack=stack, resources=tuple(monitor.recorded), outputs=outputs)
