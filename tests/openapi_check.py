"""Checks a handler's real response against what the OpenAPI document promises for it."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import jsonschema_rs

from draht.app import app
from draht.openapi import PROBLEM_MEDIA_TYPE, document


@cache
def _document() -> dict[str, Any]:
    return document(app)


def response_spec(route_key: str, status: int) -> dict[str, Any]:
    method, path = route_key.split(" ", 1)
    responses = _document()["paths"][path][method.lower()]["responses"]
    assert str(status) in responses, f"{route_key} answered {status}, which it does not document"
    spec: dict[str, Any] = responses[str(status)]
    return spec


def schema_errors(schema: dict[str, Any], instance: Any) -> list[str]:
    validator = _validator(json.dumps(schema, sort_keys=True))
    return [f"{error.instance_path}: {error.message}" for error in validator.iter_errors(instance)]


@cache
def _validator(schema_json: str) -> Any:
    # The components ride along in the root so that "#/components/..." references resolve.
    root = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "components": _document()["components"],
        **json.loads(schema_json),
    }
    return jsonschema_rs.validator_for(root, validate_formats=True)


def assert_problem_repeats_the_status(status: int, media_type: str, body: Any) -> None:
    """RFC 9457 section 3.1.4: a problem's `status` is the HTTP status of its response.

    The document states it in words only (see `_problem` in draht/openapi.py), so every
    reply is held to it here.
    """
    if media_type == PROBLEM_MEDIA_TYPE:
        assert body["status"] == status, f"a {status} answered a problem of status {body['status']}"


def assert_conforms(route_key: str, response: dict[str, Any]) -> None:
    spec = response_spec(route_key, response["statusCode"])
    headers = {name.lower(): value for name, value in response["headers"].items()}
    if "content" not in spec:
        assert not response.get("body"), f"{route_key} {response['statusCode']} has a body"
        return
    (media_type, content), *_ = spec["content"].items()
    assert headers["content-type"] == media_type
    body = json.loads(response["body"])
    errors = schema_errors(content["schema"], body)
    assert not errors, f"{route_key} {response['statusCode']} body: {errors}"
    assert_problem_repeats_the_status(response["statusCode"], media_type, body)
    for name, header in spec.get("headers", {}).items():
        assert name.lower() in headers or not header.get("required"), f"{name} header missing"
        if name.lower() in headers:
            value: Any = headers[name.lower()]
            if header["schema"].get("type") == "integer":
                assert value.isdigit(), f"{name}: {value!r} is not an integer"
                value = int(value)
            assert not schema_errors(header["schema"], value), f"{name}: {value!r}"
