"""Real clients generated from the published OpenAPI document, as a new user would make them.

Draht's CLI is TypeScript and generates its client with `openapi-typescript`; a Python
user reaches for `openapi-python-client`. Both run here on `openapi.json`, the document
a client build takes from this repository (`make openapi` writes it; a test below keeps
it current):

- the TypeScript types must compile under `tsc --strict` in a program that reads every
  documented field of every schema with its declared type, every response of every
  operation, and a stored attribute the document does not name (the API passes those
  through, so Session and Client must stay open types);
- the Python client must generate without a single warning, every error response must
  parse into the typed `Problem`, and the generated client must work against
  `draht dev`.

Both generators are pinned: openapi-typescript and typescript in package-lock.json,
openapi-python-client in requirements.lock.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dev_process import DevProcess

from draht import PROJECT_ROOT
from draht.cli import main as draht_main

PUBLISHED = PROJECT_ROOT / "openapi.json"
PUBLISHED_STACK_CONFIG = PROJECT_ROOT / "Pulumi.production.yaml"
NODE_BIN = PROJECT_ROOT / "node_modules" / ".bin"
VENV_BIN = Path(sys.executable).parent
PYTHON_PACKAGE = "draht_api_client"
# Read from Session and Client although the document does not name it.
UNDOCUMENTED_ATTRIBUTE = "anyStoredAttribute"


def _published() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(PUBLISHED.read_text())
    return document


def test_the_published_document_is_the_current_one(capsys: pytest.CaptureFixture[str]) -> None:
    assert draht_main(["openapi", "--stack-config", str(PUBLISHED_STACK_CONFIG)]) == 0
    current = capsys.readouterr().out
    assert PUBLISHED.read_text() == current, "openapi.json is stale: run `make openapi`"


# --- TypeScript -------------------------------------------------------------------------


def _ts_type(schema: dict[str, Any], required: bool) -> str:
    """The TypeScript type a field must have; `unknown` where only its presence is checked."""
    if "const" in schema:
        declared = json.dumps(schema["const"])
    else:
        kinds = schema.get("type")
        names = {"string": "string", "integer": "number", "number": "number", "boolean": "boolean"}
        names["null"] = "null"
        if isinstance(kinds, str):
            kinds = [kinds]
        if not kinds or any(kind not in names for kind in kinds):
            return "unknown"
        declared = " | ".join(names[kind] for kind in kinds)
    return declared if required else f"{declared} | undefined"


def _ts_reader(document: dict[str, Any]) -> str:
    """A program that reads every documented field and response, each with its declared type."""
    lines = [
        'import type { components, operations } from "./api";',
        'type Schemas = components["schemas"];',
    ]
    for name, schema in document["components"]["schemas"].items():
        properties = schema.get("properties")
        if not properties:
            continue
        required = set(schema.get("required", []))
        lines.append(f'export function read{name}(value: Schemas["{name}"]): unknown[] {{')
        reads = []
        for index, (field, field_schema) in enumerate(properties.items()):
            field_type = _ts_type(field_schema, field in required)
            lines.append(f"  const field{index}: {field_type} = value[{json.dumps(field)}];")
            reads.append(f"field{index}")
        if schema.get("additionalProperties") is True:
            lines.append(f'  const stored: unknown = value["{UNDOCUMENTED_ATTRIBUTE}"];')
            reads.append("stored")
        lines += [f"  return [{', '.join(reads)}];", "}"]
    for item in document["paths"].values():
        for operation in item.values():
            op = operation["operationId"]
            for status, response in operation["responses"].items():
                for media_type, content in response.get("content", {}).items():
                    typed = f'operations["{op}"]["responses"][{status}]["content"]["{media_type}"]'
                    target = content["schema"].get("$ref", "").rsplit("/", 1)[-1]
                    declared = f'Schemas["{target}"]' if target else "unknown"
                    suffix = f"{status}{'Problem' if 'problem' in media_type else ''}"
                    lines.append(f"export function {op}{suffix}(body: {typed}): {declared} {{")
                    lines.append("  return body;\n}")
    return "\n".join(lines) + "\n"


def _generate_types(folder: Path, document: dict[str, Any]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "openapi.json").write_text(json.dumps(document))
    generated = subprocess.run(
        [str(NODE_BIN / "openapi-typescript"), "openapi.json", "-o", "api.d.ts"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert generated.returncode == 0, generated.stderr


def _closed(document: dict[str, Any], name: str) -> dict[str, Any]:
    closed: dict[str, Any] = json.loads(json.dumps(document))
    del closed["components"]["schemas"][name]["additionalProperties"]
    return closed


WRONGLY_TYPED_READ = (
    'import type { components } from "./api";\n'
    'export const n: number = ({} as components["schemas"]["Client"]).name;\n'
)


@pytest.fixture(scope="module")
def tsc_errors(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """tsc --strict over several programs at once (one compiler start): errors by program.

    `published` reads the published document; the others are controls that must fail:
    the same reader over a document where Session or Client is a closed type, and a read
    of a field into the wrong type.
    """
    root = tmp_path_factory.mktemp("typescript")
    document = _published()
    programs = {
        "published": (document, _ts_reader(document)),
        "closed-Session": (_closed(document, "Session"), _ts_reader(document)),
        "closed-Client": (_closed(document, "Client"), _ts_reader(document)),
        "wrongly-typed": (document, WRONGLY_TYPED_READ),
    }
    for name, (variant, program) in programs.items():
        _generate_types(root / name, variant)
        (root / name / "reader.ts").write_text(program)
    compiled = subprocess.run(
        [str(NODE_BIN / "tsc"), "--strict", "--noEmit", "--target", "es2022", "--pretty", "false"]
        + [f"{name}/reader.ts" for name in programs],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
    )
    errors = {name: "" for name in programs}
    name = ""
    for line in compiled.stdout.splitlines():
        # A diagnostic starts with its file's path; indented lines continue it.
        if not line.startswith(" "):
            name = line.split("/", 1)[0]
        assert name in errors, compiled.stdout
        errors[name] += line + "\n"
    assert compiled.returncode == (2 if any(errors.values()) else 0), compiled.stderr
    return errors


def test_typescript_types_compile_strictly_and_read_every_field(tsc_errors: dict[str, str]) -> None:
    assert tsc_errors["published"] == ""


@pytest.mark.parametrize("name", ["Session", "Client"])
def test_typescript_can_read_attributes_the_document_does_not_name(
    tsc_errors: dict[str, str], name: str
) -> None:
    # They must stay open types: closed, the same reader does not compile.
    assert _published()["components"]["schemas"][name]["additionalProperties"] is True
    assert UNDOCUMENTED_ATTRIBUTE in tsc_errors[f"closed-{name}"]


def test_typescript_refuses_a_field_of_the_wrong_type(tsc_errors: dict[str, str]) -> None:
    # The reader's typed reads are real checks: a wrongly typed one does not compile.
    assert "not assignable to type 'number'" in tsc_errors["wrongly-typed"]


# --- Python -----------------------------------------------------------------------------


def _generate_python(folder: Path, document: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    (folder / "openapi.json").write_text(json.dumps(document))
    return subprocess.run(
        [
            str(VENV_BIN / "openapi-python-client"),
            "generate",
            "--path",
            "openapi.json",
            "--meta",
            "none",
            "--output-path",
            PYTHON_PACKAGE,
        ],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
        # Its post-generation hooks run ruff, which it looks for on the PATH.
        env={**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"},
    )


def _assert_no_warning(generated: subprocess.CompletedProcess[str]) -> None:
    output = (generated.stdout + generated.stderr).strip()
    assert generated.returncode == 0, output
    assert output == f"Generating {PYTHON_PACKAGE}", output


@pytest.fixture(scope="module")
def python_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    folder = tmp_path_factory.mktemp("python-client")
    _assert_no_warning(_generate_python(folder, _published()))
    sys.path.insert(0, str(folder))
    try:
        yield importlib.import_module(PYTHON_PACKAGE)
    finally:
        sys.path.remove(str(folder))
        for name in [n for n in sys.modules if n.split(".")[0] == PYTHON_PACKAGE]:
            del sys.modules[name]


def test_python_client_generates_without_warnings(python_client: Any) -> None:
    assert python_client.Client


def test_python_generator_warns_about_a_narrowed_problem(tmp_path: Path) -> None:
    # What the generator does with a problem response narrowed by allOf + const status:
    # it warns and drops the response, so the test above would catch that shape.
    document = _published()
    response = document["paths"]["/clients"]["get"]["responses"]["400"]
    response["content"]["application/problem+json"]["schema"] = {
        "allOf": [
            {"$ref": "#/components/schemas/Problem"},
            {"properties": {"status": {"const": 400}}},
        ]
    }
    generated = _generate_python(tmp_path, document)
    assert "response will be omitted" in generated.stdout + generated.stderr


def test_every_error_response_parses_into_the_typed_problem(python_client: Any) -> None:
    problem_type = importlib.import_module(f"{PYTHON_PACKAGE}.models").Problem
    document = _published()
    for path, item in document["paths"].items():
        for method, operation in item.items():
            module = importlib.import_module(
                f"{PYTHON_PACKAGE}.api.default.{_snake(operation['operationId'])}"
            )
            for status, response in operation["responses"].items():
                if "application/problem+json" not in response.get("content", {}):
                    continue
                parsed = module._parse_response(
                    client=python_client.Client(base_url="http://127.0.0.1"),
                    response=_httpx_response(int(status)),
                )
                assert isinstance(parsed, problem_type), f"{method.upper()} {path} {status}"
                assert parsed.status == int(status)


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")


def _httpx_response(status: int) -> Any:
    import httpx

    body = {
        "type": "about:blank",
        "title": "A problem",
        "status": status,
        "detail": "what went wrong",
        "requestId": "r-1",
    }
    return httpx.Response(status, json=body, headers={"content-type": "application/problem+json"})


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevProcess]:
    # Without auth: what is under test is the generated client's requests and parsing; a
    # deployed stage's SigV4 or JWT is the caller's to add (the auth tests cover draht dev's).
    data_dir = str(tmp_path_factory.mktemp("client-store"))
    with DevProcess(["--data-dir", data_dir, "--no-auth"]) as server:
        server.seed_sample_data()
        yield server


def test_the_python_client_pages_through_draht_dev(python_client: Any, live: DevProcess) -> None:
    list_clients = importlib.import_module(f"{PYTHON_PACKAGE}.api.default.list_clients")
    models = importlib.import_module(f"{PYTHON_PACKAGE}.models")
    client = python_client.Client(base_url=live.url)
    page = list_clients.sync(client=client, limit=2)
    assert isinstance(page, models.ClientPage)
    assert len(page.clients) == 2
    assert all(isinstance(item, models.Client) and item.name for item in page.clients)
    # `draht seed` stores a plan on every client, which the document does not name.
    assert all("plan" in item.additional_properties for item in page.clients)
    refused = list_clients.sync_detailed(client=client, limit=0)
    assert refused.status_code == 400
    assert isinstance(refused.parsed, models.Problem)
    assert "limit" in refused.parsed.detail
