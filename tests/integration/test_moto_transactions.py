"""TransactWriteItems on the test cloud's moto server (localcloud.moto_transactions installed),
through boto3 over HTTP: all or nothing, moto's error shapes, and concurrent transactions on the
same items where exactly one wins and nothing crashes."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from localcloud import moto_transactions
from tests.support.aws import TestCloud

SEEDED_ROWS = 200  # big enough that moto's own whole-table copy overlaps a concurrent request


@pytest.fixture
def dynamodb(test_cloud: TestCloud) -> Any:
    """No retries: a 500 from inside moto must surface, not be retried away."""
    return boto3.client(
        "dynamodb",
        endpoint_url=test_cloud.endpoint,
        config=Config(retries={"total_max_attempts": 1, "mode": "standard"}),
    )


def _create_table(dynamodb: Any, *, range_key: bool) -> str:
    name = f"tx-{secrets.token_hex(4)}"
    keys = [("pk", "HASH"), ("sk", "RANGE")] if range_key else [("pk", "HASH")]
    dynamodb.create_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": k, "AttributeType": "S"} for k, _ in keys],
        KeySchema=[{"AttributeName": k, "KeyType": kind} for k, kind in keys],
        BillingMode="PAY_PER_REQUEST",
    )
    return name


@pytest.fixture(params=[True, False], ids=["hash+range", "hash-only"])
def table(request: pytest.FixtureRequest, dynamodb: Any) -> Iterator[tuple[str, bool]]:
    range_key = bool(request.param)
    name = _create_table(dynamodb, range_key=range_key)
    yield name, range_key
    dynamodb.delete_table(TableName=name)


def _key(pk: str, range_key: bool) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": "row"}} if range_key else {"pk": {"S": pk}}


def _get(dynamodb: Any, table: str, pk: str, range_key: bool) -> dict[str, Any] | None:
    item: dict[str, Any] | None = dynamodb.get_item(TableName=table, Key=_key(pk, range_key)).get("Item")
    return item


def _put(dynamodb: Any, table: str, pk: str, range_key: bool, **attributes: dict[str, str]) -> None:
    dynamodb.put_item(TableName=table, Item={**_key(pk, range_key), **attributes})


def _cancelled(error: ClientError) -> list[dict[str, Any]]:
    assert error.response["Error"]["Code"] == "TransactionCanceledException"
    reasons: list[dict[str, Any]] = error.response["CancellationReasons"]
    return reasons


def test_the_patch_is_installed_by_the_test_cloud() -> None:
    assert moto_transactions.installed()


def test_a_failed_condition_cancels_every_item_with_its_reason(dynamodb: Any, table: tuple[str, bool]) -> None:
    name, rk = table
    _put(dynamodb, name, "counter", rk, n={"N": "1"})
    _put(dynamodb, name, "doomed", rk, state={"S": "open"})
    with pytest.raises(ClientError) as raised:
        dynamodb.transact_write_items(
            TransactItems=[
                {
                    "Put": {
                        "TableName": name,
                        "Item": {**_key("new", rk), "v": {"S": "x"}},
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
                {
                    "Update": {
                        "TableName": name,
                        "Key": _key("counter", rk),
                        "UpdateExpression": "SET n = n + :one",
                        "ConditionExpression": "n = :two",
                        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                        "ExpressionAttributeValues": {":one": {"N": "1"}, ":two": {"N": "2"}},
                    }
                },
                {"Delete": {"TableName": name, "Key": _key("doomed", rk)}},
                {
                    "ConditionCheck": {
                        "TableName": name,
                        "Key": _key("absent", rk),
                        "ConditionExpression": "attribute_exists(pk)",
                    }
                },
            ]
        )
    assert _cancelled(raised.value) == [
        {"Code": "None"},
        {
            "Code": "ConditionalCheckFailed",
            "Message": "The conditional request failed",
            "Item": {**_key("counter", rk), "n": {"N": "1"}},
        },
        {"Code": "None"},
        {"Code": "ConditionalCheckFailed", "Message": "The conditional request failed"},
    ]
    assert _get(dynamodb, name, "new", rk) is None
    assert _get(dynamodb, name, "counter", rk) == {**_key("counter", rk), "n": {"N": "1"}}
    assert _get(dynamodb, name, "doomed", rk) == {**_key("doomed", rk), "state": {"S": "open"}}


def test_success_applies_every_write(dynamodb: Any, table: tuple[str, bool]) -> None:
    name, rk = table
    _put(dynamodb, name, "counter", rk, n={"N": "1"})
    _put(dynamodb, name, "doomed", rk, state={"S": "open"})
    _put(dynamodb, name, "guard", rk, state={"S": "on"})
    dynamodb.transact_write_items(
        TransactItems=[
            {
                "Put": {
                    "TableName": name,
                    "Item": {**_key("new", rk), "v": {"S": "x"}},
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
            {
                "Update": {
                    "TableName": name,
                    "Key": _key("counter", rk),
                    "UpdateExpression": "SET n = n + :one",
                    "ConditionExpression": "n = :n",
                    "ExpressionAttributeValues": {":one": {"N": "1"}, ":n": {"N": "1"}},
                }
            },
            {"Delete": {"TableName": name, "Key": _key("doomed", rk), "ConditionExpression": "attribute_exists(pk)"}},
            {
                "ConditionCheck": {
                    "TableName": name,
                    "Key": _key("guard", rk),
                    "ConditionExpression": "#s = :on",
                    "ExpressionAttributeNames": {"#s": "state"},
                    "ExpressionAttributeValues": {":on": {"S": "on"}},
                }
            },
        ]
    )
    assert _get(dynamodb, name, "new", rk) == {**_key("new", rk), "v": {"S": "x"}}
    assert _get(dynamodb, name, "counter", rk) == {**_key("counter", rk), "n": {"N": "2"}}
    assert _get(dynamodb, name, "doomed", rk) is None
    assert _get(dynamodb, name, "guard", rk) == {**_key("guard", rk), "state": {"S": "on"}}


def test_a_write_that_fails_after_others_were_applied_undoes_them(dynamodb: Any, table: tuple[str, bool]) -> None:
    """The second update adds a number to a string, which moto finds only while writing: by then
    the put and the first update are applied, and both must be undone (the update in place)."""
    name, rk = table
    _put(dynamodb, name, "counter", rk, n={"N": "1"})
    _put(dynamodb, name, "text", rk, n={"S": "not a number"})
    with pytest.raises(ClientError) as raised:
        dynamodb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": name, "Item": {**_key("new", rk), "v": {"S": "x"}}}},
                {
                    "Update": {
                        "TableName": name,
                        "Key": _key("counter", rk),
                        "UpdateExpression": "SET n = n + :one",
                        "ExpressionAttributeValues": {":one": {"N": "1"}},
                    }
                },
                {
                    "Update": {
                        "TableName": name,
                        "Key": _key("text", rk),
                        "UpdateExpression": "SET n = n + :one",
                        "ExpressionAttributeValues": {":one": {"N": "1"}},
                    }
                },
            ]
        )
    assert raised.value.response["Error"]["Code"] == "ValidationException"
    assert "Incorrect operand type" in raised.value.response["Error"]["Message"]
    assert _get(dynamodb, name, "new", rk) is None
    assert _get(dynamodb, name, "counter", rk) == {**_key("counter", rk), "n": {"N": "1"}}
    assert _get(dynamodb, name, "text", rk) == {**_key("text", rk), "n": {"S": "not a number"}}


def test_one_item_twice_is_a_validation_error(dynamodb: Any, table: tuple[str, bool]) -> None:
    name, rk = table
    with pytest.raises(ClientError) as raised:
        dynamodb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": name, "Item": {**_key("same", rk), "v": {"S": "1"}}}},
                {"Delete": {"TableName": name, "Key": _key("same", rk)}},
            ]
        )
    assert raised.value.response["Error"]["Code"] == "ValidationException"
    assert "multiple operations on one item" in raised.value.response["Error"]["Message"]
    assert _get(dynamodb, name, "same", rk) is None


def test_concurrent_transactions_on_the_same_item_never_both_win(dynamodb: Any) -> None:
    """Each round two threads, released together by a barrier, try to move the counter from n to
    n + 1 (condition n = :n) and put a row of their own in the same transaction. Exactly one may
    win; the loser is cancelled on the counter, and nothing fails inside moto (its whole-table
    copy raced the other thread's insert). The counter and an independent row count agree."""
    name = _create_table(dynamodb, range_key=True)
    for i in range(0, SEEDED_ROWS, 25):
        dynamodb.batch_write_item(
            RequestItems={
                name: [
                    {"PutRequest": {"Item": {**_key(f"seed-{j}", True), "payload": {"S": "x" * 200}}}}
                    for j in range(i, i + 25)
                ]
            }
        )
    _put(dynamodb, name, "counter", True, n={"N": "0"})
    rounds, contenders = 15, 2
    barrier = threading.Barrier(contenders, timeout=30)
    outcomes: list[list[str]] = [[] for _ in range(rounds)]
    lock = threading.Lock()

    def contend(who: int) -> None:
        for round_ in range(rounds):
            barrier.wait()
            try:
                dynamodb.transact_write_items(
                    TransactItems=[
                        {
                            "Update": {
                                "TableName": name,
                                "Key": _key("counter", True),
                                "UpdateExpression": "SET n = :next",
                                "ConditionExpression": "n = :n",
                                "ExpressionAttributeValues": {
                                    ":n": {"N": str(round_)},
                                    ":next": {"N": str(round_ + 1)},
                                },
                            }
                        },
                        {
                            "Put": {
                                "TableName": name,
                                "Item": {**_key(f"win-{round_}-{who}", True)},
                                "ConditionExpression": "attribute_not_exists(pk)",
                            }
                        },
                    ]
                )
                outcome = "won"
            except ClientError as error:
                code = error.response["Error"]["Code"]
                reasons = error.response.get("CancellationReasons", [])
                outcome = f"{code} {[r['Code'] for r in reasons]}"
            with lock:
                outcomes[round_].append(outcome)

    threads = [threading.Thread(target=contend, args=(who,)) for who in range(contenders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    lost = "TransactionCanceledException ['ConditionalCheckFailed', 'None']"
    assert [sorted(o) for o in outcomes] == [sorted([lost, "won"])] * rounds
    assert _get(dynamodb, name, "counter", True) == {**_key("counter", True), "n": {"N": str(rounds)}}
    rows = dynamodb.scan(TableName=name, Select="COUNT", ConsistentRead=True)["Count"]
    assert rows == SEEDED_ROWS + 1 + rounds
    dynamodb.delete_table(TableName=name)
