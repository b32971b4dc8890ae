"""Raises unless asked not to; the worker stays warm either way."""

import os


def handler(event, context):
    if (event.get("queryStringParameters") or {}).get("ok"):
        return {"pid": os.getpid()}
    raise ValueError("the handler failed on purpose")
