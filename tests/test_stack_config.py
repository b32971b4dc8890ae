"""Stack config: Pulumi.yaml, the stack files, and the one-line refusal of bad values."""

from __future__ import annotations

import runpy
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml

from draht.app import app
from draht.settings import Settings, cli_value, local_settings
from draht.stack import main, resource_name
from draht.synth import synthesize

ROOT = Path(__file__).resolve().parent.parent
CERTIFICATE = (
    "arn:aws:acm:eu-central-1:123456789012:certificate/0b5f3c2e-8f7a-4c1d-9e2b-1a2b3c4d5e6f"
)


def project() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())
    return loaded


def stack_config(stack: str) -> dict[str, str]:
    loaded = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())
    return {key: cli_value(value) for key, value in loaded["config"].items()}


def keys_settings_read(stage: str) -> set[str]:
    read: set[str] = set()

    def get(key: str) -> str | None:
        read.add(key)
        return None

    Settings.load(stage, get)
    return read


@pytest.mark.parametrize(
    ("stack", "config", "message_start"),
    [
        ("production", {"auth": "none"}, "draht:auth none is not allowed on the production"),
        ("dev", {"auth": "jwt"}, "draht:auth is jwt: set draht:jwtIssuer"),
        ("dev", {"auth": "jwt", "jwtIssuer": "https://id.example.com"}, "draht:auth is jwt"),
        ("dev", {"auth": "jwt", "jwtAudience": "web"}, "draht:auth is jwt"),
        ("dev", {"auth": "saml"}, "draht:auth must be one of iam, jwt, none"),
        ("dev", {"throttlingRate": "0"}, "draht:throttlingRate must be a number above 0"),
        ("dev", {"throttlingRate": "-5"}, "draht:throttlingRate must be a number above 0"),
        ("dev", {"throttlingBurst": "0"}, "draht:throttlingBurst must be from 1 to 5000"),
        ("dev", {"logRetentionDays": "10"}, "draht:logRetentionDays must be one of 1, 3, 5"),
        ("dev", {"memory": "64"}, "draht:memory must be from 128 to 10240"),
        ("dev", {"timeout": "901"}, "draht:timeout must be from 1 to 900"),
        ("dev", {"tracing": "On"}, "draht:tracing must be one of PassThrough, Active"),
        ("dev", {"aws:region": "Frankfurt"}, "aws:region must be an AWS region"),
        ("production", {"alarms": "false"}, "draht:alarms false is not allowed on the production"),
        ("dev", {"alarms": "yes"}, "draht:alarms must be true or false"),
        ("dev", {"alarmEmail": "oncall"}, "draht:alarmEmail must be one email address"),
        ("dev", {"alarmEmail": "a@example.com,b@example.com"}, "draht:alarmEmail must be one"),
        ("dev", {"alarmPeriod": "90"}, "draht:alarmPeriod must be a multiple of 60"),
        ("dev", {"alarmPeriod": "30"}, "draht:alarmPeriod must be from 60 to 86400"),
        (
            "dev",
            {"alarmPeriod": "3600", "alarmEvaluationPeriods": "25"},
            "draht:alarmEvaluationPeriods must be from 1 to 24",
        ),
        ("dev", {"alarmApi5xx": "0"}, "draht:alarmApi5xx must be from 1 to"),
        ("dev", {"alarmApiLatencyP99Ms": "fast"}, "draht:alarmApiLatencyP99Ms must be a whole"),
        ("dev", {"alarmFunctionErrors": "0"}, "draht:alarmFunctionErrors must be from 1 to"),
        ("dev", {"alarmFunctionThrottles": "0"}, "draht:alarmFunctionThrottles must be from 1"),
        ("dev", {"alarmTableThrottles": "-1"}, "draht:alarmTableThrottles must be from 1 to"),
        ("dev", {"alarmTableSystemErrors": "0"}, "draht:alarmTableSystemErrors must be from 1"),
        ("production", {"corsOrigins": "*"}, "draht:corsOrigins: the wildcard '*' is not allowed"),
        (
            "production",
            {"corsOrigins": "https://app.example.com,https://*"},
            "draht:corsOrigins: the wildcard 'https://*' is not allowed on the production",
        ),
        (
            "dev",
            {"corsOrigins": "https://app.example.com/login"},
            "draht:corsOrigins: 'https://app.example.com/login' is not an origin",
        ),
        (
            "dev",
            {"corsOrigins": "https://a.example.com, https://a.example.com"},
            "draht:corsOrigins names an origin twice",
        ),
        ("dev", {"domainName": "api.example.com"}, "draht:domainName and draht:certificateArn go"),
        ("dev", {"certificateArn": CERTIFICATE}, "draht:domainName and draht:certificateArn go"),
        (
            "dev",
            {"domainName": "API.example.com", "certificateArn": CERTIFICATE},
            "draht:domainName must be a lowercase host name",
        ),
        (
            "dev",
            {"domainName": "api.example.com", "certificateArn": "arn:aws:iam::123456789012:x"},
            "draht:certificateArn must be an ACM certificate ARN",
        ),
        (
            "dev",
            {
                "aws:region": "eu-central-1",
                "domainName": "api.example.com",
                "certificateArn": CERTIFICATE.replace("eu-central-1", "us-east-1"),
            },
            "draht:certificateArn must be a regional certificate in eu-central-1",
        ),
        ("dev", {"hostedZoneId": "Z0123456789ABC"}, "draht:hostedZoneId needs draht:domainName"),
        (
            "dev",
            {"domainName": "api.example.com", "certificateArn": CERTIFICATE, "hostedZoneId": "z"},
            "draht:hostedZoneId must be a Route 53 zone id",
        ),
    ],
)
def test_bad_config_stops_the_program_with_one_line_naming_the_key(
    stack: str, config: dict[str, str], message_start: str
) -> None:
    # The language host prints a RunError as its bare message; anything else gets a traceback.
    with pytest.raises(pulumi.RunError) as raised:
        synthesize(lambda: main(app), stack, config)
    message = str(raised.value)
    assert message.startswith(message_start)
    assert "\n" not in message


