"""The stack under Pulumi mocks, for dev and production: one fact per test.

Each stack is synthesized once per module (a fraction of a second); the tests
assert on the plain inputs and options the mocks recorded, so none of them can
pass by forgetting to await an output.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest
from stack_synth import synth

from draht.app import app
from draht.components.http_api import source_arn_path
from draht.model import PYTHON_RUNTIME, App, Route
from draht.stack import resource_name
from draht.synth import Recorded, Synthesis

TABLE = "aws:dynamodb/table:Table"
FUNCTION = "aws:lambda/function:Function"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
API = "aws:apigatewayv2/api:Api"
STAGE = "aws:apigatewayv2/stage:Stage"
INTEGRATION = "aws:apigatewayv2/integration:Integration"
ROUTE = "aws:apigatewayv2/route:Route"
AUTHORIZER = "aws:apigatewayv2/authorizer:Authorizer"
PERMISSION = "aws:lambda/permission:Permission"
PROVIDER = "pulumi:providers:aws"


@pytest.fixture(scope="session", params=["dev", "production"])
def stack(request: pytest.FixtureRequest, dev: Synthesis, production: Synthesis) -> Synthesis:
    return dev if request.param == "dev" else production


# Helpers: find a declared thing's resources in a synthesis.


def component(s: Synthesis, type_: str, declared_name: str) -> Recorded:
    return s.named(type_, resource_name(app, s.stack, declared_name))


def child(s: Synthesis, parent: Recorded, type_: str) -> Recorded:
    (found,) = [r for r in s.children(parent) if r.type == type_]
    return found


def table(s: Synthesis, name: str) -> Recorded:
    return child(s, component(s, "draht:aws:Table", name), TABLE)


def table_arn(s: Synthesis, name: str) -> str:
    arn: str = table(s, name).outputs["arn"]
    return arn


def function(s: Synthesis, name: str) -> Recorded:
    return child(s, component(s, "draht:aws:Function", name), FUNCTION)


def log_group_of(s: Synthesis, name: str) -> Recorded:
    return child(s, component(s, "draht:aws:Function", name), LOG_GROUP)


def policy(s: Synthesis, name: str) -> list[dict[str, Any]]:
    document = child(s, component(s, "draht:aws:Function", name), ROLE_POLICY).inputs["policy"]
    statements: list[dict[str, Any]] = json.loads(document)["Statement"]
    return statements


def dynamodb_grants(s: Synthesis, name: str) -> set[tuple[str, str]]:
    return {
        (action, resource)
        for statement in policy(s, name)
        for action in statement["Action"]
        for resource in statement["Resource"]
        if action.startswith("dynamodb:")
    }


def environment(s: Synthesis, name: str) -> dict[str, str]:
    variables: dict[str, str] = function(s, name).inputs["environment"]["variables"]
    return variables


def route(s: Synthesis, key: str) -> Recorded:
    (found,) = [r for r in s.of_type(ROUTE) if r.inputs["routeKey"] == key]
    return found


def integration_of(s: Synthesis, key: str) -> Recorded:
    """The integration the route's target names."""
    target = route(s, key).inputs["target"]
    (found,) = [r for r in s.of_type(INTEGRATION) if target == f"integrations/{r.id}"]
    return found


def permissions_of(s: Synthesis, function_name: str) -> list[Recorded]:
    name = function(s, function_name).outputs["name"]
    return [r for r in s.of_type(PERMISSION) if r.inputs["function"] == name]


def stage_of(s: Synthesis) -> Recorded:
    (found,) = s.of_type(STAGE)
    return found


def execution_arn(s: Synthesis) -> str:
    (api,) = s.of_type(API)
    arn: str = api.outputs["executionArn"]
    return arn


PROTECTED_ROUTES = [r.key for r in app.routes if r.auth == "protected"]
ROUTE_FUNCTIONS = {r.key: r.function.name for r in app.routes}


# Resources, counts and types


