"""Linked resources, read from the environment the stack (or `draht dev`) sets.

`Resource.Sessions.name` mirrors SST's `Resource.Sessions.name`: each linked
resource arrives as `DRAHT_RESOURCE_<Name>` holding JSON, and asking for one that
is not linked fails with an error that names the missing link.
"""

from __future__ import annotations

import json
import os
from types import SimpleNamespace

# Not importing `typing` keeps it off the health path's cold start (see _lib.http).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_PREFIX = "DRAHT_RESOURCE_"
_APP = "App"


class LinkError(LookupError):
    pass


class _Resources:
    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        raw = os.environ.get(_PREFIX + name)
        if raw is None:
            raise LinkError(
                f"{name} is not linked to this function (linked: {', '.join(_linked()) or 'none'});"
                f" add a link to {name} in draht/app.py"
            )
        value = SimpleNamespace(**json.loads(raw))
        setattr(self, name, value)
        return value


def _linked() -> list[str]:
    return sorted(key[len(_PREFIX) :] for key in os.environ if key.startswith(_PREFIX))


def linked_tables() -> list[str]:
    """The names of the tables linked to this function (every linked resource but `App`)."""
    return [name for name in _linked() if name != _APP]


Resource = _Resources()
