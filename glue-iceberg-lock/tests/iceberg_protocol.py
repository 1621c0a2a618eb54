"""A lock client speaking the protocol of Iceberg's Java `DynamoDbLockManager`, written from its source (apache/iceberg,
aws/.../dynamodb/DynamoDbLockManager.java), with boto3: the other side of the compatibility test.

acquire: GetItem (consistent); absent -> PutItem if attribute_not_exists(entityId); present -> sleep the item's
leaseDurationMs, then PutItem if `attribute_not_exists(entityId) OR (entityId = :eid AND version = :vid)` with the
version seen; a failed condition -> wait the acquire interval and start over. While held, a heartbeat thread PutItems a
new version every heartbeat interval if `entityId = :eid AND ownerId = :oid`. release: DeleteItem if
`entityId = :eid AND ownerId = :oid`, then the heartbeat stops.

Usage: iceberg_protocol.py ENDPOINT TABLE ENTITY OWNER CYCLES LOG — appends "enter OWNER" / "exit OWNER" lines to LOG
while holding the lock.
"""

from __future__ import annotations

import sys
import threading
import time
import uuid

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

LEASE_MS = 2000
HEARTBEAT_S = 0.3
ACQUIRE_INTERVAL_S = 0.05
RETRYABLE = {"ConditionalCheckFailedException", "ProvisionedThroughputExceededException", "ThrottlingException",
             "RequestLimitExceeded", "InternalServerError", "TransactionConflictException"}  # fmt: skip


def item(entity: str, owner: str) -> dict:
    return {"entityId": {"S": entity}, "ownerId": {"S": owner}, "version": {"S": str(uuid.uuid4())},
            "leaseDurationMs": {"N": str(LEASE_MS)}}  # fmt: skip


def acquire(db, table: str, entity: str, owner: str, timeout_s: float = 300) -> None:
    started = time.time()
    while True:
        try:
            got = db.get_item(TableName=table, Key={"entityId": {"S": entity}}, ConsistentRead=True).get("Item")
            if got is None:
                db.put_item(TableName=table, Item=item(entity, owner), ConditionExpression="attribute_not_exists(entityId)")
            else:
                time.sleep(int(got["leaseDurationMs"]["N"]) / 1000)
                db.put_item(
                    TableName=table,
                    Item=item(entity, owner),
                    ConditionExpression="attribute_not_exists(entityId) OR (entityId = :eid AND version = :vid)",
                    ExpressionAttributeValues={":eid": {"S": entity}, ":vid": got["version"]},
                )
            return
        except ClientError as err:
            if err.response["Error"]["Code"] not in RETRYABLE or time.time() - started > timeout_s:
                raise
        time.sleep(ACQUIRE_INTERVAL_S)


def heartbeat(db, table: str, entity: str, owner: str, stop: threading.Event) -> None:
    while not stop.wait(HEARTBEAT_S):
        try:
            db.put_item(
                TableName=table,
                Item=item(entity, owner),
                ConditionExpression="entityId = :eid AND ownerId = :oid",
                ExpressionAttributeValues={":eid": {"S": entity}, ":oid": {"S": owner}},
            )
        except ClientError as err:  # Iceberg only logs a failed heartbeat
            print(f"heartbeat of {owner} failed: {err}", file=sys.stderr)


def release(db, table: str, entity: str, owner: str) -> None:
    db.delete_item(
        TableName=table,
        Key={"entityId": {"S": entity}},
        ConditionExpression="entityId = :eid AND ownerId = :oid",
        ExpressionAttributeValues={":eid": {"S": entity}, ":oid": {"S": owner}},
    )


def main() -> None:
    endpoint, table, entity, owner, cycles, log = sys.argv[1:7]
    db = boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="testing",
                      aws_secret_access_key="testing", config=Config(retries={"max_attempts": 10, "mode": "standard"}))  # fmt: skip
    for _ in range(int(cycles)):
        acquire(db, table, entity, owner)
        stop = threading.Event()
        beat = threading.Thread(target=heartbeat, args=(db, table, entity, owner, stop), daemon=True)
        beat.start()
        with open(log, "a") as f:
            f.write(f"enter {owner}\n")
        time.sleep(0.02)
        with open(log, "a") as f:
            f.write(f"exit {owner}\n")
        release(db, table, entity, owner)
        stop.set()
        beat.join()


if __name__ == "__main__":
    main()
