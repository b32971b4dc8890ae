"""Pulumi components built from the app declaration."""
