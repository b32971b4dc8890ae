"""A Lambda function with its own role and its own log group.

One role per function: it may call exactly what its links grant, write only to
its own log group, and reach X-Ray only when tracing is on.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws

from draht import model
from draht.settings import TracingMode

ARCHITECTURE = "arm64"

_LAMBDA_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}


@dataclass(frozen=True)
class LinkedTable:
    name: pulumi.Output[str]
    arn: pulumi.Output[str]


@dataclass(frozen=True)
class FunctionArgs:
    function: model.Function
    app_value: str
    """The JSON of `DRAHT_RESOURCE_App`: how the handler learns its app and stage."""
    tables: Mapping[str, LinkedTable]
    code_path: Path
    code_hash: str
    memory_mb: int
    timeout_s: int
    log_retention_days: int
    tracing: TracingMode


def role_policy(
    function: model.Function,
    table_arns: Mapping[str, str],
    log_group_arn: str,
    tracing: TracingMode,
) -> dict[str, Any]:
    statements = [
        *model.policy_statements(function, table_arns),
        {
            "Sid": "OwnLogGroup",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            # The provider strips the `:*` that names the group's streams.
            "Resource": [f"{log_group_arn}:*"],
        },
    ]
    if tracing == "Active":
        statements.append(
            {
                "Sid": "XRayWrite",
                "Effect": "Allow",
                "Action": ["xray:PutTraceSegments", "xray:PutTelemetryRecords"],
                # X-Ray has no resource-level permissions: "*" is the only resource it accepts.
                "Resource": ["*"],
            }
        )
    return {"Version": "2012-10-17", "Statement": statements}


class Function(pulumi.ComponentResource):  # type: ignore[misc]  # pulumi is not type-checked
    name: pulumi.Output[str]
    arn: pulumi.Output[str]

    def __init__(
        self, name: str, args: FunctionArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("draht:aws:Function", name, {}, opts)
        declared = args.function
        child = pulumi.ResourceOptions(parent=self)
        linked = {link.table.name: args.tables[link.table.name] for link in declared.links}

        log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs", retention_in_days=args.log_retention_days, opts=child
        )
        role = aws.iam.Role(
            f"{name}-role",
            assume_role_policy=json.dumps(_LAMBDA_TRUST),
            description=f"Runs the {declared.name} function",
            opts=child,
        )
        linked_names = list(linked)
        policy = aws.iam.RolePolicy(
            f"{name}-policy",
            role=role.id,
            policy=pulumi.Output.all(
                log_group.arn, *(linked[table].arn for table in linked_names)
            ).apply(
                lambda arns: json.dumps(
                    role_policy(
                        declared,
                        dict(zip(linked_names, arns[1:], strict=True)),
                        arns[0],
                        args.tracing,
                    )
                )
            ),
            opts=child,
        )

        environment: dict[str, pulumi.Input[str]] = {
            f"{model.RESOURCE_ENV_PREFIX}{model.APP_RESOURCE}": args.app_value
        }
        for table_name, table in linked.items():
            environment[f"{model.RESOURCE_ENV_PREFIX}{table_name}"] = pulumi.Output.all(
                table.name, table.arn
            ).apply(lambda pair: model.table_value(*pair))

        function = aws.lambda_.Function(
            name,
            description=declared.description,
            runtime=model.PYTHON_RUNTIME,
            architectures=[ARCHITECTURE],
            handler=declared.handler,
            code=pulumi.FileArchive(str(args.code_path)),
            source_code_hash=args.code_hash,
            role=role.arn,
            memory_size=args.memory_mb,
            timeout=args.timeout_s,
            environment={"variables": environment},
            logging_config={"log_format": "JSON", "log_group": log_group.name},
            tracing_config={"mode": args.tracing},
            # Without the policy the first invocations could not log or read their tables.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[policy]),
        )
        self.name = function.name
        self.arn = function.arn
        self.register_outputs({"name": self.name, "arn": self.arn})
