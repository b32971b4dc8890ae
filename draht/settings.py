"""Stage settings from stack config, validated once, before any resource exists.

The defaults here are the same as in Pulumi.yaml's `config:` block on purpose:
unit tests and other tools run the program without the CLI applying those.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

from draht import PROJECT_ROOT

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

    @property
    def is_production(self) -> bool:
        return self.stage == PRODUCTION_STAGE

    @property
    def retains_data(self) -> bool:
        """Production data outlives the stack: retained, protected, deletion-protected."""
        return self.is_production

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
        )


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
        return None if value is None or isinstance(value, dict | list) else str(value)

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
