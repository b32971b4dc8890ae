"""A synthesized stack as a Terraform plan in JSON, so checkov's AWS rules can judge it.

pulumi-aws is generated from the Terraform AWS provider: `aws:sns/topic:Topic` is
`aws_sns_topic`, and its inputs are the Terraform arguments in camelCase. So the
inputs the mocks recorded become the `values` of a `terraform show -json` plan,
and every input that holds another resource's output (an ARN, a name, an id)
becomes a reference in its `configuration`, the way Terraform records
`aws_sns_topic.x.arn`: checkov's graph checks follow those references.
"""

from __future__ import annotations

import re
from typing import Any

from draht.synth import Recorded, Synthesis

# Blocks whose Pulumi name is the plural of Terraform's (the provider's schema renames them).
_TERRAFORM_NAMES = {
    "aliases": "alias",
    "attributes": "attribute",
    "metricQueries": "metric_query",
}
# Arguments whose keys are data (environment variable names, tags, dimensions), not fields.
_MAP_ARGUMENTS = {"variables", "tags", "dimensions", "defaultTags"}
# Short strings (`$default`, `GET`, `true`) are values, not references to whoever holds them.
_MIN_REFERENCE_LENGTH = 12
TERRAFORM_VERSION = "1.9.0"
"""The plan format's writer as checkov expects one; no Terraform runs."""
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def terraform_type(pulumi_type: str) -> str:
    """`aws:cloudwatch/metricAlarm:MetricAlarm` -> `aws_cloudwatch_metric_alarm`."""
    provider, module, resource = pulumi_type.split(":")
    service = module.split("/")[0]
    return f"{provider}_{service}_{_CAMEL.sub('_', resource).lower()}"


def _terraform_name(key: str) -> str:
    return _TERRAFORM_NAMES.get(key) or _CAMEL.sub("_", key).lower()


def _address(resource: Recorded) -> str:
    return f"{terraform_type(resource.type)}.{re.sub(r'[^A-Za-z0-9_]', '_', resource.name)}"


def _values(value: Any, key: str = "") -> Any:
    if isinstance(value, dict):
        if key in _MAP_ARGUMENTS:
            return dict(value)
        return {_terraform_name(k): _values(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_values(item) for item in value]
    if hasattr(value, "path"):  # a FileArchive: Terraform's `filename`
        return str(value.path)
    return value


Index = dict[str, list[tuple[str, str]]]
"""An output value -> the (resource address, attribute) pairs that produce it."""


def _outputs_index(resources: list[Recorded]) -> Index:
    """Each computed output or id long enough to be a reference, and who produces it."""
    index: Index = {}

    def visit(value: Any, address: str, path: str) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                name = _terraform_name(key)
                visit(item, address, f"{path}[0].{name}" if path else name)
        elif isinstance(value, str) and len(value) >= _MIN_REFERENCE_LENGTH:
            index.setdefault(value, []).append((address, path))

    for resource in resources:
        address = _address(resource)
        index.setdefault(resource.id, []).append((address, "id"))
        computed = {k: v for k, v in resource.outputs.items() if resource.inputs.get(k) != v}
        visit(computed, address, "")
    return index


def _references(value: str, index: Index) -> list[str]:
    """`aws_sns_topic.x.arn` and `aws_sns_topic.x`, as Terraform lists a reference."""
    references: list[str] = []
    for address, attribute in index.get(value, []):
        references += [f"{address}.{attribute}", address]
    return references


def _expressions(value: Any, index: Index, key: str = "") -> Any:
    """Terraform's `expressions`: where an input is another resource's output, its reference."""
    if isinstance(value, dict):
        if key in _MAP_ARGUMENTS:
            return None
        found = {
            _terraform_name(k): expression
            for k, v in value.items()
            if (expression := _expressions(v, index, k)) is not None
        }
        return found or None
    if isinstance(value, list):
        if value and all(isinstance(item, dict) for item in value):
            blocks = [_expressions(item, index) or {} for item in value]
            return blocks if any(blocks) else None
        references = [
            r for item in value if isinstance(item, str) for r in _references(item, index)
        ]
        return {"references": references} if references else None
    if isinstance(value, str) and value in index:
        return {"references": _references(value, index)}
    return None


def render(synthesis: Synthesis) -> dict[str, Any]:
    """The plan `terraform show -json` would print for creating every AWS resource."""
    resources = [r for r in synthesis.resources if r.type.startswith("aws:")]
    index = _outputs_index(resources)
    planned, configured = [], []
    for resource in resources:
        address = _address(resource)
        kind, name = address.split(".", 1)
        planned.append(
            {
                "address": address,
                "mode": "managed",
                "type": kind,
                "name": name,
                "provider_name": "registry.terraform.io/hashicorp/aws",
                "values": {_terraform_name(k): _values(v, k) for k, v in resource.inputs.items()},
            }
        )
        configured.append(
            {
                "address": address,
                "mode": "managed",
                "type": kind,
                "name": name,
                "expressions": _expressions(resource.inputs, index) or {},
            }
        )
    return {
        "format_version": "1.2",
        # checkov takes a JSON file for a plan only when it names the Terraform that wrote it.
        "terraform_version": TERRAFORM_VERSION,
        "planned_values": {"root_module": {"resources": planned}},
        "resource_changes": [
            {
                "address": entry["address"],
                "mode": "managed",
                "type": entry["type"],
                "name": entry["name"],
                "change": {"actions": ["create"], "before": None, "after": entry["values"]},
            }
            for entry in planned
        ],
        "configuration": {"root_module": {"resources": configured}},
    }