def test_stack_has_exactly_the_resources_of_the_declaration(stack: Synthesis) -> None:
    counts = Counter(r.type for r in stack.resources)
    # Production's alarms: two of the stage, three per function, two per table.
    alarms = (
        {
            "aws:kms/key:Key": 1,
            "aws:sns/topic:Topic": 1,
            "aws:sns/topicPolicy:TopicPolicy": 1,
            "aws:cloudwatch/metricAlarm:MetricAlarm": 2 + 3 * 3 + 2 * 2,
        }
        if stack.stack == "production"
        else {}
    )
    assert counts == {
        **alarms,
        "draht:aws:Monitoring": 1,
        "aws:cloudwatch/dashboard:Dashboard": 1,
        PROVIDER: 1,
        "draht:aws:Table": 2,
        TABLE: 2,
        "draht:aws:Function": 3,
        FUNCTION: 3,
        ROLE: 3,
        ROLE_POLICY: 3,
        LOG_GROUP: 4,
        "draht:aws:HttpApi": 1,
        API: 1,
        STAGE: 1,
        INTEGRATION: 11,
        ROUTE: 11,
        PERMISSION: 11,
    }


def test_every_aws_resource_belongs_to_a_draht_component(stack: Synthesis) -> None:
    components = {r.urn for r in stack.resources if r.type.startswith("draht:aws:")}
    aws_resources = [r for r in stack.resources if r.type.startswith("aws:")]
    assert aws_resources
    assert not [r.name for r in aws_resources if r.parent not in components]


def test_every_resource_is_tagged_with_app_and_stage_by_the_provider(stack: Synthesis) -> None:
    (provider,) = stack.of_type(PROVIDER)
    assert json.loads(provider.inputs["defaultTags"]) == {
        "tags": {"draht:app": "draht", "draht:stage": stack.stack}
    }


def test_every_aws_resource_goes_through_the_tagging_provider(stack: Synthesis) -> None:
    (provider,) = stack.of_type(PROVIDER)
    aws_resources = [r for r in stack.resources if r.type.startswith("aws:")]
    assert aws_resources
    assert {r.provider.rsplit("::", 1)[0] for r in aws_resources} == {provider.urn}


# Tables


def test_sessions_table_has_string_keys_pk_and_sk(dev: Synthesis) -> None:
    inputs = table(dev, "Sessions").inputs
    assert (inputs["hashKey"], inputs.get("rangeKey")) == ("pk", "sk")


def test_sessions_table_defines_only_its_key_and_index_attributes(dev: Synthesis) -> None:
    # DynamoDB refuses attribute definitions no key or index uses.
    assert table(dev, "Sessions").inputs["attributes"] == [
        {"name": "pk", "type": "S"},
        {"name": "sk", "type": "S"},
        {"name": "sessionId", "type": "S"},
    ]


def test_sessions_table_finds_a_session_by_id_through_a_local_index(dev: Synthesis) -> None:
    # Local, not global: only a local index can be read with ConsistentRead.
    # https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/LSI.html
    # ("Read consistency for local secondary indexes")
    assert table(dev, "Sessions").inputs["localSecondaryIndexes"] == [
        {"name": "bySessionId", "rangeKey": "sessionId", "projectionType": "ALL"}
    ]
    assert "globalSecondaryIndexes" not in table(dev, "Sessions").inputs


def test_clients_table_has_no_index(dev: Synthesis) -> None:
    assert not table(dev, "Clients").inputs.get("localSecondaryIndexes")


def test_clients_table_has_string_key_client_id_only(dev: Synthesis) -> None:
    inputs = table(dev, "Clients").inputs
    assert (inputs["hashKey"], inputs.get("rangeKey")) == ("clientId", None)
    assert inputs["attributes"] == [{"name": "clientId", "type": "S"}]


def test_tables_are_on_demand(stack: Synthesis) -> None:
    assert {r.inputs["billingMode"] for r in stack.of_type(TABLE)} == {"PAY_PER_REQUEST"}


def test_tables_have_point_in_time_recovery(stack: Synthesis) -> None:
    assert all(r.inputs["pointInTimeRecovery"]["enabled"] for r in stack.of_type(TABLE))


