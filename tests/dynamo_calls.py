"""The DynamoDB calls a handler makes, observed through botocore's events on its real clients.

Shared by the handler tests (which operations, and none for a refused request) and the
cost benchmark (what each call consumed).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any


@dataclass
class DynamoCall:
    operation: str
    capacity_units: float = 0.0
    """As reported in `ConsumedCapacity`, when the call asked for it."""
    items_read: int = 0
    """`ScannedCount`: what a Query or Scan read, whether or not it returned it."""


class CallRecorder:
    def __init__(self) -> None:
        self.calls: list[DynamoCall] = []

    @property
    def operations(self) -> list[str]:
        return [call.operation for call in self.calls]

    def attach(self, events: Any) -> None:
        """Record every DynamoDB call made through this event emitter: `client.meta.events`,
        or a session's `events` for the clients it creates from now on."""
        events.register("before-call.dynamodb", self._started)
        events.register("after-call.dynamodb", self._answered)

    def detach(self, events: Any) -> None:
        events.unregister("before-call.dynamodb", self._started)
        events.unregister("after-call.dynamodb", self._answered)

    @contextmanager
    def watching(self, *emitters: Any) -> Iterator[CallRecorder]:
        for events in emitters:
            self.attach(events)
        try:
            yield self
        finally:
            for events in emitters:
                self.detach(events)

    def _started(self, model: Any, **_: Any) -> None:
        # Recorded before the request leaves: a call that never gets an answer still counts.
        self.calls.append(DynamoCall(model.name))

    def _answered(self, parsed: dict[str, Any], **_: Any) -> None:
        call = self.calls[-1]
        call.capacity_units = parsed.get("ConsumedCapacity", {}).get("CapacityUnits", 0.0)
        call.items_read = parsed.get("ScannedCount", 0)
