"""The whole stack, built from the app declaration and the stage settings.

`__main__.py` runs `main` under the Pulumi CLI; `draht.synth` runs the same
`main` under Pulumi mocks for tests and benchmarks. Every AWS resource goes
through one explicit provider whose default tags name the app and the stage, so
no resource is tagged by hand.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws

from draht import model
from draht.components.function import Function, FunctionArgs, LinkedTable
from draht.components.http_api import HttpApi, HttpApiArgs
from draht.components.monitoring import Monitoring, MonitoringArgs
from draht.components.table import Table, TableArgs
from draht.cors import cors_for
from draht.package import Archive, build_archive
from draht.settings import NAMESPACE, ConfigError, Settings

BUILD_DIR = Path(__file__).resolve().parent.parent / ".draht" / "build"
APP_TAG = "draht:app"
STAGE_TAG = "draht:stage"


def resource_name(app: model.App, stage: str, declared_name: str) -> str:
    """`draht`, `dev`, `ListSessions` -> `draht-dev-list-sessions`: app and stage in every name."""
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "-", declared_name).lower()
    return f"{app.name}-{stage}-{words}"


def output_name(table: model.Table) -> str:
    """`Sessions` -> `sessionsTable`: the stack output holding the table's name."""
    return f"{table.name[0].lower()}{table.name[1:]}Table"


def tags(app: model.App, stage: str) -> dict[str, str]:
    return {APP_TAG: app.name, STAGE_TAG: stage}


def write_archive(
    app: model.App, function: model.Function, build_dir: Path = BUILD_DIR
) -> tuple[Path, Archive]:
    """Write the function's zip for Pulumi to read; replaced atomically, never half-written."""
    archive = build_archive(function, app=app)
    if f"{function.module}.py" not in archive.files:
        raise model.DeclarationError(
            f"function {function.name}: handlers/{function.module}.py does not exist"
        )
    build_dir.mkdir(parents=True, exist_ok=True)
    path = build_dir / f"{function.name}.zip"
    with tempfile.NamedTemporaryFile(dir=build_dir, suffix=".tmp", delete=False) as partial:
        partial.write(archive.data)
    os.replace(partial.name, path)
    return path, archive


def build(
    app: model.App, settings: Settings, build_dir: Path = BUILD_DIR
) -> dict[str, pulumi.Output[Any]]:
    """Create every resource of the stack; returns the stack outputs by name."""
    stage = settings.stage
    provider = aws.Provider(
        resource_name(app, stage, "Aws"),
        region=settings.region,
        default_tags={"tags": tags(app, stage)},
    )
    scoped = pulumi.ResourceOptions(providers=[provider])

    tables = {
        table.name: Table(
            resource_name(app, stage, table.name),
            TableArgs(table=table, retain=settings.retains_data),
            scoped,
        )
        for table in app.tables
    }
    api = HttpApi(
        resource_name(app, stage, "Api"),
        HttpApiArgs(
            auth=settings.auth,
            jwt_issuer=settings.jwt_issuer,
            jwt_audience=settings.jwt_audience,
            throttling_rate=settings.throttling_rate,
            throttling_burst=settings.throttling_burst,
            log_retention_days=settings.log_retention_days,
            cors=cors_for(app, settings.cors_origins),
            domain_name=settings.domain_name,
            certificate_arn=settings.certificate_arn,
            hosted_zone_id=settings.hosted_zone_id,
        ),
        scoped,
    )
    functions: dict[str, Function] = {}
    for function in app.functions:
        code_path, archive = write_archive(app, function, build_dir)
        functions[function.name] = Function(
            resource_name(app, stage, function.name),
            FunctionArgs(
                function=function,
                app_value=model.app_value(app, stage),
                tables={name: LinkedTable(t.name, t.arn) for name, t in tables.items()},
                # Relative to the CLI's working directory, the project root: the state then
                # records the same path on every machine that deploys.
                code_path=Path(os.path.relpath(code_path)),
                code_hash=archive.sha256_base64,
                memory_mb=settings.memory_mb_of(function),
                timeout_s=settings.timeout_s_of(function),
                log_retention_days=settings.log_retention_days,
                tracing=settings.tracing,
            ),
            scoped,
        )
    for route in app.routes:
        api.route(route, functions[route.function.name])

    subjects = ["Api", *(f.name for f in app.functions), *(t.name for t in app.tables)]
    monitoring = Monitoring(
        resource_name(app, stage, "Monitoring"),
        MonitoringArgs(
            app=app,
            settings=settings,
            names={subject: resource_name(app, stage, subject) for subject in subjects},
            dashboard_name=f"{app.name}-{stage}",
            execution_arn=api.execution_arn,
            api_id=api.api_id,
            function_names={name: function.name for name, function in functions.items()},
            table_names={name: table.name for name, table in tables.items()},
        ),
        scoped,
    )
    outputs = {
        "apiUrl": api.url,
        **{output_name(table): tables[table.name].name for table in app.tables},
        "dashboardUrl": monitoring.dashboard_url,
    }
    if monitoring.topic_arn is not None:
        outputs["alarmTopicArn"] = monitoring.topic_arn
    return outputs


def main(app: model.App) -> None:
    """The Pulumi program: stack config -> settings -> resources -> stack outputs."""
    try:
        settings = Settings.load(
            pulumi.get_stack(),
            pulumi.Config(NAMESPACE).get,
            region=pulumi.Config("aws").get("region"),
        )
    except ConfigError as error:
        # The language host prints a RunError as its message alone: one line, no traceback.
        raise pulumi.RunError(str(error)) from None
    for name, value in build(app, settings).items():
        pulumi.export(name, value)
