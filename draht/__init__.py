"""Draht's serverless backend: one app declaration, a Pulumi program and a local runtime."""

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
"""The checkout: its handlers/, node_modules/, stack config and default data folder."""
