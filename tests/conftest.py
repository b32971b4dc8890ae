"""Fixtures shared by every suite: the DynamoDB-compatible store the tests run against.

By default that is a real dynalite on a free loopback port. `--dynamodb-endpoint`
swaps in another implementation for every test that uses `store_endpoint` or
`live_store_endpoint` (they are marked `dynamodb`, so `-m dynamodb` selects them):

    pytest --dynamodb-endpoint=moto -m dynamodb      # moto's server, one per suite
    pytest --dynamodb-endpoint=http://127.0.0.1:8000 tests/test_handlers.py

A URL is used as it is, by every suite alike, so point it at an empty store and run the
suites that start `draht dev` one at a time (they use the app's own table names).

The stacks of `dev` and of `production` are synthesized under mocks once per session.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import pytest
from moto_store import MotoServer

from draht.local.store import Dynalite

if TYPE_CHECKING:
    from draht.synth import Synthesis

STORE_FIXTURES = ("store_endpoint", "live_store_endpoint")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--dynamodb-endpoint",
        metavar="moto|URL",
        default=None,
        help="run the store-backed tests against this DynamoDB endpoint instead of dynalite;"
        " `moto` starts moto's server (one per suite)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "dynamodb: runs against the store --dynamodb-endpoint chooses (set itself)"
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if any(name in getattr(item, "fixturenames", ()) for name in STORE_FIXTURES):
            item.add_marker(pytest.mark.dynamodb)


@contextmanager
def _chosen_store(config: pytest.Config) -> Iterator[str | None]:
    """The --dynamodb-endpoint store, fresh when it is moto; None without the option."""
    chosen = config.getoption("--dynamodb-endpoint")
    if chosen == "moto":
        with MotoServer() as server:
            yield server.endpoint
    else:
        yield chosen


@pytest.fixture(scope="session")
def dynalite() -> Iterator[Dynalite]:
    with Dynalite() as store:
        yield store


@pytest.fixture(scope="session")
def store_endpoint(request: pytest.FixtureRequest) -> Iterator[str]:
    """Where handler tests keep their tables (each suite under its own table names)."""
    with _chosen_store(request.config) as endpoint:
        if endpoint is None:
            yield request.getfixturevalue("dynalite").endpoint
        else:
            yield endpoint


@pytest.fixture(scope="module")
def live_store_endpoint(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """The store for a suite's `draht dev`: None for its own dynalite, as users run it."""
    with _chosen_store(request.config) as endpoint:
        yield endpoint


# Pulumi is imported only when a stack is asked for: its gRPC core is built for the venv's
# Python, and the handler tests also run on the Lambda runtime's (tests/lambda_python.py).
@pytest.fixture(scope="session")
def dev() -> Synthesis:
    from stack_synth import synth

    return synth("dev")


@pytest.fixture(scope="session")
def production() -> Synthesis:
    from stack_synth import synth

    return synth("production")
