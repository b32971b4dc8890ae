"""An API Gateway v2 HTTP API whose routes each invoke one function.

`pulumi-aws-apigateway` builds REST APIs (v1) only, so the HTTP API is put
together here from its parts: the `$default` stage, JSON access logs, default
throttling, and per route an integration, the route and one invoke permission.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from draht import model
from draht.components.function import Function
from draht.cors import Cors
from draht.settings import AuthMode

# One JSON object per request; the fields a 4xx/5xx investigation starts from.
ACCESS_LOG_FORMAT = json.dumps(
    {
        "requestId": "$context.requestId",
        "requestTime": "$context.requestTime",
        "httpMethod": "$context.httpMethod",
        "path": "$context.path",
        "routeKey": "$context.routeKey",
        "status": "$context.status",
        "responseLength": "$context.responseLength",
        "latency": "$context.responseLatency",
        "integrationLatency": "$context.integrationLatency",
        "integrationStatus": "$context.integrationStatus",
        "integrationError": "$context.integrationErrorMessage",
    },
    separators=(",", ":"),
)

_AUTHORIZATION_TYPES: dict[AuthMode, str] = {"iam": "AWS_IAM", "jwt": "JWT", "none": "NONE"}
_PATH_PARAMETER = re.compile(r"\{[^}]*\}")


@dataclass(frozen=True)
class HttpApiArgs:
    auth: AuthMode
    """How protected routes are guarded; public routes are open whatever this says."""
    jwt_issuer: str | None
    jwt_audience: tuple[str, ...]
    throttling_rate: float
    throttling_burst: int
    log_retention_days: int
    cors: Cors | None = None
    domain_name: str | None = None
    """With it, the API answers only on this domain: the execute-api endpoint is disabled."""
    certificate_arn: str | None = None
    hosted_zone_id: str | None = None
    """With it, an alias record points the domain at the API."""


def slug(route_key: str) -> str:
    """`GET /sessions/{id}` -> `get-sessions-id`: a route's part in its resources' names."""
    return "-".join(re.findall(r"[a-z0-9]+", route_key.lower()))


def source_arn_path(route: model.Route) -> str:
    """The part of an invoke ARN after the stage that names this one route."""
    return f"{route.method}{_PATH_PARAMETER.sub('*', route.path)}"


class HttpApi(pulumi.ComponentResource):  # type: ignore[misc]  # pulumi is not type-checked
    url: pulumi.Output[str]
    api_id: pulumi.Output[str]
    execution_arn: pulumi.Output[str]

    def __init__(
        self, name: str, args: HttpApiArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("draht:aws:HttpApi", name, {}, opts)
        self._name = name
        self._args = args
        child = pulumi.ResourceOptions(parent=self)

        cors = args.cors
        self._api = aws.apigatewayv2.Api(
            name,
            protocol_type="HTTP",
            disable_execute_api_endpoint=args.domain_name is not None,
            cors_configuration=None
            if cors is None
            else {
                "allow_origins": list(cors.allow_origins),
                "allow_methods": list(cors.allow_methods),
                "allow_headers": list(cors.allow_headers),
                "expose_headers": list(cors.expose_headers),
                "max_age": cors.max_age_s,
            },
            opts=child,
        )
        access_logs = aws.cloudwatch.LogGroup(
            f"{name}-access-logs", retention_in_days=args.log_retention_days, opts=child
        )
        stage = aws.apigatewayv2.Stage(
            f"{name}-default",
            api_id=self._api.id,
            name="$default",
            auto_deploy=True,
            access_log_settings={
                "destination_arn": access_logs.arn,
                "format": ACCESS_LOG_FORMAT,
            },
            # Both limits: one left unset stays at 0 and every request is throttled.
            default_route_settings={
                "throttling_burst_limit": args.throttling_burst,
                "throttling_rate_limit": args.throttling_rate,
                # Per-route metrics, which the dashboard graphs route by route.
                "detailed_metrics_enabled": True,
            },
            opts=child,
        )
        self._jwt_authorizer_id: pulumi.Output[str] | None = None
        if args.auth == "jwt":
            self._jwt_authorizer_id = aws.apigatewayv2.Authorizer(
                f"{name}-jwt",
                api_id=self._api.id,
                authorizer_type="JWT",
                identity_sources=["$request.header.Authorization"],
                jwt_configuration={"issuer": args.jwt_issuer, "audiences": list(args.jwt_audience)},
                opts=child,
            ).id
        self.url = stage.invoke_url
        if args.domain_name is not None:
            self.url = self._custom_domain(name, args, stage)
        self.api_id = self._api.id
        self.execution_arn = self._api.execution_arn
        self.register_outputs(
            {"url": self.url, "apiId": self.api_id, "executionArn": self.execution_arn}
        )

    def _custom_domain(
        self, name: str, args: HttpApiArgs, stage: aws.apigatewayv2.Stage
    ) -> pulumi.Output[str]:
        child = pulumi.ResourceOptions(parent=self)
        domain = aws.apigatewayv2.DomainName(
            f"{name}-domain",
            domain_name=args.domain_name,
            domain_name_configuration={
                "certificate_arn": args.certificate_arn,
                "endpoint_type": "REGIONAL",
                "security_policy": "TLS_1_2",
            },
            opts=child,
        )
        aws.apigatewayv2.ApiMapping(
            f"{name}-mapping",
            api_id=self._api.id,
            domain_name=domain.id,
            stage=stage.id,
            opts=child,
        )
        if args.hosted_zone_id is not None:
            target = domain.domain_name_configuration
            aws.route53.Record(
                f"{name}-alias",
                zone_id=args.hosted_zone_id,
                name=domain.domain_name,
                type="A",
                aliases=[
                    {
                        "name": target.target_domain_name,
                        "zone_id": target.hosted_zone_id,
                        "evaluate_target_health": False,
                    }
                ],
                opts=child,
            )
        return pulumi.Output.concat("https://", domain.domain_name)

    def route(self, route: model.Route, function: Function) -> None:
        """Serve `route` with `function`; only this route may invoke it."""
        name = f"{self._name}-{slug(route.key)}"
        child = pulumi.ResourceOptions(parent=self)
        integration = aws.apigatewayv2.Integration(
            name,
            api_id=self._api.id,
            integration_type="AWS_PROXY",
            integration_method="POST",
            integration_uri=function.arn,
            payload_format_version="2.0",
            opts=child,
        )
        authorization = "NONE" if route.auth == "public" else _AUTHORIZATION_TYPES[self._args.auth]
        aws.apigatewayv2.Route(
            name,
            api_id=self._api.id,
            route_key=route.key,
            target=pulumi.Output.concat("integrations/", integration.id),
            authorization_type=authorization,
            authorizer_id=self._jwt_authorizer_id if authorization == "JWT" else None,
            authorization_scopes=(
                list(route.scopes) if authorization == "JWT" and route.scopes else None
            ),
            opts=child,
        )
        aws.lambda_.Permission(
            name,
            action="lambda:InvokeFunction",
            function=function.name,
            principal="apigateway.amazonaws.com",
            source_arn=pulumi.Output.concat(self.execution_arn, "/*/", source_arn_path(route)),
            opts=child,
        )
