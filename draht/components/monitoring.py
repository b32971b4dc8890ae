"""The stack's alarms, the topic they notify, and its dashboard.

The alarms come from `draht.alarms.alarm_specs`, so they follow the declaration. They
notify one SNS topic on ALARM and on OK. CloudWatch cannot publish to a topic encrypted
with the AWS-managed `alias/aws/sns` key, whose policy cannot grant it the key
(https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html, "Enable
compatibility between event sources from AWS services and encrypted topics"), so the
topic has its own key, rotated yearly, that only the account and CloudWatch alarms of
this account and region may use.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from draht import alarms, model
from draht.settings import Settings

PUBLISHER = "cloudwatch.amazonaws.com"


@dataclass(frozen=True)
class MonitoringArgs:
    app: model.App
    settings: Settings
    names: Mapping[str, str]
    """Each subject's resource name (`Api`, a function's, a table's): alarm names start with it."""
    dashboard_name: str
    execution_arn: pulumi.Output[str]
    """The API's: it names the region and account the alarms live in."""
    api_id: pulumi.Output[str]
    function_names: Mapping[str, pulumi.Output[str]]
    table_names: Mapping[str, pulumi.Output[str]]


def _alarm_source(region: str, account: str) -> dict[str, Any]:
    """Only CloudWatch acting for an alarm of this account and region (no confused deputy)."""
    return {
        "StringEquals": {"aws:SourceAccount": account},
        "ArnLike": {"aws:SourceArn": f"arn:aws:cloudwatch:{region}:{account}:alarm:*"},
    }


def key_policy(region: str, account: str) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                # Without it nobody could ever manage or delete the key again.
                "Sid": "AccountAdministers",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                "Action": "kms:*",
                "Resource": "*",
            },
            {
                "Sid": "CloudWatchAlarmsEncrypt",
                "Effect": "Allow",
                "Principal": {"Service": PUBLISHER},
                "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                "Resource": "*",
                "Condition": _alarm_source(region, account),
            },
        ],
    }


def topic_policy(topic_arn: str, region: str, account: str) -> dict[str, Any]:
    """Publishing is CloudWatch's alone: the default policy's grant to the account is gone."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "CloudWatchAlarmsPublish",
                "Effect": "Allow",
                "Principal": {"Service": PUBLISHER},
                "Action": "sns:Publish",
                "Resource": topic_arn,
                "Condition": _alarm_source(region, account),
            }
        ],
    }


class Monitoring(pulumi.ComponentResource):  # type: ignore[misc]  # pulumi is not type-checked
    dashboard_url: pulumi.Output[str]
    topic_arn: pulumi.Output[str] | None

    def __init__(
        self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("draht:aws:Monitoring", name, {}, opts)
        child = pulumi.ResourceOptions(parent=self)
        settings = args.settings
        arn_parts = args.execution_arn.apply(lambda arn: arn.split(":"))
        region: pulumi.Output[str] = arn_parts.apply(lambda parts: parts[3])
        account: pulumi.Output[str] = arn_parts.apply(lambda parts: parts[4])

        self.topic_arn = None
        if settings.alarms:
            self.topic_arn = self._alarms(name, args, region, account)

        function_order = list(args.function_names)
        table_order = list(args.table_names)
        body = pulumi.Output.all(
            region,
            args.api_id,
            *(args.function_names[f] for f in function_order),
            *(args.table_names[t] for t in table_order),
        ).apply(
            lambda values: json.dumps(
                {
                    "widgets": alarms.dashboard_widgets(
                        args.app,
                        values[0],
                        values[1],
                        dict(zip(function_order, values[2 : 2 + len(function_order)], strict=True)),
                        dict(zip(table_order, values[2 + len(function_order) :], strict=True)),
                        settings.alarm_period_s,
                    )
                },
                separators=(",", ":"),
            )
        )
        dashboard = aws.cloudwatch.Dashboard(
            f"{name}-dashboard",
            dashboard_name=args.dashboard_name,
            dashboard_body=body,
            opts=child,
        )
        self.dashboard_url = pulumi.Output.concat(
            "https://",
            region,
            ".console.aws.amazon.com/cloudwatch/home?region=",
            region,
            "#dashboards/dashboard/",
            dashboard.dashboard_name,
        )
        self.register_outputs({"dashboardUrl": self.dashboard_url, "topicArn": self.topic_arn})

    def _alarms(
        self,
        name: str,
        args: MonitoringArgs,
        region: pulumi.Output[str],
        account: pulumi.Output[str],
    ) -> pulumi.Output[str]:
        child = pulumi.ResourceOptions(parent=self)
        settings = args.settings
        key = aws.kms.Key(
            f"{name}-alarms-key",
            description=f"Encrypts the alarm notifications of {args.dashboard_name}",
            enable_key_rotation=True,
            policy=pulumi.Output.all(region, account).apply(
                lambda values: json.dumps(key_policy(values[0], values[1]))
            ),
            opts=child,
        )
        topic = aws.sns.Topic(f"{name}-alarms", kms_master_key_id=key.arn, opts=child)
        aws.sns.TopicPolicy(
            f"{name}-alarms-policy",
            arn=topic.arn,
            policy=pulumi.Output.all(topic.arn, region, account).apply(
                lambda values: json.dumps(topic_policy(values[0], values[1], values[2]))
            ),
            opts=child,
        )
        if settings.alarm_email is not None:
            aws.sns.TopicSubscription(
                f"{name}-alarms-email",
                topic=topic.arn,
                protocol="email",
                endpoint=settings.alarm_email,
                opts=child,
            )
        specs = alarms.alarm_specs(
            args.app, settings, args.api_id, args.function_names, args.table_names
        )
        for spec in specs:
            alarm_name = f"{args.names[spec.subject]}-{spec.check}"
            aws.cloudwatch.MetricAlarm(
                alarm_name,
                name=alarm_name,
                alarm_description=spec.description,
                comparison_operator="GreaterThanOrEqualToThreshold",
                threshold=spec.threshold,
                evaluation_periods=settings.alarm_evaluation_periods,
                treat_missing_data="notBreaching",
                alarm_actions=[topic.arn],
                ok_actions=[topic.arn],
                **_metric_inputs(spec, settings.alarm_period_s),
                opts=child,
            )
        return topic.arn


def _metric_inputs(spec: alarms.AlarmSpec, period_s: int) -> dict[str, Any]:
    """One metric as itself; a sum as a metric-math expression over its metrics."""
    percentile = spec.statistic.startswith("p")
    if not spec.summed:
        (metric,) = spec.metrics
        return {
            "namespace": metric.namespace,
            "metric_name": metric.name,
            "dimensions": dict(metric.dimensions),
            "period": period_s,
            ("extended_statistic" if percentile else "statistic"): spec.statistic,
        }
    ids = [f"m{index}" for index in range(len(spec.metrics))]
    return {
        "metric_queries": [
            *(
                {
                    "id": metric_id,
                    "return_data": False,
                    "metric": {
                        "namespace": metric.namespace,
                        "metric_name": metric.name,
                        "dimensions": dict(metric.dimensions),
                        "period": period_s,
                        "stat": spec.statistic,
                    },
                }
                for metric_id, metric in zip(ids, spec.metrics, strict=True)
            ),
            {
                "id": "total",
                "expression": f"SUM([{','.join(ids)}])",
                "label": f"{spec.metrics[0].name} of {spec.subject}",
                "return_data": True,
            },
        ]
    }
