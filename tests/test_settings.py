"""Settings.load on its own: what each key parses to, the edges it accepts, what it refuses.

tests/test_stack_config.py shows the same refusals stopping the Pulumi program; these
call `Settings.load` directly, so every accepted edge is shown too and the tests run in
a fraction of a second.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from draht.settings import LOG_RETENTION_DAYS, ConfigError, Settings, local_settings


def load(stage: str = "dev", region: str | None = None, **config: str) -> Settings:
    return Settings.load(stage, config.get, region=region)


def refusal(stage: str = "dev", region: str | None = None, **config: str) -> str:
    with pytest.raises(ConfigError) as raised:
        load(stage, region, **config)
    message = str(raised.value)
    assert "\n" not in message
    return message


def test_without_config_every_setting_is_its_default() -> None:
    assert load() == Settings(
        stage="dev",
        auth="iam",
        jwt_issuer=None,
        jwt_audience=(),
        throttling_rate=100.0,
        throttling_burst=200,
        log_retention_days=14,
        memory_mb=256,
        timeout_s=10,
        tracing="PassThrough",
        region=None,
    )


def test_empty_values_are_the_defaults() -> None:
    keys = ("auth", "jwtIssuer", "jwtAudience", "throttlingRate", "throttlingBurst")
    more = ("logRetentionDays", "memory", "timeout", "tracing")
    assert load(region="", **dict.fromkeys(keys + more, "")) == load()


def test_every_parsed_value_reaches_the_settings() -> None:
    settings = load(
        "production",
        "eu-central-1",
        auth="jwt",
        jwtIssuer="https://id.example.com",
        jwtAudience=" web, ,cli ,",
        throttlingRate="2.5",
        throttlingBurst="7",
        logRetentionDays="90",
        memory="512",
        timeout="30",
        tracing="Active",
    )
    assert settings == Settings(
        stage="production",
        auth="jwt",
        jwt_issuer="https://id.example.com",
        jwt_audience=("web", "cli"),
        throttling_rate=2.5,
        throttling_burst=7,
        log_retention_days=90,
        memory_mb=512,
        timeout_s=30,
        tracing="Active",
        region="eu-central-1",
        alarms=True,
    )


@pytest.mark.parametrize(("auth"), ["iam", "jwt", "none"])
def test_each_auth_mode_is_accepted_outside_production(auth: str) -> None:
    jwt = {"jwtIssuer": "https://id.example.com", "jwtAudience": "web"} if auth == "jwt" else {}
    assert load(auth=auth, **jwt).auth == auth


def test_only_the_production_stage_is_production_and_retains_its_data() -> None:
    production = load("production")
    assert production.is_production and production.retains_data
    for stage in ("dev", "Production", "production-2", "prod"):
        settings = load(stage)
        assert not settings.is_production and not settings.retains_data


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("memory", "128", 128),
        ("memory", "10240", 10240),
        ("timeout", "1", 1),
        ("timeout", "900", 900),
        ("throttlingBurst", "1", 1),
        ("throttlingBurst", "5000", 5000),
        ("throttlingRate", "0.001", 0.001),
        ("throttlingRate", "1e3", 1000.0),
    ],
)
def test_the_edges_of_each_range_are_accepted(key: str, value: str, expected: float) -> None:
    field = {
        "memory": "memory_mb",
        "timeout": "timeout_s",
        "throttlingBurst": "throttling_burst",
        "throttlingRate": "throttling_rate",
    }[key]
    assert getattr(load(**{key: value}), field) == expected


@pytest.mark.parametrize("days", LOG_RETENTION_DAYS)
def test_every_cloudwatch_retention_period_is_accepted(days: int) -> None:
    # https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutRetentionPolicy.html
    # ("retentionInDays", valid values)
    assert load(logRetentionDays=str(days)).log_retention_days == days


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"memory": "127"}, "draht:memory must be from 128 to 10240 (got 127)"),
        ({"memory": "10241"}, "draht:memory must be from 128 to 10240 (got 10241)"),
        ({"timeout": "0"}, "draht:timeout must be from 1 to 900 (got 0)"),
        ({"timeout": "901"}, "draht:timeout must be from 1 to 900 (got 901)"),
        ({"throttlingBurst": "0"}, "draht:throttlingBurst must be from 1 to 5000 (got 0)"),
        ({"throttlingBurst": "5001"}, "draht:throttlingBurst must be from 1 to 5000 (got 5001)"),
        ({"memory": "lots"}, "draht:memory must be a whole number (got 'lots')"),
        ({"memory": "256.0"}, "draht:memory must be a whole number (got '256.0')"),
        ({"timeout": "ten"}, "draht:timeout must be a whole number (got 'ten')"),
        ({"throttlingBurst": "1e3"}, "draht:throttlingBurst must be a whole number (got '1e3')"),
        (
            {"logRetentionDays": "week"},
            "draht:logRetentionDays must be a whole number (got 'week')",
        ),
        (
            {"logRetentionDays": "2"},
            "draht:logRetentionDays must be one of 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180,"
            " 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653 (got 2)",
        ),
        ({"throttlingRate": "fast"}, "draht:throttlingRate must be a number above 0 (got 'fast')"),
        ({"throttlingRate": "0"}, "draht:throttlingRate must be a number above 0 (got '0')"),
        ({"throttlingRate": "-1"}, "draht:throttlingRate must be a number above 0 (got '-1')"),
        ({"throttlingRate": "nan"}, "draht:throttlingRate must be a number above 0 (got 'nan')"),
        ({"throttlingRate": "inf"}, "draht:throttlingRate must be a number above 0 (got 'inf')"),
        ({"auth": "IAM"}, "draht:auth must be one of iam, jwt, none (got 'IAM')"),
        ({"tracing": "active"}, "draht:tracing must be one of PassThrough, Active (got 'active')"),
        (
            {"auth": "jwt", "jwtIssuer": "https://id.example.com", "jwtAudience": " , "},
            "draht:auth is jwt: set draht:jwtIssuer (the token issuer URL)"
            " and draht:jwtAudience (comma-separated audiences)",
        ),
        (
            {"auth": "jwt", "jwtAudience": "web"},
            "draht:auth is jwt: set draht:jwtIssuer (the token issuer URL)"
            " and draht:jwtAudience (comma-separated audiences)",
        ),
    ],
)
def test_a_bad_value_is_refused_with_one_line_naming_the_key(
    config: dict[str, str], message: str
) -> None:
    assert refusal(**config) == message


def test_auth_none_is_refused_on_production_only() -> None:
    assert refusal("production", auth="none") == (
        "draht:auth none is not allowed on the production stack: use iam or jwt"
    )
    assert load("dev", auth="none").auth == "none"


@pytest.mark.parametrize(
    "region", ["eu-central-1", "us-east-1", "ap-southeast-2", "us-gov-west-1", "il-central-1"]
)
def test_an_aws_region_is_accepted(region: str) -> None:
    assert load(region=region).region == region


@pytest.mark.parametrize(
    "region",
    ["eu-central-1x", "EU-central-1", "eu-1", "eu-central-", "eu-central", "e-central-1",
     "eu-central-1\n", " eu-central-1", "Frankfurt"],
)  # fmt: skip
def test_a_near_miss_region_is_refused(region: str) -> None:
    assert refusal(region=region) == (
        f"aws:region must be an AWS region such as eu-central-1 (got {region!r})"
    )


# Alarms, CORS and the custom domain.

CERTIFICATE = "arn:aws:acm:eu-central-1:123456789012:certificate/0a1b2c3d-4e5f"


def test_alarms_are_on_by_default_on_production_only_and_follow_draht_alarms_elsewhere() -> None:
    assert load("production").alarms is True
    assert load("dev").alarms is False
    assert load("dev", alarms="true").alarms is True
    assert load("dev", alarms="false").alarms is False
    assert load("production", alarms="true").alarms is True


def test_alarm_values_reach_the_settings() -> None:
    settings = load(
        alarmEmail="oncall@example.com",
        alarmPeriod="300",
        alarmEvaluationPeriods="288",
        alarmApi5xx="1000000",
        alarmApiLatencyP99Ms="30000",
        alarmFunctionErrors="2",
        alarmFunctionThrottles="3",
        alarmTableThrottles="4",
        alarmTableSystemErrors="5",
    )
    assert (
        settings.alarm_email,
        settings.alarm_period_s,
        settings.alarm_evaluation_periods,
        settings.alarm_api_5xx,
        settings.alarm_api_latency_p99_ms,
        settings.alarm_function_errors,
        settings.alarm_function_throttles,
        settings.alarm_table_throttles,
        settings.alarm_table_system_errors,
    ) == ("oncall@example.com", 300, 288, 1000000, 30000, 2, 3, 4, 5)


def test_a_day_of_periods_is_the_longest_alarm_window() -> None:
    assert load(alarmPeriod="86400", alarmEvaluationPeriods="1").alarm_period_s == 86400
    assert load(alarmPeriod="60", alarmEvaluationPeriods="1440").alarm_evaluation_periods == 1440


def test_cors_origins_and_the_domain_reach_the_settings() -> None:
    settings = load(
        region="eu-central-1",
        corsOrigins=" https://app.example.com , http://localhost:5173,",
        domainName="api.example.com",
        certificateArn=CERTIFICATE,
        hostedZoneId="Z0123456789ABC",
    )
    assert settings.cors_origins == ("https://app.example.com", "http://localhost:5173")
    assert (settings.domain_name, settings.certificate_arn, settings.hosted_zone_id) == (
        "api.example.com",
        CERTIFICATE,
        "Z0123456789ABC",
    )
    wildcards = load(corsOrigins="*,https://*").cors_origins
    assert wildcards == ("*", "https://*")


@pytest.mark.parametrize(
    ("stage", "config", "message"),
    [
        ("production", {"alarms": "false"},
         "draht:alarms false is not allowed on the production stack: its alarms are always on"),
        ("dev", {"alarms": "True"}, "draht:alarms must be true or false (got 'True')"),
        ("dev", {"alarmEmail": "oncall"},
         "draht:alarmEmail must be one email address (got 'oncall')"),
        ("dev", {"alarmEmail": "a@example.com\n"},
         "draht:alarmEmail must be one email address (got 'a@example.com\\n')"),
        ("dev", {"alarmPeriod": "90"}, "draht:alarmPeriod must be a multiple of 60 (got 90)"),
        ("dev", {"alarmPeriod": "59"}, "draht:alarmPeriod must be from 60 to 86400 (got 59)"),
        ("dev", {"alarmPeriod": "86460"}, "draht:alarmPeriod must be from 60 to 86400 (got 86460)"),
        ("dev", {"alarmPeriod": "3600", "alarmEvaluationPeriods": "25"},
         "draht:alarmEvaluationPeriods must be from 1 to 24 (got 25)"),
        ("dev", {"alarmEvaluationPeriods": "0"},
         "draht:alarmEvaluationPeriods must be from 1 to 1440 (got 0)"),
        ("dev", {"alarmApi5xx": "1000001"},
         "draht:alarmApi5xx must be from 1 to 1000000 (got 1000001)"),
        ("dev", {"alarmApiLatencyP99Ms": "30001"},
         "draht:alarmApiLatencyP99Ms must be from 1 to 30000 (got 30001)"),
        ("dev", {"alarmFunctionErrors": "0"},
         "draht:alarmFunctionErrors must be from 1 to 1000000 (got 0)"),
        ("dev", {"alarmFunctionThrottles": "0"},
         "draht:alarmFunctionThrottles must be from 1 to 1000000 (got 0)"),
        ("dev", {"alarmTableThrottles": "0"},
         "draht:alarmTableThrottles must be from 1 to 1000000 (got 0)"),
        ("dev", {"alarmTableSystemErrors": "0"},
         "draht:alarmTableSystemErrors must be from 1 to 1000000 (got 0)"),
        ("production", {"corsOrigins": "https://app.example.com,https://*"},
         "draht:corsOrigins: the wildcard 'https://*' is not allowed on the production stack:"
         " name each origin"),
        ("dev", {"corsOrigins": "https://app.example.com/login"},
         "draht:corsOrigins: 'https://app.example.com/login' is not an origin such as"
         " https://app.example.com (scheme, host and optional port, no path)"),
        ("dev", {"corsOrigins": "ftp://app.example.com"},
         "draht:corsOrigins: 'ftp://app.example.com' is not an origin such as"
         " https://app.example.com (scheme, host and optional port, no path)"),
        ("dev", {"corsOrigins": "https://a.example.com, https://a.example.com"},
         "draht:corsOrigins names an origin twice: https://a.example.com, https://a.example.com"),
        ("dev", {"domainName": "api.example.com"},
         "draht:domainName and draht:certificateArn go together: set both or neither"),
        ("dev", {"certificateArn": CERTIFICATE},
         "draht:domainName and draht:certificateArn go together: set both or neither"),
        ("dev", {"domainName": "API.example.com", "certificateArn": CERTIFICATE},
         "draht:domainName must be a lowercase host name such as api.example.com"
         " (got 'API.example.com')"),
        ("dev", {"domainName": "api.example.com\n", "certificateArn": CERTIFICATE},
         "draht:domainName must be a lowercase host name such as api.example.com"
         " (got 'api.example.com\\n')"),
        ("dev", {"domainName": "api.example.com", "certificateArn": CERTIFICATE + "\n"},
         "draht:certificateArn must be an ACM certificate ARN"
         " (arn:aws:acm:<region>:<account>:certificate/<id>), got "
         "'arn:aws:acm:eu-central-1:123456789012:certificate/0a1b2c3d-4e5f\\n'"),
        ("dev", {"hostedZoneId": "Z0123456789ABC"}, "draht:hostedZoneId needs draht:domainName"),
        ("dev", {"domainName": "api.example.com", "certificateArn": CERTIFICATE,
                 "hostedZoneId": "Z0123456789ABC\n"},
         "draht:hostedZoneId must be a Route 53 zone id such as Z0123456789ABC"
         " (got 'Z0123456789ABC\\n')"),
    ],
)  # fmt: skip
def test_a_bad_alarm_cors_or_domain_value_is_refused_with_its_whole_line(
    stage: str, config: dict[str, str], message: str
) -> None:
    assert refusal(stage, **config) == message


def test_the_certificate_must_be_in_the_stacks_region() -> None:
    config = {"domainName": "api.example.com", "certificateArn": CERTIFICATE}
    assert load(region="eu-central-1", **config).certificate_arn == CERTIFICATE
    assert refusal(region="us-east-1", **config) == (
        "draht:certificateArn must be a regional certificate in us-east-1,"
        " the stack's region (got one in eu-central-1)"
    )


# local_settings: draht dev reads the dev stack's file the way Pulumi reads it for `-s dev`.
# Kills local_settings mutants 1 (no config without the file), 5 and 6 (the YAML error's one
# line), 17, 21 and 22 (the stage it loads as).


def test_without_a_stack_file_draht_dev_runs_on_the_declared_defaults(tmp_path: Path) -> None:
    settings = local_settings(tmp_path / "Pulumi.dev.yaml")
    assert settings == Settings.load("dev", lambda key: None)


def test_draht_dev_loads_the_stack_file_as_the_dev_stage(tmp_path: Path) -> None:
    stack_file = tmp_path / "Pulumi.dev.yaml"
    stack_file.write_text("config:\n  draht:memory: 512\n")
    settings = local_settings(stack_file)
    assert (settings.stage, settings.memory_mb) == ("dev", 512)


def test_a_stack_file_that_is_not_yaml_is_one_line_naming_the_file(tmp_path: Path) -> None:
    stack_file = tmp_path / "Pulumi.dev.yaml"
    stack_file.write_text("config:\n  draht:memory: [512\n")
    with pytest.raises(ConfigError) as refused:
        local_settings(stack_file)
    message = str(refused.value)
    assert message.startswith(f"{stack_file} is not valid YAML: ")
    assert "\n" not in message
