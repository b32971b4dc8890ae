"""Settings.load on its own: what each key parses to, the edges it accepts, what it refuses.

tests/test_stack_config.py shows the same refusals stopping the Pulumi program; these
call `Settings.load` directly, so every accepted edge is shown too and the tests run in
a fraction of a second.
"""

from __future__ import annotations

import pytest

from draht.settings import LOG_RETENTION_DAYS, ConfigError, Settings


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
