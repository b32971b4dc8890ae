"""The alarms and dashboard widgets of a stack, derived from the declaration.

Pure data: each alarm names its subject (the API stage, a function, a table), the
metrics it watches and its threshold. The dimension values (API id, function and
table names) are passed in, so the stack gives Pulumi outputs and tests give strings.
A route, function or table added to the declaration gets its alarms and widgets here
without another line of code.

Metric names and dimensions:
- HTTP API: https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-metrics.html
  (`5xx`, `4xx`, `Count`, `Latency`; `ApiId, Stage`, and per route `ApiId, Method,
  Resource, Stage` with detailed metrics on).
- Lambda: https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-types.html
  (`Errors`, `Throttles`, `Duration`, `Invocations` by `FunctionName`).
- DynamoDB: https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/metrics-dimensions.html
  (`ThrottledRequests` and `SystemErrors` by `TableName, Operation`; consumed capacity
  and throttle events by `TableName`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from draht.model import App, Table
from draht.settings import Settings

API_NAMESPACE = "AWS/ApiGateway"
LAMBDA_NAMESPACE = "AWS/Lambda"
DYNAMODB_NAMESPACE = "AWS/DynamoDB"
API_STAGE = "$default"
DURATION_SHARE_OF_TIMEOUT = 0.8
"""A function whose p99 duration passes this share of its timeout is about to time out."""

# The operations DynamoDB reports `ThrottledRequests` and `SystemErrors` under; control-plane
# calls such as DescribeTable are not among them.
DATA_OPERATIONS = frozenset(
    {
        "GetItem",
        "PutItem",
        "UpdateItem",
        "DeleteItem",
        "Query",
        "Scan",
        "BatchGetItem",
        "BatchWriteItem",
        "TransactGetItems",
        "TransactWriteItems",
        "ExecuteStatement",
        "BatchExecuteStatement",
        "ExecuteTransaction",
    }
)


Graph = tuple[str, list[list[Any]]]
"""A dashboard graph: its title and CloudWatch's metric arrays."""


@dataclass(frozen=True)
class Metric:
    namespace: str
    name: str
    dimensions: Mapping[str, Any]


@dataclass(frozen=True)
class AlarmSpec:
    subject: str
    """The declared name it watches (`Api`, `ListSessions`, `Sessions`)."""
    check: str
    """What it watches, short: `5xx`, `latency-p99`, `errors`… (the end of its name)."""
    description: str
    metrics: tuple[Metric, ...]
    statistic: str
    """`Sum`, or a percentile such as `p99`."""
    threshold: float
    summed: bool = False
    """Alarm on the sum of `metrics` (a table's operations), however many there are."""


def data_operations(app: App, table: Table) -> list[str]:
    """The DynamoDB data operations the declaration's functions call on `table`, sorted."""
    operations = {
        action.removeprefix("dynamodb:")
        for function in app.functions
        for link in function.links
        if link.table.name == table.name
        for action in link.actions
    }
    return sorted(operations & DATA_OPERATIONS)


