"""Sleeps for ?seconds=, past any test timeout by default."""

import os
import time


def handler(event, context):
    time.sleep(float((event.get("queryStringParameters") or {}).get("seconds", "60")))
    return {"pid": os.getpid()}
