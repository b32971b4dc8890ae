import ast
import io
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import pytest

from draht.app import app, clients, sessions
from draht.model import (
    App,
    DeclarationError,
    Function,
    Link,
    LocalIndex,
    Route,
    Table,
    policy_statements,
)
from draht.openapi import REQUEST_SCHEMAS
from draht.package import (
    HANDLERS_DIR,
    build_archive,
    handler_files,
    validators_source,
    write_validators,
)


def test_functions_come_from_routes_in_route_order() -> None:
    assert [f.name for f in app.functions] == ["Health", "ListSessions", "ListClients"]


def test_policy_grants_only_the_linked_actions_on_the_linked_table() -> None:
    arns = {"Sessions": "arn:sessions", "Clients": "arn:clients"}
    statements = policy_statements(app.function("ListSessions"), arns)
    assert statements == [
        {
            "Sid": "SessionsAccess",
            "Effect": "Allow",
            "Action": [
                "dynamodb:DeleteItem",
                "dynamodb:PutItem",
                "dynamodb:Query",
                "dynamodb:UpdateItem",
            ],
            "Resource": ["arn:sessions"],
        },
        {
            "Sid": "SessionsIndexQuery",
            "Effect": "Allow",
            "Action": ["dynamodb:Query"],
            "Resource": ["arn:sessions/index/bySessionId"],
        },
        {
            "Sid": "ClientsAccess",
            "Effect": "Allow",
            "Action": ["dynamodb:GetItem", "dynamodb:UpdateItem"],
            "Resource": ["arn:clients"],
        },
    ]


def test_a_link_to_an_index_the_table_lacks_is_refused() -> None:
    with pytest.raises(DeclarationError, match="no index 'byTitle'"):
        Link(sessions, actions=("dynamodb:Query",), queried_indexes=("byTitle",))


def test_a_local_index_must_sort_by_another_attribute() -> None:
    with pytest.raises(DeclarationError, match="another attribute"):
        Table("T", hash_key="pk", range_key="sk", local_indexes=(LocalIndex("bySk", "sk"),))


def test_wildcard_actions_are_refused() -> None:
    with pytest.raises(DeclarationError, match="wildcards"):
        Link(sessions, actions=("dynamodb:*",))


def test_a_link_to_an_undeclared_table_is_refused() -> None:
    stray = Table("Stray", hash_key="id")
    function = Function(
        "Reader", handler="reader.handler", links=(Link(stray, ("dynamodb:Scan",)),)
    )
    with pytest.raises(DeclarationError, match="does not declare"):
        App(name="x", tables=(sessions, clients), routes=(Route("GET /r", function),))


def test_a_duplicate_route_is_refused() -> None:
    function = app.function("Health")
    with pytest.raises(DeclarationError, match="declared twice"):
        App(name="x", tables=(), routes=(Route("GET /a", function), Route("GET /a", function)))


def test_zip_holds_the_handler_and_only_the_helpers_it_imports() -> None:
    files = handler_files(app.function("Health"))
    assert "health.py" in files
    assert all(name == "health.py" or name.startswith("_lib/") for name in files)


def test_zip_is_byte_for_byte_repeatable() -> None:
    function = app.function("ListSessions")
    assert build_archive(function).data == build_archive(function).data


def test_data_zips_carry_the_generated_validators_and_no_json_schema_library() -> None:
    for name in ("ListSessions", "ListClients"):
        archive = build_archive(app.function(name))
        assert "_request_schemas.py" in archive.files
        assert not [f for f in archive.files if "jsonschema" in f.lower()]
        with zipfile.ZipFile(io.BytesIO(archive.data)) as zipped:
            source = zipped.read("_request_schemas.py").decode()
        assert source == validators_source()
        modules = {
            (node.module if isinstance(node, ast.ImportFrom) else alias.name).split(".")[0]
            for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.Import | ast.ImportFrom)
            for alias in node.names
        }
        assert modules == {"re", "decimal"}, modules


def test_health_zip_carries_no_validators() -> None:
    assert "_request_schemas.py" not in build_archive(app.function("Health")).files


def test_validators_check_exactly_the_request_schemas_of_the_document() -> None:
    namespace: dict[str, Any] = {}
    exec(validators_source(), namespace)
    assert set(namespace["VALIDATORS"]) == set(REQUEST_SCHEMAS)
    for name, schema in REQUEST_SCHEMAS.items():
        if "properties" in schema:
            assert namespace["PROPERTIES"][name] == tuple(schema["properties"])
            assert namespace["REQUIRED"][name] == tuple(schema.get("required", ()))


def test_dev_and_tests_import_the_validators_the_zips_carry(tmp_path: Path) -> None:
    written = write_validators(tmp_path) / "_request_schemas.py"
    assert written.read_text() == validators_source()


def test_the_generated_validators_are_never_in_git() -> None:
    tracked = subprocess.run(
        ["git", "ls-files"], capture_output=True, text=True, check=True, cwd=HANDLERS_DIR.parent
    ).stdout.split()
    assert not [path for path in tracked if path.endswith("_request_schemas.py")]
    assert "handlers/_request_schemas.pyi" in tracked
