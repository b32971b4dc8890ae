"""Returns the event, the context and the environment it was called with."""

import json
import os
from typing import Any


def handler(event: dict[str, Any], context: Any) -> Any:
    watched = ("DRAHT_RESOURCE_", "AWS_")
    return {
        "statusCode": 200,
        "headers": {"content-type": "application/json"},
        "body": json.dumps(
            {
                "event": event,
                "context": {
                    "aws_request_id": context.aws_request_id,
                    "function_name": context.function_name,
                    "memory_limit_in_mb": context.memory_limit_in_mb,
                    "remaining_ms": context.get_remaining_time_in_millis(),
                },
                "environment": {k: v for k, v in os.environ.items() if k.startswith(watched)},
                "sys_path_0": __import__("sys").path[0],
                "pid": os.getpid(),
            }
        ),
    }
