"""Calls another AWS service than DynamoDB (?service=s3 or lambda), which no link grants."""

from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

# Nothing listens there: a call that got past the IAM check would fail at once, never leave.
NOWHERE = "http://127.0.0.1:9"
CALLS: dict[str, Any] = {
    "s3": lambda client: client.list_buckets(),
    "lambda": lambda client: client.list_functions(),
}


def handler(event: dict[str, Any], context: Any) -> Any:
    service = (event.get("queryStringParameters") or {})["service"]
    config = Config(connect_timeout=1, retries={"total_max_attempts": 1})
    client = boto3.client(service, endpoint_url=NOWHERE, config=config)
    try:
        CALLS[service](client)
    except ClientError as error:
        return {
            "code": error.response["Error"]["Code"],
            "message": error.response["Error"]["Message"],
            "status": error.response["ResponseMetadata"]["HTTPStatusCode"],
        }
    return {"reached": service}
