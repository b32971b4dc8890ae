"""Scans the table named by ?table=, or runs the PartiQL ?statement=.

Through the default session, or a new one with ?session=own.
"""

from typing import Any

import boto3
from botocore.exceptions import ClientError


def handler(event: dict[str, Any], context: Any) -> Any:
    query = event.get("queryStringParameters") or {}
    session = boto3.session.Session() if query.get("session") == "own" else boto3
    client = session.client("dynamodb")
    try:
        if "statement" in query:
            return {"items": len(client.execute_statement(Statement=query["statement"])["Items"])}
        count = client.scan(TableName=query["table"])["Count"]
    except ClientError as error:
        return {
            "exception": type(error).__name__,
            "code": error.response["Error"]["Code"],
            "message": error.response["Error"]["Message"],
            "status": error.response["ResponseMetadata"]["HTTPStatusCode"],
            "text": str(error),
        }
    return {"count": count}
