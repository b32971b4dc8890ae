"""Opaque page cursors, checked completely before anything in them reaches DynamoDB.

A cursor is unpadded base64url of `body + checksum`, where `body` is the JSON array
`[1, route, scope, position]` and `checksum` the first 8 bytes of SHA-256 over a fixed
label and `body`:

- `route` is the route key that issued it, `scope` the clientId of a sessions listing
  ("" for clients), so a cursor only works for the listing it came from;
- `position` is the one key value that varies within that listing (a session's `sk`,
  a client's `clientId`); the handler rebuilds the whole ExclusiveStartKey from it and
  from the request, so a cursor cannot carry other attributes, types or partitions.

There is no secret to sign with, so the checksum detects corrupted, truncated and
hand-edited cursors but cannot stop someone from computing a fresh one. That is
acceptable by construction: a forged cursor that passes every check is only a start
position inside the caller's own listing, shaped like a real key, which is no more than
the caller can read by paging; it can neither widen the listing nor make DynamoDB fail.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from collections.abc import Callable

from _lib.http import BadRequest

VERSION = 1
# Room for the longest real key (2 KiB of UTF-8, every byte a JSON escape at worst), bounded.
MAX_LENGTH = 20000

_LABEL = b"draht-cursor\x00"
_CHECKSUM_BYTES = 8
_ALPHABET = re.compile(r"[A-Za-z0-9_-]+")


def encode(route: str, scope: str, position: str) -> str:
    body = json.dumps([VERSION, route, scope, position], separators=(",", ":"), ensure_ascii=False)
    raw = body.encode("utf-8")
    return _base64url(raw + _checksum(raw))


def decode(token: str, route: str, scope: str, well_formed: Callable[[str], bool]) -> str:
    """The position `token` holds, provided it was issued for exactly this route and scope."""
    body = _verified_body(token)
    try:
        version, issued_route, issued_scope, position = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, TypeError):
        raise BadRequest("cursor is not one this API issued") from None
    if type(version) is not int or version != VERSION:
        raise BadRequest("cursor is from an unsupported version; start the listing again")
    if issued_route != route:
        raise BadRequest(f"cursor belongs to another route, not {route}")
    if issued_scope != scope:
        raise BadRequest("cursor belongs to another client's listing")
    if not isinstance(position, str) or not _encodable(position) or not well_formed(position):
        raise BadRequest("cursor is not one this API issued")
    return position


def _encodable(text: str) -> bool:
    """False for lone surrogates, which JSON can express but DynamoDB strings cannot hold."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _verified_body(token: str) -> bytes:
    if len(token) > MAX_LENGTH or not _ALPHABET.fullmatch(token):
        raise BadRequest("cursor is not one this API issued")
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        raise BadRequest("cursor is not one this API issued") from None
    # The last base64 character has spare bits: a changed one could decode to the same bytes.
    if _base64url(raw) != token or len(raw) <= _CHECKSUM_BYTES:
        raise BadRequest("cursor is not one this API issued")
    body, checksum = raw[:-_CHECKSUM_BYTES], raw[-_CHECKSUM_BYTES:]
    if not hmac.compare_digest(checksum, _checksum(body)):
        raise BadRequest("cursor is not one this API issued")
    return body


def _checksum(body: bytes) -> bytes:
    return hashlib.sha256(_LABEL + body).digest()[:_CHECKSUM_BYTES]


def _base64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")
