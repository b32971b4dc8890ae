"""`--dynamodb-endpoint` reaches the tests that honour it, and only the store it names."""

from __future__ import annotations

import json
import urllib.request

import pytest


def test_the_handler_tests_use_the_chosen_store(
    store_endpoint: str, request: pytest.FixtureRequest
) -> None:
    chosen = request.config.getoption("--dynamodb-endpoint")
    if chosen is None:
        assert store_endpoint == request.getfixturevalue("dynalite").endpoint
    elif chosen == "moto":
        # moto's own management API: dynalite has no such path.
        with urllib.request.urlopen(f"{store_endpoint}/moto-api/data.json", timeout=10) as answer:
            assert "dynamodb" in json.load(answer)
    else:
        assert store_endpoint == chosen


def test_draht_dev_suites_get_a_store_of_their_own_or_the_chosen_one(
    live_store_endpoint: str | None, store_endpoint: str, request: pytest.FixtureRequest
) -> None:
    chosen = request.config.getoption("--dynamodb-endpoint")
    if chosen is None:
        assert live_store_endpoint is None
    elif chosen == "moto":
        # A server of the suite's own, so that no suite sees another's items.
        assert live_store_endpoint is not None
        assert live_store_endpoint != store_endpoint
    else:
        assert live_store_endpoint == chosen
