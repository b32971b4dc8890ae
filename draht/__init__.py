"""Draht's serverless backend: one app declaration, a Pulumi program and a local runtime."""
