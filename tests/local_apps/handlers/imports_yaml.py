"""Imports a package this environment has but neither its zip nor Lambda's runtime carries."""

from typing import Any

import yaml


def handler(event: dict[str, Any], context: Any) -> Any:
    return {"yaml": yaml.__version__}
