"""`make checkov`: checkov's AWS rules on the production stack, with no failure left unwaived.

The production stack is synthesized under mocks from `Pulumi.production.yaml`, with
every optional part switched on (custom domain and its alias record, alarm email,
CORS) so that each kind of resource the program can create is judged. It is rendered
as a Terraform plan (`draht.tfplan`) and checked by checkov from its own environment.
A failed check passes only when `WAIVERS` names it for that resource, with the reason;
a waiver no failure uses any more is an error too, so the list stays true.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from draht import PROJECT_ROOT
from draht.app import app
from draht.components.http_api import slug
from draht.model import App
from draht.settings import PRODUCTION_STAGE, cli_value
from draht.stack import main as stack_program
from draht.stack import resource_name
from draht.synth import ACCOUNT, REGION, synthesize
from draht.tfplan import render

CHECKOV = PROJECT_ROOT / ".venv-checkov" / "bin" / "checkov"
PLAN = PROJECT_ROOT / ".draht" / "checkov" / f"{PRODUCTION_STAGE}.tfplan.json"

EVERY_OPTION = {
    "domainName": "api.example.com",
    "certificateArn": f"arn:aws:acm:{REGION}:{ACCOUNT}:certificate/00000000-0000-0000-0000-000000",
    "hostedZoneId": "Z0000000000000000000",
    "alarmEmail": "oncall@example.com",
    "corsOrigins": "https://app.example.com",
}


@dataclass(frozen=True)
class Waiver:
    check_id: str
    resource_type: str
    reason: str
    addresses: frozenset[str] | None = None
    """Only these resources; None for every resource of the type."""

    def covers(self, check_id: str, address: str) -> bool:
        if check_id != self.check_id or not address.startswith(f"{self.resource_type}."):
            return False
        return self.addresses is None or address in self.addresses


def _public_route_addresses(declared: App) -> frozenset[str]:
    api = resource_name(declared, PRODUCTION_STAGE, "Api")
    return frozenset(
        f"aws_apigatewayv2_route.{api}-{slug(route.key)}".replace("-", "_")
        for route in declared.routes
        if route.auth == "public"
    )


WAIVERS = (
    Waiver(
        "CKV_AWS_117",
        "aws_lambda_function",
        "The functions call only DynamoDB and CloudWatch Logs over AWS endpoints; a VPC would"
        " add NAT or endpoint costs and cold-start time and protect nothing.",
    ),
    Waiver(
        "CKV_AWS_116",
        "aws_lambda_function",
        "API Gateway invokes the functions synchronously only; a dead-letter queue applies to"
        " asynchronous invocations, which never happen.",
    ),
    Waiver(
        "CKV_AWS_115",
        "aws_lambda_function",
        "Concurrency is bounded where requests enter: the stage's draht:throttlingRate and"
        " draht:throttlingBurst; reserving account concurrency per function is left to the"
        " account's owner.",
    ),
    Waiver(
        "CKV_AWS_272",
        "aws_lambda_function",
        "The zips are built reproducibly from the reviewed repository by the workflow that"
        " deploys them; there is no third party to sign code for.",
    ),
    Waiver(
        "CKV_AWS_173",
        "aws_lambda_function",
        "The environment holds table names and ARNs and the app and stage, no secret; Lambda"
        " encrypts it at rest with its AWS-managed key.",
    ),
    Waiver(
        "CKV_AWS_158",
        "aws_cloudwatch_log_group",
        "Function and access logs hold request ids, routes, statuses and latencies, never item"
        " contents; CloudWatch Logs encrypts them at rest.",
    ),
    Waiver(
        "CKV_AWS_119",
        "aws_dynamodb_table",
        "The tables are encrypted at rest with the AWS-managed DynamoDB key; a customer-managed"
        " key would add a KMS request to every read for no access it restricts today.",
    ),
    Waiver(
        "CKV_AWS_309",
        "aws_apigatewayv2_route",
        'GET /health is public by declaration (auth="public"); every other route follows'
        " draht:auth.",
        _public_route_addresses(app),
    ),
)


def production_config() -> dict[str, str]:
    loaded = yaml.safe_load((PROJECT_ROOT / f"Pulumi.{PRODUCTION_STAGE}.yaml").read_text())
    config = {key: cli_value(value) for key, value in loaded["config"].items()}
    return {**config, **EVERY_OPTION}


def run_checkov(checkov: Path, plan: Path) -> dict[str, Any]:
    # Without the mapping download checkov tries (and waits for) a network it need not reach.
    environment = {**os.environ, "BC_SKIP_MAPPING": "TRUE"}
    completed = subprocess.run(
        [
            str(checkov),
            *("-f", str(plan), "--framework", "terraform_plan", "--skip-download"),
            *("--output", "json", "--quiet"),
        ],
        capture_output=True,
        text=True,
        env=environment,
        timeout=600,
    )
    try:
        report: dict[str, Any] = json.loads(completed.stdout)
    except ValueError:
        raise SystemExit(f"checkov gave no report: {completed.stderr.strip()[-500:]}") from None
    return report


def judge(report: dict[str, Any]) -> tuple[list[str], list[str], list[Waiver]]:
    """Unwaived failures, waived ones (with their reasons) and the waivers nothing used."""
    failed = report.get("results", {}).get("failed_checks", [])
    unwaived, waived, used = [], [], set()
    for check in failed:
        line = f"{check['check_id']} {check['resource']}: {check['check_name']}"
        waiver = next((w for w in WAIVERS if w.covers(check["check_id"], check["resource"])), None)
        if waiver is None:
            unwaived.append(line)
        else:
            used.add(waiver)
            waived.append(f"{line}\n    waived: {waiver.reason}")
    return unwaived, waived, [w for w in WAIVERS if w not in used]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m draht.checkov", description=__doc__)
    parser.add_argument("--checkov", type=Path, default=CHECKOV, help="the checkov executable")
    args = parser.parse_args(argv)
    synthesis = synthesize(lambda: stack_program(app), PRODUCTION_STAGE, production_config())
    PLAN.parent.mkdir(parents=True, exist_ok=True)
    PLAN.write_text(json.dumps(render(synthesis), indent=1, default=str))
    report = run_checkov(args.checkov, PLAN)
    summary = report.get("summary", {})
    if not summary.get("resource_count"):
        print(f"checkov judged no resource of {PLAN}", file=sys.stderr)
        return 1
    unwaived, waived, unused = judge(report)
    for line in waived:
        print(line)
    for waiver in unused:
        print(f"waiver {waiver.check_id} on {waiver.resource_type} is not used: remove it")
    for line in unwaived:
        print(f"FAILED {line}")
    print(
        f"checkov {summary.get('checkov_version')}: {summary.get('resource_count')} resources,"
        f" {summary.get('passed')} passed, {len(waived)} waived, {len(unwaived)} unwaived failures"
    )
    return 1 if unwaived or unused else 0


if __name__ == "__main__":
    sys.exit(main())