def test_auth_none_is_allowed_outside_production() -> None:
    synthesis = synthesize(lambda: main(app), "dev", {"auth": "none"})
    assert synthesis.outputs["apiUrl"]


def test_pulumi_yaml_declares_every_key_the_program_reads() -> None:
    declared = project()["config"]
    assert set(declared) == keys_settings_read("dev")
    for key, spec in declared.items():
        assert {"type", "description", "default"} <= set(spec), key


def test_pulumi_yaml_defaults_are_the_defaults_without_config() -> None:
    defaults = {key: cli_value(spec["default"]) for key, spec in project()["config"].items()}
    assert Settings.load("dev", defaults.get) == Settings.load("dev", lambda _key: None)


def test_pulumi_yaml_runs_python_from_the_project_virtualenv() -> None:
    loaded = project()
    assert loaded["name"] == "draht"
    assert loaded["runtime"]["name"] == "python"
    assert loaded["runtime"]["options"]["virtualenv"] == ".venv"


@pytest.mark.parametrize("stack", ["dev", "production"])
def test_stack_files_set_a_region_and_only_valid_values(stack: str) -> None:
    config = stack_config(stack)
    draht = {k.removeprefix("draht:"): v for k, v in config.items() if k.startswith("draht:")}
    settings = Settings.load(stack, draht.get, region=config["aws:region"])
    assert settings.region == config["aws:region"]


def test_stack_file_values_reach_the_resources() -> None:
    config = stack_config("production")
    synthesis = synthesize(lambda: main(app), "production", config)
    (provider,) = synthesis.of_type("pulumi:providers:aws")
    assert provider.inputs["region"] == config["aws:region"]
    memories = {
        f.name: f.inputs["memorySize"] for f in synthesis.of_type("aws:lambda/function:Function")
    }
    assert memories == {
        resource_name(app, "production", f.name): f.memory_mb or int(config["draht:memory"])
        for f in app.functions
    }


def test_main_module_exports_the_stack_outputs() -> None:
    synthesis = synthesize(lambda: runpy.run_path(str(ROOT / "__main__.py")), "dev")
    assert set(synthesis.outputs) == {"apiUrl", "sessionsTable", "clientsTable", "dashboardUrl"}


def test_a_stack_file_boolean_reads_as_the_cli_passes_it(tmp_path: Path) -> None:
    stack_file = tmp_path / "Pulumi.dev.yaml"
    stack_file.write_text(
        "config:\n  draht:alarms: true\n  draht:corsOrigins: http://localhost:5173\n"
    )
    settings = local_settings(stack_file)
    assert (settings.alarms, settings.cors_origins) == (True, ("http://localhost:5173",))