def test_tables_are_encrypted_at_rest(stack: Synthesis) -> None:
    assert all(r.inputs["serverSideEncryption"]["enabled"] for r in stack.of_type(TABLE))


def test_table_names_carry_app_and_stage(stack: Synthesis) -> None:
    names = {r.name for r in stack.of_type(TABLE)}
    assert names == {f"draht-{stack.stack}-sessions", f"draht-{stack.stack}-clients"}
    # No fixed physical name: Pulumi auto-names from the logical name above.
    assert not any("name" in r.inputs for r in stack.of_type(TABLE))


def test_production_tables_are_retained_protected_and_deletion_protected(
    production: Synthesis,
) -> None:
    for recorded in production.of_type(TABLE):
        assert recorded.retain_on_delete, recorded.name
        assert recorded.protect, recorded.name
        assert recorded.inputs["deletionProtectionEnabled"] is True, recorded.name


def test_dev_stack_is_entirely_removable(dev: Synthesis) -> None:
    assert not [r.name for r in dev.resources if r.protect or r.retain_on_delete]
    assert {r.inputs["deletionProtectionEnabled"] for r in dev.of_type(TABLE)} == {False}


# Functions


def test_functions_run_python_on_arm64(stack: Synthesis) -> None:
    for recorded in stack.of_type(FUNCTION):
        assert recorded.inputs["architectures"] == ["arm64"]
        assert recorded.inputs["runtime"] == PYTHON_RUNTIME


def test_function_memory_and_timeout_come_from_config() -> None:
    s = synth("dev", memory="1024", timeout="30")
    unset = [f.name for f in app.functions if f.memory_mb is None and f.timeout_s is None]
    assert unset
    assert {
        (function(s, n).inputs["memorySize"], function(s, n).inputs["timeout"]) for n in unset
    } == {(1024, 30)}


def test_functions_log_json_into_their_own_log_group(dev: Synthesis) -> None:
    for declared in app.functions:
        logging_config = function(dev, declared.name).inputs["loggingConfig"]
        own = log_group_of(dev, declared.name)
        assert logging_config["logFormat"] == "JSON"
        assert logging_config["logGroup"] == own.outputs["name"]


def test_function_log_groups_keep_logs_for_the_configured_days() -> None:
    s = synth("dev", logRetentionDays="30")
    assert {r.inputs["retentionInDays"] for r in s.of_type(LOG_GROUP)} == {30}


def test_every_function_knows_its_app_and_stage(stack: Synthesis) -> None:
    for declared in app.functions:
        value = environment(stack, declared.name)["DRAHT_RESOURCE_App"]
        assert json.loads(value) == {"name": "draht", "stage": stack.stack}


def test_linked_tables_reach_the_function_as_name_and_arn(dev: Synthesis) -> None:
    value = json.loads(environment(dev, "ListSessions")["DRAHT_RESOURCE_Sessions"])
    assert value == {"name": dev.outputs["sessionsTable"], "arn": table_arn(dev, "Sessions")}


def test_functions_see_only_their_linked_tables(dev: Synthesis) -> None:
    for declared in app.functions:
        linked = {key for key in environment(dev, declared.name) if key != "DRAHT_RESOURCE_App"}
        assert linked == {f"DRAHT_RESOURCE_{link.table.name}" for link in declared.links}


def test_tracing_is_pass_through_by_default(stack: Synthesis) -> None:
    assert {r.inputs["tracingConfig"]["mode"] for r in stack.of_type(FUNCTION)} == {"PassThrough"}


def test_tracing_active_turns_on_xray_and_its_write_permission() -> None:
    s = synth("dev", tracing="Active")
    assert {r.inputs["tracingConfig"]["mode"] for r in s.of_type(FUNCTION)} == {"Active"}
    for declared in app.functions:
        actions = {a for statement in policy(s, declared.name) for a in statement["Action"]}
        assert {"xray:PutTraceSegments", "xray:PutTelemetryRecords"} <= actions


