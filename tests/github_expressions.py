"""Enough of GitHub Actions' expression language to evaluate the workflow's `if:` conditions.

https://docs.github.com/en/actions/reference/workflows-and-actions/expressions: literals,
`==`, `!=`, `!`, `&&`, `||`, parentheses, property paths with the `*` object filter, and
`contains()`; string comparison ignores case. Anything else raises, so a condition this
does not understand fails its test instead of passing it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_TOKEN = re.compile(
    r"\s*(?:(?P<string>'(?:[^']|'')*')|(?P<number>\d+)|(?P<op>==|!=|&&|\|\||[!().,*])"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_-]*))"
)


def _tokens(text: str) -> list[tuple[str, str]]:
    tokens, position = [], 0
    text = text.strip()
    while position < len(text):
        found = _TOKEN.match(text, position)
        if found is None or found.end() == position:
            raise ValueError(f"cannot read {text[position:]!r}")
        kind = found.lastgroup
        assert kind is not None
        tokens.append((kind, found.group(kind)))
        position = found.end()
    return tokens


def _equal(left: Any, right: Any) -> bool:
    if isinstance(left, str) and isinstance(right, str):
        return left.lower() == right.lower()
    return bool(left == right)


class _Parser:
    def __init__(self, text: str, context: Mapping[str, Any]) -> None:
        self.tokens = _tokens(text)
        self.index = 0
        self.context = context

    def _peek(self) -> str | None:
        return self.tokens[self.index][1] if self.index < len(self.tokens) else None

    def _take(self, expected: str | None = None) -> tuple[str, str]:
        token = self.tokens[self.index]
        if expected is not None and token[1] != expected:
            raise ValueError(f"expected {expected!r}, got {token[1]!r}")
        self.index += 1
        return token

    def parse(self) -> Any:
        value = self._or()
        if self.index != len(self.tokens):
            raise ValueError(f"unexpected {self._peek()!r}")
        return value

    def _or(self) -> Any:
        value = self._and()
        while self._peek() == "||":
            self._take()
            right = self._and()
            value = value or right
        return value

    def _and(self) -> Any:
        value = self._not()
        while self._peek() == "&&":
            self._take()
            right = self._not()
            value = value and right
        return value

    def _not(self) -> Any:
        if self._peek() == "!":
            self._take()
            return not self._not()
        return self._comparison()

    def _comparison(self) -> Any:
        left = self._primary()
        if self._peek() in ("==", "!="):
            operator = self._take()[1]
            right = self._primary()
            return _equal(left, right) if operator == "==" else not _equal(left, right)
        return left

    def _primary(self) -> Any:
        kind, text = self._take()
        if text == "(":
            value = self._or()
            self._take(")")
            return value
        if kind == "string":
            return text[1:-1].replace("''", "'")
        if kind == "number":
            return int(text)
        if kind != "name":
            raise ValueError(f"unexpected {text!r}")
        if text in ("true", "false", "null"):
            return {"true": True, "false": False, "null": None}[text]
        if self._peek() == "(":
            return self._call(text)
        return self._path(self.context.get(text))

    def _call(self, name: str) -> Any:
        self._take("(")
        arguments = [self._or()]
        while self._peek() == ",":
            self._take()
            arguments.append(self._or())
        self._take(")")
        if name != "contains" or len(arguments) != 2:
            raise ValueError(f"{name}() is not supported here")
        haystack, needle = arguments
        if isinstance(haystack, list):
            return any(_equal(item, needle) for item in haystack)
        return str(needle).lower() in str(haystack or "").lower()

    def _path(self, value: Any) -> Any:
        while self._peek() == ".":
            self._take()
            kind, text = self._take()
            if text == "*":
                items = value if isinstance(value, list) else list((value or {}).values())
                value = _Filtered(items)
            elif isinstance(value, _Filtered):
                value = _Filtered([item.get(text) for item in value if isinstance(item, dict)])
            elif kind == "name":
                value = value.get(text) if isinstance(value, dict) else None
            else:
                raise ValueError(f"unexpected {text!r} in a property path")
        return list(value) if isinstance(value, _Filtered) else value


class _Filtered(list[Any]):
    """The result of a `*` filter, on which further properties apply to each item."""


def evaluate(condition: str, context: Mapping[str, Any]) -> Any:
    text = condition.strip()
    if text.startswith("${{") and text.endswith("}}"):
        text = text[3:-2]
    return _Parser(text, context).parse()
