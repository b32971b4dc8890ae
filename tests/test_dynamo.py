"""`_lib.dynamo`'s conversions on their own: the refusals no route can provoke.

The handler tests read and write every type the store and the schemas allow
(tests/test_handlers.py, tests/test_handlers_writes.py); these pin what happens
to a value outside them, which the schemas keep from the store and DynamoDB never
answers, so that such a value fails loudly, named, instead of being stored or
read as something else.
"""

from __future__ import annotations

from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest
from handler_env import handler_lib


@pytest.fixture(scope="module")
def dynamo() -> Iterator[ModuleType]:
    with handler_lib("dynamo") as module:
        yield module


def test_an_attribute_of_a_type_dynamodb_does_not_have_is_refused_by_its_name(
    dynamo: ModuleType,
) -> None:
    with pytest.raises(ValueError, match=r"^unknown DynamoDB attribute type 'SN'$"):
        dynamo.plain({"clientId": {"S": "c1"}, "odd": {"SN": ["1"]}})


@pytest.mark.parametrize(
    ("value", "type_name"),
    [(1.5, "float"), (None, "NoneType"), ([1], "list"), ({"nested": "x"}, "dict")],
)
def test_a_value_no_schema_lets_through_is_refused_by_its_type(
    dynamo: ModuleType, value: Any, type_name: str
) -> None:
    with pytest.raises(TypeError, match=rf"^no DynamoDB type for {type_name} values here$"):
        dynamo.wire({"field": value})
