# The interface of the validators module draht/package.py generates from the OpenAPI
# document's request schemas (never kept in git; see draht/package.py).
from collections.abc import Callable
from typing import Any

class JsonSchemaValueException(ValueError):
    message: str
    value: Any
    name: str
    rule: str | None

class JsonSchemaValuesException(ValueError):
    errors: list[JsonSchemaValueException]

VALIDATORS: dict[str, Callable[[Any], Any]]
PROPERTIES: dict[str, tuple[str, ...]]
REQUIRED: dict[str, tuple[str, ...]]
DEPENDENCIES: dict[str, dict[str, list[str]]]
