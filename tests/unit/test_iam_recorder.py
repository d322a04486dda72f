"""The recorder behind the e2e tier's IAM check: each call of a running function, and only those."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from botocore.session import get_session
from botocore.stub import Stubber

from localcloud.functions import running_function
from tests.support.iam_policy import Arns, Permission
from tests.support.iam_recorder import IamRecorder, install

TABLE_ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/"


@pytest.fixture
def recorder() -> Iterator[IamRecorder]:
    recorder = IamRecorder(Arns("us-east-1", "123456789012"))
    undo = install(recorder)
    yield recorder
    undo()


def _dynamodb() -> Any:
    """A client made after `install` (as the functions' are), answering from a stub, not the network."""
    return get_session().create_client(
        "dynamodb", region_name="us-east-1", aws_access_key_id="k", aws_secret_access_key="s"
    )


def _transact(client: Any) -> None:
    items = [
        {"Put": {"TableName": "Orders", "Item": {"pk": {"S": "1"}}}},
        {"ConditionCheck": {"TableName": "Accounts", "Key": {"pk": {"S": "1"}}, "ConditionExpression": "a = b"}},
    ]
    with Stubber(client) as stub:
        stub.add_response("transact_write_items", {})
        client.transact_write_items(TransactItems=items)


def test_a_running_functions_calls_are_recorded_with_what_they_need(recorder: IamRecorder) -> None:
    client = _dynamodb()
    token = running_function.set("TradeWorkerFunction")
    try:
        _transact(client)
    finally:
        running_function.reset(token)
    assert recorder.calls == 1
    assert recorder.functions == {"TradeWorkerFunction"}
    assert recorder.needed == {
        ("TradeWorkerFunction", Permission("dynamodb:PutItem", TABLE_ARN + "Orders")),
        ("TradeWorkerFunction", Permission("dynamodb:ConditionCheckItem", TABLE_ARN + "Accounts")),
    }


def test_calls_outside_any_invocation_are_not_a_functions(recorder: IamRecorder) -> None:
    _transact(_dynamodb())
    assert recorder.calls == 0


def test_a_functions_thread_pool_workers_call_on_its_behalf(recorder: IamRecorder) -> None:
    """The bot scheduler refreshes markets from a thread pool: those calls are its calls too."""
    client = _dynamodb()
    token = running_function.set("BotSchedulerFunction")
    try:
        with ThreadPoolExecutor(2) as pool:
            pool.submit(_transact, client).result()
    finally:
        running_function.reset(token)
    assert recorder.functions == {"BotSchedulerFunction"}


def test_undo_stops_watching_new_clients() -> None:
    recorder = IamRecorder(Arns("us-east-1", "123456789012"))
    install(recorder)()
    token = running_function.set("TradeWorkerFunction")
    try:
        _transact(_dynamodb())
    finally:
        running_function.reset(token)
    assert recorder.calls == 0