def alarm_specs(
    app: App,
    settings: Settings,
    api_id: Any,
    function_names: Mapping[str, Any],
    table_names: Mapping[str, Any],
) -> list[AlarmSpec]:
    """Every alarm of the stack: the API stage's, then each function's, then each table's."""
    stage = {"ApiId": api_id, "Stage": API_STAGE}
    specs = [
        AlarmSpec(
            "Api",
            "5xx",
            f"{settings.alarm_api_5xx} or more 5xx responses in a period",
            (Metric(API_NAMESPACE, "5xx", stage),),
            "Sum",
            settings.alarm_api_5xx,
        ),
        AlarmSpec(
            "Api",
            "latency-p99",
            f"p99 latency at or above {settings.alarm_api_latency_p99_ms} ms",
            (Metric(API_NAMESPACE, "Latency", stage),),
            "p99",
            settings.alarm_api_latency_p99_ms,
        ),
    ]
    for function in app.functions:
        by_name = {"FunctionName": function_names[function.name]}
        timeout_ms = settings.timeout_s_of(function) * 1000
        specs += [
            AlarmSpec(
                function.name,
                "errors",
                f"{settings.alarm_function_errors} or more invocation errors in a period",
                (Metric(LAMBDA_NAMESPACE, "Errors", by_name),),
                "Sum",
                settings.alarm_function_errors,
            ),
            AlarmSpec(
                function.name,
                "throttles",
                f"{settings.alarm_function_throttles} or more throttled invocations in a period",
                (Metric(LAMBDA_NAMESPACE, "Throttles", by_name),),
                "Sum",
                settings.alarm_function_throttles,
            ),
            AlarmSpec(
                function.name,
                "duration-p99",
                f"p99 duration at or above {DURATION_SHARE_OF_TIMEOUT:.0%} of its"
                f" {settings.timeout_s_of(function)} s timeout",
                (Metric(LAMBDA_NAMESPACE, "Duration", by_name),),
                "p99",
                timeout_ms * DURATION_SHARE_OF_TIMEOUT,
            ),
        ]
    for table in app.tables:
        operations = data_operations(app, table)
        if not operations:
            # Nothing reads or writes it, so nothing can be throttled or fail.
            continue
        for check, metric, threshold in (
            ("throttled-requests", "ThrottledRequests", settings.alarm_table_throttles),
            ("system-errors", "SystemErrors", settings.alarm_table_system_errors),
        ):
            specs.append(
                AlarmSpec(
                    table.name,
                    check,
                    f"{threshold} or more {metric} over {', '.join(operations)} in a period",
                    tuple(
                        Metric(
                            DYNAMODB_NAMESPACE,
                            metric,
                            {"TableName": table_names[table.name], "Operation": operation},
                        )
                        for operation in operations
                    ),
                    "Sum",
                    threshold,
                    summed=True,
                )
            )
    return specs


def dashboard_widgets(
    app: App,
    region: str,
    api_id: str,
    function_names: Mapping[str, str],
    table_names: Mapping[str, str],
    period_s: int,
) -> list[dict[str, Any]]:
    """The dashboard: per route, per function and per table, two graphs to a row."""

    def sums(title: str, namespace: str, names: tuple[str, ...], dimensions: list[Any]) -> Graph:
        return title, [[namespace, name, *dimensions] for name in names]

    def percentiles(title: str, namespace: str, name: str, dimensions: list[Any]) -> Graph:
        return f"{title} p50, p99 (ms)", [
            [namespace, name, *dimensions, {"stat": stat, "label": stat}] for stat in ("p50", "p99")
        ]

    graphs: list[Graph] = []
    for route in app.routes:
        by_route = [
            "ApiId", api_id, "Stage", API_STAGE, "Method", route.method, "Resource", route.path
        ]  # fmt: skip
        graphs.append(
            sums(
                f"{route.key}: requests, 4xx, 5xx", API_NAMESPACE, ("Count", "4xx", "5xx"), by_route
            )
        )
        graphs.append(percentiles(f"{route.key}: latency", API_NAMESPACE, "Latency", by_route))
    for function in app.functions:
        by_name = ["FunctionName", function_names[function.name]]
        graphs.append(
            sums(
                f"{function.name}: invocations, errors, throttles",
                LAMBDA_NAMESPACE,
                ("Invocations", "Errors", "Throttles"),
                by_name,
            )
        )
        graphs.append(
            percentiles(f"{function.name}: duration", LAMBDA_NAMESPACE, "Duration", by_name)
        )
    for table in app.tables:
        by_table = ["TableName", table_names[table.name]]
        graphs.append(
            sums(
                f"{table.name}: consumed capacity",
                DYNAMODB_NAMESPACE,
                ("ConsumedReadCapacityUnits", "ConsumedWriteCapacityUnits"),
                by_table,
            )
        )
        graphs.append(
            sums(
                f"{table.name}: throttles",
                DYNAMODB_NAMESPACE,
                ("ReadThrottleEvents", "WriteThrottleEvents"),
                by_table,
            )
        )
    width, height = 12, 6
    return [
        {
            "type": "metric",
            "x": (index % 2) * width,
            "y": (index // 2) * height,
            "width": width,
            "height": height,
            "properties": {
                "title": title,
                "region": region,
                "view": "timeSeries",
                "stat": "Sum",
                "period": period_s,
                "metrics": metrics,
            },
        }
        for index, (title, metrics) in enumerate(graphs)
    ]
