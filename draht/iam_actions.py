"""The DynamoDB actions IAM knows, so a link can only grant an action that exists.

Source: the Service Authorization Reference, "Actions, resources, and condition
keys for Amazon DynamoDB", section "Actions defined by Amazon DynamoDB"
(https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazondynamodb.html).
Most actions share their name with an API operation of the `dynamodb` or
`dynamodbstreams` SDK clients (both sign as `dynamodb`); `tests/test_iam_actions.py`
checks `OPERATION_ACTIONS` against botocore's service models, so a new operation
is noticed when botocore is updated. The rest exist only in IAM.

The list is written out rather than read from botocore when a declaration is
built: loading botocore costs about 0.3 s, which the Pulumi program and every
`draht` command would pay.
"""

from __future__ import annotations

import difflib

OPERATION_ACTIONS = frozenset(
    {
        "BatchGetItem",
        "BatchWriteItem",
        "CancelBulkOperation",
        "CreateBackup",
        "CreateGlobalTable",
        "CreateTable",
        "DeleteBackup",
        "DeleteItem",
        "DeleteResourcePolicy",
        "DeleteTable",
        "DescribeBackup",
        "DescribeBulkOperation",
        "DescribeContinuousBackups",
        "DescribeContributorInsights",
        "DescribeEndpoints",
        "DescribeExport",
        "DescribeGlobalTable",
        "DescribeGlobalTableSettings",
        "DescribeImport",
        "DescribeKinesisStreamingDestination",
        "DescribeLimits",
        "DescribeStream",
        "DescribeTable",
        "DescribeTableReplicaAutoScaling",
        "DescribeTimeToLive",
        "DisableKinesisStreamingDestination",
        "EnableKinesisStreamingDestination",
        "ExportTableToPointInTime",
        "GetItem",
        "GetRecords",
        "GetResourcePolicy",
        "GetShardIterator",
        "ImportTable",
        "ListBackups",
        "ListBulkOperations",
        "ListContributorInsights",
        "ListExports",
        "ListGlobalTables",
        "ListImports",
        "ListStreams",
        "ListTables",
        "ListTagsOfResource",
        "PutItem",
        "PutResourcePolicy",
        "Query",
        "RestoreTableFromBackup",
        "RestoreTableToPointInTime",
        "Scan",
        "SearchVectors",
        "StartBulkPutItems",
        "TagResource",
        "UntagResource",
        "UpdateContinuousBackups",
        "UpdateContributorInsights",
        "UpdateGlobalTable",
        "UpdateGlobalTableSettings",
        "UpdateItem",
        "UpdateKinesisStreamingDestination",
        "UpdateTable",
        "UpdateTableReplicaAutoScaling",
        "UpdateTimeToLive",
    }
)
"""Operations IAM authorizes under their own name."""

_PARTIQL = "dynamodb:PartiQLSelect, PartiQLInsert, PartiQLUpdate or PartiQLDelete, by statement"
_ITEMS = "the actions of its items: dynamodb:GetItem, PutItem, UpdateItem, DeleteItem"
OPERATIONS_AUTHORIZED_BY_OTHER_ACTIONS = {
    # One PartiQL action per statement, by its kind:
    # https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ql-iam.html
    "ExecuteStatement": _PARTIQL,
    "BatchExecuteStatement": _PARTIQL,
    "ExecuteTransaction": _PARTIQL,
    # Each item needs its single-item action; a ConditionCheck needs ConditionCheckItem:
    # https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis-iam.html
    "TransactGetItems": _ITEMS,
    "TransactWriteItems": _ITEMS + " or ConditionCheckItem",
}
"""Operations with no IAM action of their name, and the actions IAM checks for them."""

IAM_ONLY_ACTIONS = frozenset(
    {
        "AssociateTableReplica",
        "ConditionCheckItem",
        "CreateGlobalTableWitness",
        "CreateTableReplica",
        "DeleteGlobalTableWitness",
        "DeleteTableReplica",
        "DescribeReservedCapacity",
        "DescribeReservedCapacityOfferings",
        "GetAbacStatus",
        "InjectError",
        "PartiQLDelete",
        "PartiQLInsert",
        "PartiQLSelect",
        "PartiQLUpdate",
        "PurchaseReservedCapacityOfferings",
        "ReadDataForReplication",
        "ReplicateSettings",
        "RestoreTableFromAwsBackup",
        "StartAwsBackupJob",
        "UpdateAbacStatus",
        "UpdateGlobalTableVersion",
        "WriteDataForReplication",
    }
)
"""Actions of the reference that no SDK operation is named after."""

DYNAMODB_ACTIONS = frozenset(f"dynamodb:{name}" for name in OPERATION_ACTIONS | IAM_ONLY_ACTIONS)


def unknown_action_hint(action: str) -> str:
    """Why `action` is not a DynamoDB IAM action, and what to grant instead when that is known."""
    operation = action.partition(":")[2]
    if operation in OPERATIONS_AUTHORIZED_BY_OTHER_ACTIONS:
        instead = OPERATIONS_AUTHORIZED_BY_OTHER_ACTIONS[operation]
        return f"{action!r} is not a DynamoDB action IAM knows: {operation} needs {instead}"
    close = difflib.get_close_matches(action, sorted(DYNAMODB_ACTIONS), n=1, cutoff=0.8)
    if not close:
        lowered = {known.lower(): known for known in DYNAMODB_ACTIONS}
        close = [lowered[action.lower()]] if action.lower() in lowered else []
    suggestion = f" (did you mean {close[0]}?)" if close else ""
    return f"{action!r} is not a DynamoDB action IAM knows{suggestion}"