def test_without_active_tracing_no_role_may_write_to_xray(dev: Synthesis) -> None:
    for declared in app.functions:
        actions = {a for statement in policy(dev, declared.name) for a in statement["Action"]}
        assert not [a for a in actions if a.startswith("xray:")]


# Roles and policies


def test_each_function_has_its_own_role(dev: Synthesis) -> None:
    roles = {
        declared.name: child(dev, component(dev, "draht:aws:Function", declared.name), ROLE)
        for declared in app.functions
    }
    for name, role in roles.items():
        assert function(dev, name).inputs["role"] == role.outputs["arn"]
    assert len({role.urn for role in roles.values()}) == len(app.functions)


def _grants_on(s: Synthesis, function_name: str, resource: str) -> set[str]:
    return {action for action, arn in dynamodb_grants(s, function_name) if arn == resource}


def _index_arn(s: Synthesis) -> str:
    return f"{table_arn(s, 'Sessions')}/index/bySessionId"


def test_sessions_function_reaches_only_sessions_its_index_and_clients(dev: Synthesis) -> None:
    resources = {resource for _, resource in dynamodb_grants(dev, "ListSessions")}
    assert resources == {table_arn(dev, "Sessions"), _index_arn(dev), table_arn(dev, "Clients")}


def test_sessions_function_may_query_put_update_and_delete_sessions(dev: Synthesis) -> None:
    assert _grants_on(dev, "ListSessions", table_arn(dev, "Sessions")) == {
        "dynamodb:Query",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
    }


def test_sessions_function_may_only_query_the_session_id_index(dev: Synthesis) -> None:
    # A Query on an index is authorized against the index's ARN, `table/<name>/index/<index>`:
    # https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/iam-policy-example-data-crud.html
    assert _grants_on(dev, "ListSessions", _index_arn(dev)) == {"dynamodb:Query"}


def test_sessions_function_may_only_get_and_update_clients(dev: Synthesis) -> None:
    assert _grants_on(dev, "ListSessions", table_arn(dev, "Clients")) == {
        "dynamodb:GetItem",
        "dynamodb:UpdateItem",
    }


def test_sessions_function_cannot_list_create_or_delete_clients(dev: Synthesis) -> None:
    actions = _grants_on(dev, "ListSessions", table_arn(dev, "Clients"))
    assert not actions & {"dynamodb:Scan", "dynamodb:PutItem", "dynamodb:DeleteItem"}


def test_clients_function_reaches_only_clients_and_the_sessions_table(dev: Synthesis) -> None:
    resources = {resource for _, resource in dynamodb_grants(dev, "ListClients")}
    assert resources == {table_arn(dev, "Clients"), table_arn(dev, "Sessions")}


def test_clients_function_may_scan_get_put_update_and_delete_clients(dev: Synthesis) -> None:
    assert _grants_on(dev, "ListClients", table_arn(dev, "Clients")) == {
        "dynamodb:Scan",
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
    }


def test_clients_function_may_only_query_sessions(dev: Synthesis) -> None:
    assert _grants_on(dev, "ListClients", table_arn(dev, "Sessions")) == {"dynamodb:Query"}


def test_no_function_may_batch_or_transact(dev: Synthesis) -> None:
    for declared in app.functions:
        actions = {action for action, _ in dynamodb_grants(dev, declared.name)}
        assert not [a for a in actions if "Batch" in a or "Transact" in a], declared.name


def test_health_may_only_describe_both_tables(dev: Synthesis) -> None:
    assert dynamodb_grants(dev, "Health") == {
        ("dynamodb:DescribeTable", table_arn(dev, "Sessions")),
        ("dynamodb:DescribeTable", table_arn(dev, "Clients")),
    }


def test_health_has_no_write_access(dev: Synthesis) -> None:
    writes = {"Put", "Update", "Delete", "BatchWrite", "Write", "Create", "Restore", "Import"}
    actions = {action.removeprefix("dynamodb:") for action, _ in dynamodb_grants(dev, "Health")}
    assert not [a for a in actions if any(a.startswith(w) for w in writes)]


