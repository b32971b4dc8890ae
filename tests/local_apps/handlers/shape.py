"""Results in each shape HTTP API knows, picked by ?kind=."""

import base64
from typing import Any


def handler(event: dict[str, Any], context: Any) -> Any:
    kind = (event.get("queryStringParameters") or {}).get("kind", "plain")
    if kind == "plain":
        return {"hello": "world", "count": 2}
    if kind == "full":
        return {
            "statusCode": 201,
            "headers": {"content-type": "text/plain", "x-answer": 42},
            "cookies": ["a=1; Path=/", "b=2; HttpOnly"],
            "body": "created",
        }
    if kind == "cors":
        # CORS headers of its own, which API Gateway ignores when the API configures CORS.
        return {
            "statusCode": 200,
            "headers": {"access-control-allow-origin": "*", "access-control-max-age": "1"},
            "body": "{}",
        }
    if kind == "binary":
        return {
            "statusCode": 200,
            "headers": {"content-type": "application/octet-stream"},
            "body": base64.b64encode(bytes(range(256))).decode(),
            "isBase64Encoded": True,
        }
    return {"statusCode": "not a status"}
