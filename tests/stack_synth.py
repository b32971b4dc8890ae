"""The stack program under Pulumi mocks, as the stack tests build it."""

from __future__ import annotations

from draht.app import app
from draht.model import App
from draht.stack import main
from draht.synth import Synthesis, synthesize


def synth(stack: str, declared: App = app, /, **config: str) -> Synthesis:
    """`declared` as the program of `stack`; `config` keys without namespace are `draht:` keys."""
    return synthesize(lambda: main(declared), stack, config)