def test_no_policy_uses_a_wildcard_action_or_resource(dev: Synthesis) -> None:
    for declared in app.functions:
        for statement in policy(dev, declared.name):
            assert not [a for a in statement["Action"] if "*" in a], statement
            assert "*" not in statement["Resource"], statement


def test_functions_may_log_only_into_their_own_log_group(dev: Synthesis) -> None:
    for declared in app.functions:
        own = log_group_of(dev, declared.name)
        logging = [
            s for s in policy(dev, declared.name) if any(a.startswith("logs:") for a in s["Action"])
        ]
        assert len(logging) == 1
        assert logging[0]["Resource"] == [f"{own.outputs['arn']}:*"]
        assert "logs:CreateLogGroup" not in logging[0]["Action"]


# HTTP API


def test_routes_are_the_declared_ones(dev: Synthesis) -> None:
    assert sorted(r.inputs["routeKey"] for r in dev.of_type(ROUTE)) == sorted(ROUTE_FUNCTIONS)


def test_every_route_proxies_to_its_function_with_payload_2(dev: Synthesis) -> None:
    for key, function_name in ROUTE_FUNCTIONS.items():
        integration = integration_of(dev, key).inputs
        assert integration["integrationType"] == "AWS_PROXY"
        assert integration["payloadFormatVersion"] == "2.0"
        assert integration["integrationUri"] == function(dev, function_name).outputs["arn"]


def test_every_route_has_its_own_permission_naming_it(stack: Synthesis) -> None:
    for declared in app.routes:
        arns = [p.inputs["sourceArn"] for p in permissions_of(stack, declared.function.name)]
        method, path = declared.key.split(" ")
        literal = path.split("{", 1)[0].rstrip("/")
        assert arns.count(f"{execution_arn(stack)}/*/{source_arn_path(declared)}") == 1
        assert source_arn_path(declared).startswith(f"{method}{literal}")


def test_each_function_has_one_permission_per_route_it_serves(stack: Synthesis) -> None:
    for declared in app.functions:
        served = [r for r in app.routes if r.function is declared]
        assert len(permissions_of(stack, declared.name)) == len(served), declared.name


def test_a_path_parameter_becomes_a_wildcard_in_the_source_arn() -> None:
    route = Route("GET /sessions/{id}", app.function("ListSessions"))
    assert source_arn_path(route) == "GET/sessions/*"


def test_permissions_let_only_api_gateway_invoke(dev: Synthesis) -> None:
    for recorded in dev.of_type(PERMISSION):
        assert recorded.inputs["action"] == "lambda:InvokeFunction"
        assert recorded.inputs["principal"] == "apigateway.amazonaws.com"


def test_no_permission_opens_the_whole_api(stack: Synthesis) -> None:
    arns = [r.inputs.get("sourceArn", "") for r in stack.of_type(PERMISSION)]
    assert len(arns) == len(app.routes)
    # Only a path parameter may become `*`, never the method or the whole path.
    prefix = f"{execution_arn(stack)}/*/"
    assert not [arn for arn in arns if not arn.startswith(prefix)]
    assert not [arn for arn in arns if arn[len(prefix) :].split("/", 1)[0] in ("*", "")]
    assert not [arn for arn in arns if arn.endswith("/*/*") or arn == prefix + "*"]


def test_health_is_public_whatever_the_auth(stack: Synthesis) -> None:
    assert route(stack, "GET /health").inputs["authorizationType"] == "NONE"


@pytest.mark.parametrize(("auth", "expected"), [("iam", "AWS_IAM"), ("none", "NONE")])
def test_protected_routes_follow_draht_auth(auth: str, expected: str) -> None:
    s = synth("dev", auth=auth)
    assert {key: route(s, key).inputs["authorizationType"] for key in PROTECTED_ROUTES} == {
        key: expected for key in PROTECTED_ROUTES
    }
    assert route(s, "GET /health").inputs["authorizationType"] == "NONE"
    assert not s.of_type(AUTHORIZER)


