"""The Terraform-plan rendering checkov judges (`make checkov`), and how its report is judged.

checkov itself runs in `make checkov`, from its own environment; these tests check that
what it is given is the stack, and that a failure nobody waived fails the run.
"""

from __future__ import annotations

from typing import Any

import pytest

from draht.app import app
from draht.checkov import WAIVERS, judge, production_config
from draht.stack import main
from draht.synth import synthesize
from draht.tfplan import render, terraform_type


@pytest.fixture(scope="module")
def plan() -> dict[str, Any]:
    return render(synthesize(lambda: main(app), "production", production_config()))


def planned(plan: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    resources = plan["planned_values"]["root_module"]["resources"]
    return [r for r in resources if r["type"] == kind]


def expressions(plan: dict[str, Any], kind: str) -> dict[str, Any]:
    found: dict[str, Any]
    (found,) = [
        r["expressions"]
        for r in plan["configuration"]["root_module"]["resources"]
        if r["type"] == kind
    ]
    return found


@pytest.mark.parametrize(
    ("pulumi_type", "terraform"),
    [
        ("aws:sns/topic:Topic", "aws_sns_topic"),
        ("aws:cloudwatch/metricAlarm:MetricAlarm", "aws_cloudwatch_metric_alarm"),
        ("aws:lambda/function:Function", "aws_lambda_function"),
        ("aws:apigatewayv2/domainName:DomainName", "aws_apigatewayv2_domain_name"),
        ("aws:iam/rolePolicy:RolePolicy", "aws_iam_role_policy"),
    ],
)
def test_a_pulumi_type_is_its_terraform_resource_type(pulumi_type: str, terraform: str) -> None:
    assert terraform_type(pulumi_type) == terraform


def test_the_plan_holds_every_aws_resource_of_the_stack_once(plan: dict[str, Any]) -> None:
    synthesis = synthesize(lambda: main(app), "production", production_config())
    kinds = sorted(terraform_type(r.type) for r in synthesis.resources if r.type.startswith("aws:"))
    resources = plan["planned_values"]["root_module"]["resources"]
    assert sorted(r["type"] for r in resources) == kinds
    assert len({r["address"] for r in resources}) == len(resources)


def test_every_optional_part_is_in_the_judged_stack(plan: dict[str, Any]) -> None:
    for kind in (
        "aws_apigatewayv2_domain_name",
        "aws_route53_record",
        "aws_sns_topic_subscription",
        "aws_kms_key",
    ):
        assert planned(plan, kind), kind


def test_inputs_become_terraform_arguments(plan: dict[str, Any]) -> None:
    (topic,) = planned(plan, "aws_sns_topic")
    (key,) = planned(plan, "aws_kms_key")
    assert topic["values"]["kms_master_key_id"].startswith("arn:aws:kms:")
    assert key["values"]["enable_key_rotation"] is True


def test_blocks_pulumi_names_in_the_plural_get_terraform_names(plan: dict[str, Any]) -> None:
    (record,) = planned(plan, "aws_route53_record")
    assert "alias" in record["values"] and "aliases" not in record["values"]
    assert {"attribute"} <= set(planned(plan, "aws_dynamodb_table")[0]["values"])


def test_environment_variable_names_are_kept_as_they_are(plan: dict[str, Any]) -> None:
    for function in planned(plan, "aws_lambda_function"):
        assert "DRAHT_RESOURCE_App" in function["values"]["environment"]["variables"]


def test_an_input_holding_another_resource_output_is_a_reference(plan: dict[str, Any]) -> None:
    (key,) = planned(plan, "aws_kms_key")
    references = expressions(plan, "aws_sns_topic")["kms_master_key_id"]["references"]
    assert references == [f"{key['address']}.arn", key["address"]]


def test_the_alias_record_refers_to_the_domain_name(plan: dict[str, Any]) -> None:
    (domain,) = planned(plan, "aws_apigatewayv2_domain_name")
    (alias,) = expressions(plan, "aws_route53_record")["alias"]
    assert domain["address"] in alias["name"]["references"]


def test_the_plan_names_the_terraform_version_checkov_requires(plan: dict[str, Any]) -> None:
    assert plan["terraform_version"]


# Judging checkov's report


def failure(check_id: str, resource: str) -> dict[str, str]:
    return {"check_id": check_id, "resource": resource, "check_name": "a rule"}


def report(*failed: dict[str, str]) -> dict[str, Any]:
    return {"results": {"failed_checks": list(failed)}}


def every_waiver_used() -> list[dict[str, str]]:
    failures = []
    for waiver in WAIVERS:
        addresses = waiver.addresses or {f"{waiver.resource_type}.anything"}
        failures += [failure(waiver.check_id, address) for address in addresses]
    return failures


def test_every_waiver_says_why() -> None:
    assert all(len(waiver.reason) > 40 for waiver in WAIVERS)


def test_a_failure_nobody_waived_is_unwaived() -> None:
    unwaived, _, _ = judge(report(*every_waiver_used(), failure("CKV_AWS_26", "aws_sns_topic.x")))
    assert unwaived == ["CKV_AWS_26 aws_sns_topic.x: a rule"]


def test_a_waiver_covers_only_its_resource_type() -> None:
    unwaived, _, _ = judge(report(*every_waiver_used(), failure("CKV_AWS_117", "aws_sns_topic.x")))
    assert unwaived == ["CKV_AWS_117 aws_sns_topic.x: a rule"]


def test_the_public_route_waiver_covers_only_public_routes() -> None:
    failures = [*every_waiver_used(), failure("CKV_AWS_309", "aws_apigatewayv2_route.other")]
    unwaived, _, _ = judge(report(*failures))
    assert unwaived == ["CKV_AWS_309 aws_apigatewayv2_route.other: a rule"]


def test_a_waiver_no_failure_needs_is_reported() -> None:
    _, _, unused = judge(report(*every_waiver_used()[1:]))
    assert unused == [WAIVERS[0]]
