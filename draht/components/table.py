"""A DynamoDB table from its declaration: on demand, recoverable, encrypted."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from draht import model


@dataclass(frozen=True)
class TableArgs:
    table: model.Table
    retain: bool
    """Keep the data whatever happens to the stack: protect, retain, deletion protection."""


class Table(pulumi.ComponentResource):  # type: ignore[misc]  # pulumi is not type-checked
    name: pulumi.Output[str]
    arn: pulumi.Output[str]

    def __init__(
        self, name: str, args: TableArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("draht:aws:Table", name, {}, opts)
        declared = args.table
        table = aws.dynamodb.Table(
            name,
            attributes=[{"name": key, "type": "S"} for key in declared.attribute_names],
            hash_key=declared.hash_key,
            range_key=declared.range_key,
            local_secondary_indexes=[
                {"name": index.name, "range_key": index.range_key, "projection_type": "ALL"}
                for index in declared.local_indexes
            ],
            billing_mode="PAY_PER_REQUEST",
            point_in_time_recovery={"enabled": True},
            server_side_encryption={"enabled": True},
            deletion_protection_enabled=args.retain,
            opts=pulumi.ResourceOptions(
                parent=self, protect=args.retain, retain_on_delete=args.retain
            ),
        )
        self.name = table.name
        self.arn = table.arn
        self.register_outputs({"name": self.name, "arn": self.arn})