def test_auth_jwt_guards_protected_routes_with_one_jwt_authorizer() -> None:
    s = synth("dev", auth="jwt", jwtIssuer="https://id.example.com", jwtAudience="web, cli")
    (authorizer,) = s.of_type(AUTHORIZER)
    assert authorizer.inputs["authorizerType"] == "JWT"
    assert authorizer.inputs["jwtConfiguration"] == {
        "issuer": "https://id.example.com",
        "audiences": ["web", "cli"],
    }
    for key in PROTECTED_ROUTES:
        assert route(s, key).inputs["authorizationType"] == "JWT"
        assert route(s, key).inputs["authorizerId"] == authorizer.id
    assert "authorizerId" not in route(s, "GET /health").inputs


def _with_scopes(key: str, scopes: tuple[str, ...]) -> App:
    routes = tuple(
        Route(r.key, r.function, r.auth, scopes=scopes) if r.key == key else r for r in app.routes
    )
    return App(app.name, app.tables, routes)


def test_a_routes_scopes_become_its_jwt_authorization_scopes() -> None:
    scoped = _with_scopes("GET /sessions", ("sessions.read", "admin"))
    s = synth("dev", scoped, auth="jwt", jwtIssuer="https://id.example.com", jwtAudience="web")
    assert route(s, "GET /sessions").inputs["authorizationScopes"] == ["sessions.read", "admin"]
    assert "authorizationScopes" not in route(s, "GET /clients").inputs


def test_scopes_are_not_sent_with_iam_auth() -> None:
    s = synth("dev", _with_scopes("GET /sessions", ("sessions.read",)))
    assert "authorizationScopes" not in route(s, "GET /sessions").inputs


def test_default_stage_deploys_automatically(stack: Synthesis) -> None:
    inputs = stage_of(stack).inputs
    assert (inputs["name"], inputs["autoDeploy"]) == ("$default", True)


def test_throttling_sets_both_burst_and_rate_above_zero(stack: Synthesis) -> None:
    limits = stage_of(stack).inputs["defaultRouteSettings"]
    assert limits["throttlingBurstLimit"] > 0
    assert limits["throttlingRateLimit"] > 0


def test_throttling_comes_from_config() -> None:
    s = synth("dev", throttlingRate="7", throttlingBurst="9")
    limits = stage_of(s).inputs["defaultRouteSettings"]
    assert (limits["throttlingRateLimit"], limits["throttlingBurstLimit"]) == (7, 9)


def test_access_logs_are_json_with_the_fields_an_investigation_needs(stack: Synthesis) -> None:
    settings = stage_of(stack).inputs["accessLogSettings"]
    fields = json.loads(settings["format"])
    assert {"requestId", "routeKey", "status", "latency", "integrationError"} <= set(fields)
    assert fields["requestId"] == "$context.requestId"


def test_access_logs_go_to_the_api_log_group_with_retention() -> None:
    s = synth("dev", logRetentionDays="60")
    api = s.named("draht:aws:HttpApi", resource_name(app, "dev", "Api"))
    log_group = child(s, api, LOG_GROUP)
    destination = stage_of(s).inputs["accessLogSettings"]["destinationArn"]
    assert destination == log_group.outputs["arn"]
    assert log_group.inputs["retentionInDays"] == 60


# Outputs


def test_outputs_are_the_api_url_the_table_names_and_the_dashboard(dev: Synthesis) -> None:
    (dashboard,) = dev.of_type("aws:cloudwatch/dashboard:Dashboard")
    assert dev.outputs == {
        "apiUrl": stage_of(dev).outputs["invokeUrl"],
        "sessionsTable": table(dev, "Sessions").outputs["name"],
        "clientsTable": table(dev, "Clients").outputs["name"],
        "dashboardUrl": "https://eu-central-1.console.aws.amazon.com/cloudwatch/home"
        f"?region=eu-central-1#dashboards/dashboard/{dashboard.inputs['dashboardName']}",
    }


def test_production_also_outputs_its_alarm_topic(production: Synthesis) -> None:
    (topic,) = production.of_type("aws:sns/topic:Topic")
    assert production.outputs["alarmTopicArn"] == topic.outputs["arn"]
