"""The cursor codec on its own: its exact format, its length cap, and each refusal's detail.

tests/test_handlers_cursor.py shows the same rules through the handlers; these tests
pin what a handler-level test cannot see (which bytes a cursor holds, where the cap
lies) and run in the test process, where mutation testing reaches them.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
from collections.abc import Iterator
from types import ModuleType

import pytest
from handler_env import handler_lib

ROUTE = "GET /clients"
NOT_ISSUED = "cursor is not one this API issued"


@pytest.fixture(scope="module")
def cursor() -> Iterator[ModuleType]:
    with handler_lib("cursor") as module:
        yield module


def _any(_position: str) -> bool:
    return True


def _token(body: bytes) -> str:
    """The documented format written out: unpadded base64url of body + 8-byte SHA-256 checksum."""
    checksum = hashlib.sha256(b"draht-cursor\x00" + body).digest()[:8]
    return base64.urlsafe_b64encode(body + checksum).rstrip(b"=").decode()


def _spare_bits_changed(token: str) -> str:
    """The same bytes with the unused low bits of the last character set: not canonical."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    assert len(token) % 4 == 2, "the last character must carry spare bits"
    changed = token[:-1] + alphabet[alphabet.index(token[-1]) | 1]
    assert changed != token
    assert base64.urlsafe_b64decode(changed + "==") == base64.urlsafe_b64decode(token + "==")
    return changed


def _sized_token(characters: int) -> str:
    """A well-formed clients cursor exactly `characters` long (a length base64url can have)."""
    raw_bytes = characters // 4 * 3 + {0: 0, 2: 1, 3: 2}[characters % 4]
    head = f'[1,"{ROUTE}","","'.encode()
    position = "a" * (raw_bytes - 8 - len(head) - 2)
    token = _token(head + position.encode() + b'"]')
    assert len(token) == characters
    return token


@pytest.mark.parametrize(
    ("route", "scope", "position"),
    [
        ("GET /clients", "", "alice"),
        ("GET /sessions", "alice", "SESSION#2026-04-01T00:00:00Z#s1"),
        # Not ASCII-escaped, and control characters escaped as JSON must.
        ("GET /sessions", "é💥", 'SESSION#"\\\x00\n#é💥'),
    ],
)
def test_a_cursor_is_base64url_of_the_compact_json_and_its_checksum(
    cursor: ModuleType, route: str, scope: str, position: str
) -> None:
    body = json.dumps([1, route, scope, position], separators=(",", ":"), ensure_ascii=False)
    assert cursor.encode(route, scope, position) == _token(body.encode("utf-8"))


def test_cursors_round_trip_over_many_positions(cursor: ModuleType) -> None:
    # Every length from 0 to 300 (each remainder of base64's 3-byte groups, each last
    # character) over a mix of ASCII, escapes and multi-byte characters; seeded, so repeatable.
    alphabet = 'abcXYZ019-_#:/=+ "\\\x00\x1f\n\té€💥'
    draw = random.Random(20261129)
    for length in range(301):
        for _ in range(4):
            position = "".join(draw.choice(alphabet) for _ in range(length))
            token = cursor.encode(ROUTE, "scope", position)
            assert cursor.decode(token, ROUTE, "scope", _any) == position


def test_the_longest_cursor_accepted_is_max_length_characters(cursor: ModuleType) -> None:
    assert cursor.MAX_LENGTH == 20000
    longest = _sized_token(20000)
    assert cursor.decode(longest, ROUTE, "", _any) == "a" * 14968
    # 20,001 characters is no base64url length; 20,002 is the next one there is.
    with pytest.raises(cursor.BadRequest, match=f"^{NOT_ISSUED}$"):
        cursor.decode(_sized_token(20002), ROUTE, "", _any)


def test_the_longest_key_dynamodb_allows_fits_a_cursor(cursor: ModuleType) -> None:
    # A partition key holds up to 2,048 bytes; a control character is 1 byte that JSON
    # writes as 6 (\u0001): the worst case the cap must leave room for.
    # https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html
    # ("Partition key length": 2048 bytes)
    worst = "\x01" * 2048
    token = cursor.encode(ROUTE, "", worst)
    assert len(token) <= cursor.MAX_LENGTH
    assert cursor.decode(token, ROUTE, "", _any) == worst


@pytest.mark.parametrize(
    ("token", "detail"),
    [
        ("", NOT_ISSUED),
        ("!!!", NOT_ISSUED),
        ("YWJj=", NOT_ISSUED),
        ("a", NOT_ISSUED),
        (_spare_bits_changed(_token(b'[1,"GET /clients","","ab"]')), NOT_ISSUED),
        (_token(b""), NOT_ISSUED),
        (_token(b"[1")[:11], NOT_ISSUED),
        (_token(b'[1,"GET /clients","","a"]')[:-2] + "AA", NOT_ISSUED),
        (_token(b"not json"), NOT_ISSUED),
        (_token(b"\xff\xfe"), NOT_ISSUED),
        (_token(b'{"v":1}'), NOT_ISSUED),
        (_token(b'[1,"GET /clients",""]'), NOT_ISSUED),
        (_token(b'[1,"GET /clients","",7]'), NOT_ISSUED),
        (_token(b'[1,"GET /clients","","\\ud800"]'), NOT_ISSUED),
        (
            _token(b'[2,"GET /clients","","a"]'),
            "cursor is from an unsupported version; start the listing again",
        ),
        (
            _token(b'[true,"GET /clients","","a"]'),
            "cursor is from an unsupported version; start the listing again",
        ),
        (
            _token(b'[1,"GET /sessions","","a"]'),
            "cursor belongs to another route, not GET /clients",
        ),
        (_token(b'[1,"GET /clients","bob","a"]'), "cursor belongs to another client's listing"),
    ],
    ids=[
        "empty",
        "not-base64url",
        "padded",
        "one-character",
        "spare-bits-changed",
        "checksum-only",
        "truncated",
        "checksum-wrong",
        "not-json",
        "not-utf-8",
        "not-an-array",
        "three-fields",
        "number-position",
        "lone-surrogate",
        "other-version",
        "boolean-version",
        "other-route",
        "other-scope",
    ],
)
def test_each_refusal_says_what_is_wrong_with_the_cursor(
    cursor: ModuleType, token: str, detail: str
) -> None:
    with pytest.raises(cursor.BadRequest) as raised:
        cursor.decode(token, ROUTE, "", _any)
    assert str(raised.value) == detail


def test_a_position_the_route_would_not_issue_is_refused(cursor: ModuleType) -> None:
    token = cursor.encode(ROUTE, "", "not-a-key")
    with pytest.raises(cursor.BadRequest) as raised:
        cursor.decode(token, ROUTE, "", lambda position: position != "not-a-key")
    assert str(raised.value) == NOT_ISSUED
