"""Alarms, their topic, the dashboard, the custom domain, CORS and per-function limits, under mocks.

One fact per test, asserted on the inputs the mocks recorded after the program ran.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from stack_synth import synth

from draht.alarms import DATA_OPERATIONS
from draht.app import app
from draht.model import App, Function, Link, Route, Table
from draht.settings import Settings
from draht.stack import main, resource_name
from draht.synth import ACCOUNT, REGION, Recorded, Synthesis, synthesize

ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
TOPIC = "aws:sns/topic:Topic"
TOPIC_POLICY = "aws:sns/topicPolicy:TopicPolicy"
SUBSCRIPTION = "aws:sns/topicSubscription:TopicSubscription"
KEY = "aws:kms/key:Key"
DASHBOARD = "aws:cloudwatch/dashboard:Dashboard"
API = "aws:apigatewayv2/api:Api"
STAGE = "aws:apigatewayv2/stage:Stage"
DOMAIN = "aws:apigatewayv2/domainName:DomainName"
MAPPING = "aws:apigatewayv2/apiMapping:ApiMapping"
RECORD = "aws:route53/record:Record"
FUNCTION = "aws:lambda/function:Function"
TABLE = "aws:dynamodb/table:Table"

CERTIFICATE = f"arn:aws:acm:{REGION}:{ACCOUNT}:certificate/0b5f3c2e-8f7a-4c1d-9e2b-1a2b3c4d5e6f"
DOMAIN_CONFIG = {
    "aws:region": REGION,
    "domainName": "api.example.com",
    "certificateArn": CERTIFICATE,
}


def alarms_by_name(s: Synthesis) -> dict[str, dict[str, Any]]:
    return {r.name: r.inputs for r in s.of_type(ALARM)}


def alarm(s: Synthesis, subject: str, check: str) -> dict[str, Any]:
    return alarms_by_name(s)[f"{resource_name(app, s.stack, subject)}-{check}"]


def resource_of(s: Synthesis, type_: str, declared_name: str) -> Recorded:
    return s.named(type_, resource_name(app, s.stack, declared_name))


def api_id(s: Synthesis) -> str:
    (api,) = s.of_type(API)
    return api.id


def function_name(s: Synthesis, name: str) -> str:
    found: str = resource_of(s, FUNCTION, name).outputs["name"]
    return found


def table_name(s: Synthesis, name: str) -> str:
    found: str = resource_of(s, TABLE, name).outputs["name"]
    return found


def topic(s: Synthesis) -> Recorded:
    (found,) = s.of_type(TOPIC)
    return found


def metric_of(inputs: dict[str, Any]) -> tuple[str, str, dict[str, str], str]:
    statistic = inputs.get("statistic") or inputs["extendedStatistic"]
    return inputs["namespace"], inputs["metricName"], inputs["dimensions"], statistic


# Alarms: one per subject and check, from the declaration


def test_api_alarms_on_5xx_responses_of_its_stage(production: Synthesis) -> None:
    inputs = alarm(production, "Api", "5xx")
    assert metric_of(inputs) == (
        "AWS/ApiGateway",
        "5xx",
        {"ApiId": api_id(production), "Stage": "$default"},
        "Sum",
    )
    assert inputs["threshold"] == 5


def test_api_alarms_on_p99_latency_of_its_stage(production: Synthesis) -> None:
    inputs = alarm(production, "Api", "latency-p99")
    assert metric_of(inputs) == (
        "AWS/ApiGateway",
        "Latency",
        {"ApiId": api_id(production), "Stage": "$default"},
        "p99",
    )
    assert inputs["threshold"] == 2000


@pytest.mark.parametrize("name", [f.name for f in app.functions])
def test_each_function_alarms_on_its_errors(production: Synthesis, name: str) -> None:
    inputs = alarm(production, name, "errors")
    assert metric_of(inputs) == (
        "AWS/Lambda",
        "Errors",
        {"FunctionName": function_name(production, name)},
        "Sum",
    )
    assert inputs["threshold"] == 1


@pytest.mark.parametrize("name", [f.name for f in app.functions])
def test_each_function_alarms_on_its_throttles(production: Synthesis, name: str) -> None:
    inputs = alarm(production, name, "throttles")
    assert metric_of(inputs) == (
        "AWS/Lambda",
        "Throttles",
        {"FunctionName": function_name(production, name)},
        "Sum",
    )
    assert inputs["threshold"] == 1


@pytest.mark.parametrize("name", [f.name for f in app.functions])
def test_each_function_alarms_on_p99_duration_at_80_percent_of_its_timeout(
    production: Synthesis, name: str
) -> None:
    inputs = alarm(production, name, "duration-p99")
    timeout_s = resource_of(production, FUNCTION, name).inputs["timeout"]
    assert metric_of(inputs) == (
        "AWS/Lambda",
        "Duration",
        {"FunctionName": function_name(production, name)},
        "p99",
    )
    assert inputs["threshold"] == pytest.approx(timeout_s * 1000 * 0.8)


def table_queries(inputs: dict[str, Any]) -> tuple[set[tuple[str, str, str, str]], str]:
    """The metrics a table alarm sums, and the expression that sums them."""
    queries = inputs["metricQueries"]
    metrics = {
        (
            q["metric"]["metricName"],
            q["metric"]["dimensions"]["TableName"],
            q["metric"]["dimensions"]["Operation"],
            q["metric"]["stat"],
        )
        for q in queries
        if "metric" in q
    }
    (total,) = [q for q in queries if q.get("returnData")]
    ids = sorted(q["id"] for q in queries if "metric" in q)
    assert total["expression"] == f"SUM([{','.join(ids)}])"
    return metrics, total["expression"]


def linked_operations(table: str) -> set[str]:
    return {
        action.removeprefix("dynamodb:")
        for function in app.functions
        for link in function.links
        if link.table.name == table
        for action in link.actions
    } & DATA_OPERATIONS


@pytest.mark.parametrize("name", [t.name for t in app.tables])
def test_each_table_alarms_on_throttled_requests_of_every_operation_it_serves(
    production: Synthesis, name: str
) -> None:
    metrics, _ = table_queries(alarm(production, name, "throttled-requests"))
    assert metrics == {
        ("ThrottledRequests", table_name(production, name), operation, "Sum")
        for operation in linked_operations(name)
    }


@pytest.mark.parametrize("name", [t.name for t in app.tables])
def test_each_table_alarms_on_system_errors_of_every_operation_it_serves(
    production: Synthesis, name: str
) -> None:
    metrics, _ = table_queries(alarm(production, name, "system-errors"))
    assert metrics == {
        ("SystemErrors", table_name(production, name), operation, "Sum")
        for operation in linked_operations(name)
    }


def test_table_alarms_watch_the_dynamodb_namespace(production: Synthesis) -> None:
    namespaces = {
        q["metric"]["namespace"]
        for name, inputs in alarms_by_name(production).items()
        if "metricQueries" in inputs
        for q in inputs["metricQueries"]
        if "metric" in q
    }
    assert namespaces == {"AWS/DynamoDB"}


def test_the_stack_has_exactly_the_alarms_of_the_declaration(production: Synthesis) -> None:
    expected = {f"{resource_name(app, 'production', 'Api')}-{c}" for c in ("5xx", "latency-p99")}
    for function in app.functions:
        base = resource_name(app, "production", function.name)
        expected |= {f"{base}-{c}" for c in ("errors", "throttles", "duration-p99")}
    for table in app.tables:
        base = resource_name(app, "production", table.name)
        expected |= {f"{base}-{c}" for c in ("throttled-requests", "system-errors")}
    assert set(alarms_by_name(production)) == expected


def test_alarm_names_carry_app_stage_and_subject(production: Synthesis) -> None:
    for name, inputs in alarms_by_name(production).items():
        assert inputs["name"] == name
        assert name.startswith("draht-production-")


def test_every_alarm_notifies_the_topic_on_alarm_and_on_ok(production: Synthesis) -> None:
    arn = topic(production).outputs["arn"]
    for inputs in alarms_by_name(production).values():
        assert (inputs["alarmActions"], inputs["okActions"]) == ([arn], [arn])


def test_missing_data_is_not_a_breach(production: Synthesis) -> None:
    assert {i["treatMissingData"] for i in alarms_by_name(production).values()} == {"notBreaching"}


def test_alarms_breach_at_or_above_their_threshold(production: Synthesis) -> None:
    assert {i["comparisonOperator"] for i in alarms_by_name(production).values()} == {
        "GreaterThanOrEqualToThreshold"
    }


def test_alarm_period_and_evaluation_default_to_a_minute_three_times(
    production: Synthesis,
) -> None:
    for inputs in alarms_by_name(production).values():
        periods = [q["metric"]["period"] for q in inputs.get("metricQueries", []) if "metric" in q]
        assert set(periods or [inputs["period"]]) == {60}
        assert inputs["evaluationPeriods"] == 3


def test_alarm_thresholds_and_periods_come_from_config() -> None:
    s = synth(
        "production",
        alarmApi5xx="9",
        alarmApiLatencyP99Ms="750",
        alarmFunctionErrors="4",
        alarmFunctionThrottles="6",
        alarmTableThrottles="7",
        alarmTableSystemErrors="8",
        alarmPeriod="300",
        alarmEvaluationPeriods="2",
    )
    thresholds = {
        check: alarm(s, subject, check)["threshold"]
        for subject, check in (
            ("Api", "5xx"),
            ("Api", "latency-p99"),
            ("ListSessions", "errors"),
            ("ListSessions", "throttles"),
            ("Sessions", "throttled-requests"),
            ("Sessions", "system-errors"),
        )
    }
    assert thresholds == {
        "5xx": 9,
        "latency-p99": 750,
        "errors": 4,
        "throttles": 6,
        "throttled-requests": 7,
        "system-errors": 8,
    }
    assert alarm(s, "Api", "5xx")["period"] == 300
    assert {i["evaluationPeriods"] for i in alarms_by_name(s).values()} == {2}


def test_duration_alarm_follows_a_timeout_set_in_config() -> None:
    s = synth("production", timeout="20")
    assert alarm(s, "ListClients", "duration-p99")["threshold"] == pytest.approx(16000)


# A declaration the program has never seen gets its alarms with no code change

audit = Table("Audit", hash_key="entryId")
record_audit = Function(
    "RecordAudit",
    handler="health.handler",
    links=(
        Link(audit, actions=("dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:DescribeTable")),
    ),
)
EXTENDED = App(
    name="draht",
    tables=(*app.tables, audit),
    routes=(*app.routes, Route("POST /audit", record_audit)),
)


@pytest.fixture(scope="module")
def extended() -> Synthesis:
    return synthesize(lambda: main(EXTENDED), "production")


def test_a_new_function_gets_its_three_alarms(extended: Synthesis) -> None:
    base = resource_name(EXTENDED, "production", "RecordAudit")
    name = extended.named(FUNCTION, base).outputs["name"]
    checks = {
        alarm_name.removeprefix(f"{base}-"): inputs["dimensions"]
        for alarm_name, inputs in alarms_by_name(extended).items()
        if alarm_name.startswith(f"{base}-")
    }
    assert checks == {c: {"FunctionName": name} for c in ("errors", "throttles", "duration-p99")}


def test_a_new_table_gets_alarms_over_the_data_operations_linked_to_it(
    extended: Synthesis,
) -> None:
    base = resource_name(EXTENDED, "production", "Audit")
    name = extended.named(TABLE, base).outputs["name"]
    for check, metric in (
        ("throttled-requests", "ThrottledRequests"),
        ("system-errors", "SystemErrors"),
    ):
        metrics, _ = table_queries(alarms_by_name(extended)[f"{base}-{check}"])
        # DescribeTable is a control-plane call: DynamoDB reports no such metric for it.
        assert metrics == {(metric, name, op, "Sum") for op in ("GetItem", "PutItem")}


def test_a_new_route_gets_its_dashboard_widgets(extended: Synthesis) -> None:
    assert {"POST /audit: requests, 4xx, 5xx", "POST /audit: latency p50, p99 (ms)"} <= {
        w["properties"]["title"] for w in widgets(extended)
    }


# On or off


def test_alarms_are_off_on_dev_by_default(dev: Synthesis) -> None:
    assert not dev.of_type(ALARM)
    assert not dev.of_type(TOPIC)
    assert "alarmTopicArn" not in dev.outputs


@pytest.mark.parametrize("stack", ["dev", "pr-42"])
def test_draht_alarms_turns_them_on_outside_production(stack: str) -> None:
    s = synth(stack, alarms="true")
    assert len(s.of_type(ALARM)) == 2 + 3 * len(app.functions) + 2 * len(app.tables)
    assert s.outputs["alarmTopicArn"] == topic(s).outputs["arn"]


def test_alarms_are_on_on_production_without_any_config(production: Synthesis) -> None:
    assert len(production.of_type(ALARM)) == 2 + 3 * len(app.functions) + 2 * len(app.tables)


# The topic


def test_the_topic_is_encrypted_with_its_own_rotated_key(production: Synthesis) -> None:
    (key,) = production.of_type(KEY)
    assert topic(production).inputs["kmsMasterKeyId"] == key.outputs["arn"]
    assert key.inputs["enableKeyRotation"] is True


def test_the_key_lets_cloudwatch_alarms_of_this_account_use_it(production: Synthesis) -> None:
    (key,) = production.of_type(KEY)
    statements = {s["Sid"]: s for s in json.loads(key.inputs["policy"])["Statement"]}
    cloudwatch = statements["CloudWatchAlarmsEncrypt"]
    assert cloudwatch["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert cloudwatch["Action"] == ["kms:Decrypt", "kms:GenerateDataKey*"]
    assert cloudwatch["Condition"]["StringEquals"] == {"aws:SourceAccount": ACCOUNT}
    assert statements["AccountAdministers"]["Principal"] == {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}


def test_only_cloudwatch_alarms_of_this_account_may_publish(production: Synthesis) -> None:
    (policy,) = production.of_type(TOPIC_POLICY)
    arn = topic(production).outputs["arn"]
    assert policy.inputs["arn"] == arn
    (statement,) = json.loads(policy.inputs["policy"])["Statement"]
    assert statement == {
        "Sid": "CloudWatchAlarmsPublish",
        "Effect": "Allow",
        "Principal": {"Service": "cloudwatch.amazonaws.com"},
        "Action": "sns:Publish",
        "Resource": arn,
        "Condition": {
            "StringEquals": {"aws:SourceAccount": ACCOUNT},
            "ArnLike": {"aws:SourceArn": f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:*"},
        },
    }


def test_no_email_subscription_without_draht_alarm_email(production: Synthesis) -> None:
    assert not production.of_type(SUBSCRIPTION)


def test_draht_alarm_email_subscribes_that_address() -> None:
    s = synth("production", alarmEmail="oncall@example.com")
    (subscription,) = s.of_type(SUBSCRIPTION)
    assert subscription.inputs == {
        "topic": topic(s).outputs["arn"],
        "protocol": "email",
        "endpoint": "oncall@example.com",
    }


# The dashboard


def widgets(s: Synthesis) -> list[dict[str, Any]]:
    (dashboard,) = s.of_type(DASHBOARD)
    found: list[dict[str, Any]] = json.loads(dashboard.inputs["dashboardBody"])["widgets"]
    return found


def metric_dimensions(s: Synthesis) -> list[dict[str, str]]:
    dimensions = []
    for widget in widgets(s):
        for metric in widget["properties"]["metrics"]:
            plain = [part for part in metric if not isinstance(part, dict)]
            dimensions.append(dict(zip(plain[2::2], plain[3::2], strict=True)))
    return dimensions


def test_dashboard_widgets_name_only_resources_of_the_stack(dev: Synthesis) -> None:
    real = {
        "ApiId": {api_id(dev)},
        "Stage": {"$default"},
        "FunctionName": {r.outputs["name"] for r in dev.of_type(FUNCTION)},
        "TableName": {r.outputs["name"] for r in dev.of_type(TABLE)},
        "Method": {r.method for r in app.routes},
        "Resource": {r.path for r in app.routes},
    }
    for dimensions in metric_dimensions(dev):
        for key, value in dimensions.items():
            assert value in real[key], (key, value)


def test_dashboard_graphs_every_route_function_and_table(dev: Synthesis) -> None:
    seen = metric_dimensions(dev)
    routes = {(d["Method"], d["Resource"]) for d in seen if "Resource" in d}
    assert routes == {(r.method, r.path) for r in app.routes}
    assert {d["FunctionName"] for d in seen if "FunctionName" in d} == {
        r.outputs["name"] for r in dev.of_type(FUNCTION)
    }
    assert {d["TableName"] for d in seen if "TableName" in d} == {
        r.outputs["name"] for r in dev.of_type(TABLE)
    }


def test_dashboard_shows_requests_errors_latency_duration_capacity_and_throttles(
    dev: Synthesis,
) -> None:
    names = {
        (metric[0], metric[1])
        for widget in widgets(dev)
        for metric in widget["properties"]["metrics"]
    }
    assert names == {
        ("AWS/ApiGateway", "Count"),
        ("AWS/ApiGateway", "4xx"),
        ("AWS/ApiGateway", "5xx"),
        ("AWS/ApiGateway", "Latency"),
        ("AWS/Lambda", "Invocations"),
        ("AWS/Lambda", "Errors"),
        ("AWS/Lambda", "Throttles"),
        ("AWS/Lambda", "Duration"),
        ("AWS/DynamoDB", "ConsumedReadCapacityUnits"),
        ("AWS/DynamoDB", "ConsumedWriteCapacityUnits"),
        ("AWS/DynamoDB", "ReadThrottleEvents"),
        ("AWS/DynamoDB", "WriteThrottleEvents"),
    }


def test_latency_and_duration_are_graphed_at_p50_and_p99(dev: Synthesis) -> None:
    percentiles: dict[str, set[str]] = {
        metric[1]: set()
        for widget in widgets(dev)
        for metric in widget["properties"]["metrics"]
        if metric[1] in ("Latency", "Duration")
    }
    for widget in widgets(dev):
        for metric in widget["properties"]["metrics"]:
            if metric[1] in percentiles:
                percentiles[metric[1]].add(metric[-1]["stat"])
    assert percentiles == {"Latency": {"p50", "p99"}, "Duration": {"p50", "p99"}}


def test_dashboard_widgets_are_in_the_stack_region(dev: Synthesis) -> None:
    assert {w["properties"]["region"] for w in widgets(dev)} == {REGION}


def test_the_stage_writes_the_per_route_metrics_the_dashboard_graphs(dev: Synthesis) -> None:
    (stage,) = dev.of_type(STAGE)
    assert stage.inputs["defaultRouteSettings"]["detailedMetricsEnabled"] is True


def test_the_dashboard_is_named_by_app_and_stage(dev: Synthesis) -> None:
    (dashboard,) = dev.of_type(DASHBOARD)
    assert dashboard.inputs["dashboardName"] == "draht-dev"


# The custom domain


def test_no_domain_by_default(dev: Synthesis) -> None:
    assert not dev.of_type(DOMAIN) and not dev.of_type(MAPPING) and not dev.of_type(RECORD)
    (api,) = dev.of_type(API)
    assert api.inputs.get("disableExecuteApiEndpoint") is False


def test_a_domain_gets_a_regional_tls_1_2_domain_name_with_its_certificate() -> None:
    s = synth("production", **DOMAIN_CONFIG)
    (domain,) = s.of_type(DOMAIN)
    assert domain.inputs["domainName"] == "api.example.com"
    assert domain.inputs["domainNameConfiguration"] == {
        "certificateArn": CERTIFICATE,
        "endpointType": "REGIONAL",
        "securityPolicy": "TLS_1_2",
    }


def test_the_domain_is_mapped_to_the_default_stage() -> None:
    s = synth("production", **DOMAIN_CONFIG)
    (mapping,) = s.of_type(MAPPING)
    (domain,) = s.of_type(DOMAIN)
    (stage,) = s.of_type(STAGE)
    assert mapping.inputs == {"apiId": api_id(s), "domainName": domain.id, "stage": stage.id}


def test_a_domain_disables_the_execute_api_endpoint() -> None:
    s = synth("production", **DOMAIN_CONFIG)
    (api,) = s.of_type(API)
    assert api.inputs["disableExecuteApiEndpoint"] is True


def test_with_a_domain_api_url_is_the_domain() -> None:
    s = synth("production", **DOMAIN_CONFIG)
    assert s.outputs["apiUrl"] == "https://api.example.com"


def test_no_alias_record_without_a_hosted_zone() -> None:
    assert not synth("production", **DOMAIN_CONFIG).of_type(RECORD)


def test_a_hosted_zone_gets_an_alias_record_to_the_domain_name() -> None:
    s = synth("production", **DOMAIN_CONFIG, hostedZoneId="Z0123456789ABCDEFGHIJ")
    (record,) = s.of_type(RECORD)
    (domain,) = s.of_type(DOMAIN)
    target = domain.outputs["domainNameConfiguration"]
    assert record.inputs == {
        "zoneId": "Z0123456789ABCDEFGHIJ",
        "name": "api.example.com",
        "type": "A",
        "aliases": [
            {
                "name": target["targetDomainName"],
                "zoneId": target["hostedZoneId"],
                "evaluateTargetHealth": False,
            }
        ],
    }


# CORS


def test_no_cors_configuration_by_default(dev: Synthesis) -> None:
    (api,) = dev.of_type(API)
    assert "corsConfiguration" not in api.inputs


def test_cors_allows_the_configured_origins_the_declared_methods_and_the_api_headers() -> None:
    s = synth("production", corsOrigins="https://app.example.com, https://admin.example.com")
    (api,) = s.of_type(API)
    assert api.inputs["corsConfiguration"] == {
        "allowOrigins": ["https://app.example.com", "https://admin.example.com"],
        "allowMethods": sorted({r.method for r in app.routes}),
        "allowHeaders": [
            "authorization",
            "content-type",
            "if-match",
            "x-amz-content-sha256",
            "x-amz-date",
            "x-amz-security-token",
        ],
        "exposeHeaders": ["etag", "location"],
        "maxAge": 600,
    }


def test_cors_methods_follow_the_declared_routes() -> None:
    # The app declares DELETE, GET, PATCH and POST routes; one more route adds its method.
    with_put = App(
        name="draht",
        tables=EXTENDED.tables,
        routes=(*EXTENDED.routes, Route("PUT /audit", record_audit)),
    )
    s = synthesize(lambda: main(with_put), "dev", {"corsOrigins": "http://localhost:5173"})
    (api,) = s.of_type(API)
    assert api.inputs["corsConfiguration"]["allowMethods"] == [
        "DELETE",
        "GET",
        "PATCH",
        "POST",
        "PUT",
    ]


def test_a_wildcard_origin_is_allowed_outside_production() -> None:
    s = synth("dev", corsOrigins="*")
    (api,) = s.of_type(API)
    assert api.inputs["corsConfiguration"]["allowOrigins"] == ["*"]


# Per-function memory and timeout


def test_health_runs_with_less_memory_than_the_data_functions(production: Synthesis) -> None:
    memory = {
        f.name: resource_of(production, FUNCTION, f.name).inputs["memorySize"]
        for f in app.functions
    }
    health = memory.pop("Health")
    assert health == 128
    assert set(memory.values()) == {Settings(stage="production").memory_mb}


def test_a_function_declared_memory_and_timeout_override_the_stack() -> None:
    tuned = Function("Tuned", handler="health.handler", memory_mb=1769, timeout_s=3)
    declared = App(name="draht", tables=(), routes=(Route("GET /tuned", tuned, auth="public"),))
    s = synthesize(lambda: main(declared), "dev", {"memory": "256", "timeout": "10"})
    (recorded,) = s.of_type(FUNCTION)
    assert (recorded.inputs["memorySize"], recorded.inputs["timeout"]) == (1769, 3)


# Review stacks


def test_a_review_stack_is_entirely_removable_without_alarms() -> None:
    s = synth("pr-7")
    assert not [r.name for r in s.resources if r.protect or r.retain_on_delete]
    assert {r.inputs["deletionProtectionEnabled"] for r in s.of_type(TABLE)} == {False}
    assert not s.of_type(ALARM)
