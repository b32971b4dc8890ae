"""Stage settings from stack config, validated once, before any resource exists.

The defaults here are the same as in Pulumi.yaml's `config:` block on purpose:
unit tests and other tools run the program without the CLI applying those.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from draht import PROJECT_ROOT

if TYPE_CHECKING:
    from draht.model import Function

PRODUCTION_STAGE = "production"
LOCAL_SETTINGS_FILE = "Pulumi.dev.yaml"
"""The stack config `draht dev` takes its limits and auth from."""
NAMESPACE = "draht"

# The only values CloudWatch Logs accepts for a retention period.
LOG_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731,
    1096, 1827, 2192, 2557, 2922, 3288, 3653,
)  # fmt: skip
LAMBDA_MEMORY_MB = (128, 10240)
LAMBDA_TIMEOUT_S = (1, 900)
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-[0-9]+$")
# CloudWatch evaluates at most one day of periods; AWS's own metrics come once a minute.
ALARM_PERIOD_S = (60, 86400)
ALARM_WINDOW_MAX_S = 86400
_EMAIL = re.compile(r"^[^@\s,]+@[^@\s,]+\.[^@\s,]+$")
_HOSTNAME = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_CERTIFICATE_ARN = re.compile(
    r"^arn:aws[a-z-]*:acm:(?P<region>[a-z]{2}(-[a-z]+)+-[0-9]+):[0-9]{12}:certificate/[0-9a-f-]+$"
)
_HOSTED_ZONE_ID = re.compile(r"^Z[A-Z0-9]{1,31}$")
# A browser sends `scheme://host[:port]`; API Gateway also takes `*` and `scheme://*`.
_ORIGIN = re.compile(r"^(\*|https?://(\*|[A-Za-z0-9.-]+(:[0-9]{1,5})?))$")

AuthMode = Literal["iam", "jwt", "none"]
TracingMode = Literal["PassThrough", "Active"]
AUTH_MODES: tuple[AuthMode, ...] = ("iam", "jwt", "none")
TRACING_MODES: tuple[TracingMode, ...] = ("PassThrough", "Active")

_Mode = TypeVar("_Mode", bound=str)

ConfigGetter = Callable[[str], str | None]
"""Returns the raw value of a key in the `draht` namespace, or None when it is not set."""


class ConfigError(ValueError):
    """Bad stack config; its message is one line that names the key and what is allowed."""


@dataclass(frozen=True)
class Settings:
    stage: str
    auth: AuthMode = "iam"
    jwt_issuer: str | None = None
    jwt_audience: tuple[str, ...] = ()
    throttling_rate: float = 100.0
    throttling_burst: int = 200
    log_retention_days: int = 14
    memory_mb: int = 256
    timeout_s: int = 10
    tracing: TracingMode = "PassThrough"
    region: str | None = None
    """None leaves the region to the AWS environment (AWS_REGION, the profile)."""
    alarms: bool = False
    """Always True on production; elsewhere `draht:alarms`."""
    alarm_email: str | None = None
    alarm_period_s: int = 60
    alarm_evaluation_periods: int = 3
    alarm_api_5xx: int = 5
    alarm_api_latency_p99_ms: int = 2000
    alarm_function_errors: int = 1
    alarm_function_throttles: int = 1
    alarm_table_throttles: int = 1
    alarm_table_system_errors: int = 1
    cors_origins: tuple[str, ...] = ()
    domain_name: str | None = None
    certificate_arn: str | None = None
    hosted_zone_id: str | None = None

    @property
    def is_production(self) -> bool:
        return self.stage == PRODUCTION_STAGE

    @property
    def retains_data(self) -> bool:
        """Production data outlives the stack: retained, protected, deletion-protected."""
        return self.is_production

    def memory_mb_of(self, function: Function) -> int:
        """The function's own memory when its declaration sets one, else the stack's."""
        return self.memory_mb if function.memory_mb is None else function.memory_mb

    def timeout_s_of(self, function: Function) -> int:
        return self.timeout_s if function.timeout_s is None else function.timeout_s

    @classmethod
    def load(cls, stage: str, get: ConfigGetter, region: str | None = None) -> Settings:
        """`get` reads the `draht` namespace; `region` is the stack's `aws:region`, if set."""
        defaults = cls(stage=stage)
        if region and not _REGION.match(region):
            raise ConfigError(
                f"aws:region must be an AWS region such as eu-central-1 (got {region!r})"
            )
        auth = _choice(get, "auth", AUTH_MODES, defaults.auth)
        issuer = get("jwtIssuer") or None
        audience = tuple(a.strip() for a in (get("jwtAudience") or "").split(",") if a.strip())
        if auth == "jwt" and (not issuer or not audience):
            raise ConfigError(
                f"{NAMESPACE}:auth is jwt: set {NAMESPACE}:jwtIssuer (the token issuer URL)"
                f" and {NAMESPACE}:jwtAudience (comma-separated audiences)"
            )
        if auth == "none" and stage == PRODUCTION_STAGE:
            raise ConfigError(
                f"{NAMESPACE}:auth none is not allowed on the {PRODUCTION_STAGE} stack:"
                " use iam or jwt"
            )
        retention = _integer(get, "logRetentionDays", defaults.log_retention_days)
        if retention not in LOG_RETENTION_DAYS:
            raise ConfigError(
                f"{NAMESPACE}:logRetentionDays must be one of"
                f" {', '.join(map(str, LOG_RETENTION_DAYS))} (got {retention})"
            )
        period = _ranged(get, "alarmPeriod", defaults.alarm_period_s, ALARM_PERIOD_S)
        if period % 60:
            raise ConfigError(f"{NAMESPACE}:alarmPeriod must be a multiple of 60 (got {period})")
        evaluation_periods = _ranged(
            get,
            "alarmEvaluationPeriods",
            defaults.alarm_evaluation_periods,
            (1, ALARM_WINDOW_MAX_S // period),
        )
        domain_name, certificate_arn, hosted_zone_id = _domain(get, region or None)
        return cls(
            stage=stage,
            auth=auth,
            jwt_issuer=issuer,
            jwt_audience=audience,
            throttling_rate=_positive_number(get, "throttlingRate", defaults.throttling_rate),
            throttling_burst=_ranged(get, "throttlingBurst", defaults.throttling_burst, (1, 5000)),
            log_retention_days=retention,
            memory_mb=_ranged(get, "memory", defaults.memory_mb, LAMBDA_MEMORY_MB),
            timeout_s=_ranged(get, "timeout", defaults.timeout_s, LAMBDA_TIMEOUT_S),
            tracing=_choice(get, "tracing", TRACING_MODES, defaults.tracing),
            region=region or None,
            alarms=_alarms(get, stage),
            alarm_email=_email(get, "alarmEmail"),
            alarm_period_s=period,
            alarm_evaluation_periods=evaluation_periods,
            alarm_api_5xx=_ranged(get, "alarmApi5xx", defaults.alarm_api_5xx, (1, 1_000_000)),
            alarm_api_latency_p99_ms=_ranged(
                get, "alarmApiLatencyP99Ms", defaults.alarm_api_latency_p99_ms, (1, 30_000)
            ),
            alarm_function_errors=_ranged(
                get, "alarmFunctionErrors", defaults.alarm_function_errors, (1, 1_000_000)
            ),
            alarm_function_throttles=_ranged(
                get, "alarmFunctionThrottles", defaults.alarm_function_throttles, (1, 1_000_000)
            ),
            alarm_table_throttles=_ranged(
                get, "alarmTableThrottles", defaults.alarm_table_throttles, (1, 1_000_000)
            ),
            alarm_table_system_errors=_ranged(
                get, "alarmTableSystemErrors", defaults.alarm_table_system_errors, (1, 1_000_000)
            ),
            cors_origins=_cors_origins(get, stage),
            domain_name=domain_name,
            certificate_arn=certificate_arn,
            hosted_zone_id=hosted_zone_id,
        )


def cli_value(value: object) -> str:
    """A stack file's YAML value as the Pulumi CLI hands it to the program: `true`, not `True`."""
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def local_settings(path: Path = PROJECT_ROOT / LOCAL_SETTINGS_FILE) -> Settings:
    """The dev stack's settings (memory, timeout, auth), so local limits match the deployed ones.

    Without the file, the defaults apply: the same ones Pulumi.yaml declares.
    """
    config: dict[str, Any] = {}
    if path.is_file():
        import yaml

        try:
            loaded = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as error:
            raise ConfigError(f"{path} is not valid YAML: {error}".splitlines()[0]) from None
        config = loaded.get("config") or {}

    def get(key: str) -> str | None:
        value = config.get(f"{NAMESPACE}:{key}")
        if value is None or isinstance(value, dict | list):
            return None
        return cli_value(value)

    return Settings.load("dev", get)


def _choice(get: ConfigGetter, key: str, allowed: tuple[_Mode, ...], default: _Mode) -> _Mode:
    raw = get(key)
    if raw is None or raw == "":
        return default
    for value in allowed:
        if raw == value:
            return value
    raise ConfigError(f"{NAMESPACE}:{key} must be one of {', '.join(allowed)} (got {raw!r})")


def _integer(get: ConfigGetter, key: str, default: int) -> int:
    raw = get(key)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{NAMESPACE}:{key} must be a whole number (got {raw!r})") from None


def _ranged(get: ConfigGetter, key: str, default: int, bounds: tuple[int, int]) -> int:
    value = _integer(get, key, default)
    low, high = bounds
    if not low <= value <= high:
        raise ConfigError(f"{NAMESPACE}:{key} must be from {low} to {high} (got {value})")
    return value


def _positive_number(get: ConfigGetter, key: str, default: float) -> float:
    raw = get(key)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{NAMESPACE}:{key} must be a number above 0 (got {raw!r})") from None
    if not value > 0 or value == float("inf"):
        raise ConfigError(f"{NAMESPACE}:{key} must be a number above 0 (got {raw!r})")
    return value


def _alarms(get: ConfigGetter, stage: str) -> bool:
    raw = get("alarms")
    if raw is None or raw == "":
        return stage == PRODUCTION_STAGE
    if raw not in ("true", "false"):
        raise ConfigError(f"{NAMESPACE}:alarms must be true or false (got {raw!r})")
    if raw == "false" and stage == PRODUCTION_STAGE:
        raise ConfigError(
            f"{NAMESPACE}:alarms false is not allowed on the {PRODUCTION_STAGE} stack:"
            " its alarms are always on"
        )
    return raw == "true"


def _email(get: ConfigGetter, key: str) -> str | None:
    raw = get(key)
    if raw is None or raw == "":
        return None
    if not _EMAIL.match(raw):
        raise ConfigError(f"{NAMESPACE}:{key} must be one email address (got {raw!r})")
    return raw


def _cors_origins(get: ConfigGetter, stage: str) -> tuple[str, ...]:
    origins = tuple(o.strip() for o in (get("corsOrigins") or "").split(",") if o.strip())
    for origin in origins:
        if not _ORIGIN.match(origin):
            raise ConfigError(
                f"{NAMESPACE}:corsOrigins: {origin!r} is not an origin such as"
                " https://app.example.com (scheme, host and optional port, no path)"
            )
        if "*" in origin and stage == PRODUCTION_STAGE:
            raise ConfigError(
                f"{NAMESPACE}:corsOrigins: the wildcard {origin!r} is not allowed on the"
                f" {PRODUCTION_STAGE} stack: name each origin"
            )
    if len(set(origins)) != len(origins):
        raise ConfigError(f"{NAMESPACE}:corsOrigins names an origin twice: {', '.join(origins)}")
    return origins


def _domain(get: ConfigGetter, region: str | None) -> tuple[str | None, str | None, str | None]:
    """The custom domain, its certificate and its Route 53 zone: all None without a domain."""
    domain = get("domainName") or None
    certificate = get("certificateArn") or None
    zone = get("hostedZoneId") or None
    if domain is not None and not _HOSTNAME.match(domain):
        raise ConfigError(
            f"{NAMESPACE}:domainName must be a lowercase host name such as api.example.com"
            f" (got {domain!r})"
        )
    if (domain is None) != (certificate is None):
        raise ConfigError(
            f"{NAMESPACE}:domainName and {NAMESPACE}:certificateArn go together:"
            " set both or neither"
        )
    if certificate is not None:
        matched = _CERTIFICATE_ARN.match(certificate)
        if matched is None:
            raise ConfigError(
                f"{NAMESPACE}:certificateArn must be an ACM certificate ARN"
                f" (arn:aws:acm:<region>:<account>:certificate/<id>), got {certificate!r}"
            )
        if region is not None and matched.group("region") != region:
            raise ConfigError(
                f"{NAMESPACE}:certificateArn must be a regional certificate in {region},"
                f" the stack's region (got one in {matched.group('region')})"
            )
    if zone is not None:
        if domain is None:
            raise ConfigError(f"{NAMESPACE}:hostedZoneId needs {NAMESPACE}:domainName")
        if not _HOSTED_ZONE_ID.match(zone):
            raise ConfigError(
                f"{NAMESPACE}:hostedZoneId must be a Route 53 zone id such as Z0123456789ABC"
                f" (got {zone!r})"
            )
    return domain, certificate, zone
