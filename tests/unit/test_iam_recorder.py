"""The recorder behind the e2e tier's IAM check: each call of a running function, and only those."""

from __future__ import annotations

import json
import types
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import pytest
from botocore.session import get_session
from botocore.stub import Stubber

from localcloud.functions import FunctionSpec, running_function
from localcloud.template import ROOT
from tests.support.iam_policy import Arns, Permission
from tests.support.iam_recorder import FunctionsOnStack, IamRecorder, install, unchecked
from tests.support.localcloud_iam import found_by, merge

TABLE_ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/"


# Not the session's moto endpoint (AWS_ENDPOINT_URL): these clients answer from stubs, and the
# session's own recorder, which watches that endpoint only, leaves them alone.
STUBBED = "https://stubbed.invalid"
ARNS = Arns("us-east-1", "123456789012")


@pytest.fixture
def recorder() -> Iterator[IamRecorder]:
    recorder = IamRecorder(ARNS)
    undo = install(recorder)
    yield recorder
    undo()


def _dynamodb() -> Any:
    """A client made after `install` (as the functions' are), answering from a stub, not the network."""
    return get_session().create_client(
        "dynamodb", endpoint_url=STUBBED, region_name="us-east-1", aws_access_key_id="k", aws_secret_access_key="s"
    )


def _transact(client: Any) -> None:
    items = [
        {"Put": {"TableName": "Orders", "Item": {"pk": {"S": "1"}}}},
        {"ConditionCheck": {"TableName": "Accounts", "Key": {"pk": {"S": "1"}}, "ConditionExpression": "a = b"}},
    ]
    with Stubber(client) as stub:
        stub.add_response("transact_write_items", {})
        client.transact_write_items(TransactItems=items)


@contextmanager
def _running(logical_id: str) -> Iterator[None]:
    """As if inside an invocation of `logical_id` (what FunctionSpec.invoke sets)."""
    token = running_function.set(logical_id)
    try:
        yield
    finally:
        running_function.reset(token)


def _transact_as_trade_worker(client: Any) -> None:
    with _running("TradeWorkerFunction"):
        _transact(client)


def test_a_running_functions_calls_are_recorded(recorder: IamRecorder) -> None:
    _transact_as_trade_worker(_dynamodb())
    assert recorder.calls == 1
    assert recorder.functions == {"TradeWorkerFunction"}
    assert set(recorder.needed) == {
        ("TradeWorkerFunction", Permission("dynamodb:PutItem", TABLE_ARN + "Orders")),
        ("TradeWorkerFunction", Permission("dynamodb:ConditionCheckItem", TABLE_ARN + "Accounts")),
    }
    sites = set(recorder.needed.values())
    assert sites == {
        "test_iam_recorder._transact < test_iam_recorder._transact_as_trade_worker < test_iam_recorder."
        + test_a_running_functions_calls_are_recorded.__name__
    }


def test_calls_outside_any_invocation_are_not_a_functions(recorder: IamRecorder) -> None:
    _transact(_dynamodb())
    assert recorder.calls == 0


def test_a_functions_thread_pool_workers_call_on_its_behalf(recorder: IamRecorder) -> None:
    """The bot scheduler refreshes markets from a thread pool: those calls are its calls too."""
    client = _dynamodb()
    with _running("BotSchedulerFunction"), ThreadPoolExecutor(2) as pool:
        pool.submit(_transact, client).result()
    assert recorder.functions == {"BotSchedulerFunction"}


def test_undo_stops_watching_new_clients() -> None:
    recorder = IamRecorder(ARNS)
    install(recorder)()
    _transact_as_trade_worker(_dynamodb())
    assert recorder.calls == 0


def test_a_presigned_post_is_recorded_as_the_upload_it_signs(recorder: IamRecorder) -> None:
    """botocore builds a presigned POST with CreateBucket's model; S3 authorizes the upload as PutObject."""
    s3 = get_session().create_client(
        "s3", endpoint_url=STUBBED, region_name="us-east-1", aws_access_key_id="k", aws_secret_access_key="s"
    )
    with _running("BacktestsApiFunction"):
        post = s3.generate_presigned_post(Bucket="data", Key="uploads/t/1.csv", ExpiresIn=60)
    assert post["fields"]["key"] == "uploads/t/1.csv"
    assert set(recorder.needed) == {
        ("BacktestsApiFunction", Permission("s3:PutObject", "arn:aws:s3:::data/uploads/t/1.csv"))
    }


def test_calls_of_a_test_marked_unchecked_are_not_recorded(recorder: IamRecorder) -> None:
    client = _dynamodb()
    off = unchecked.set("points at a missing table")
    try:
        _transact_as_trade_worker(client)
    finally:
        unchecked.reset(off)
    assert recorder.calls == 0


def test_a_handler_called_directly_is_found_on_the_stack() -> None:
    """The integration tier calls `lambda_handler` itself: the function is whose package is calling."""
    spec = FunctionSpec("OrdersApiFunction", "orders", "functions.orders_api.app", "lambda_handler", 10, 512, {}, {})
    on_stack = FunctionsOnStack({"OrdersApiFunction": spec})
    assert on_stack() is None

    def ask() -> str | None:
        return on_stack()

    code = ask.__code__.replace(co_filename=str(ROOT / "functions" / "orders_api" / "app.py"))
    as_if_in_the_handler = types.FunctionType(code, ask.__globals__, closure=ask.__closure__)
    assert as_if_in_the_handler() == "OrdersApiFunction"


def test_a_recorder_of_one_endpoint_ignores_clients_of_others() -> None:
    """The session watches its moto endpoint only: this module's stubbed clients (made while the
    session's recorder is installed too) must not count as the functions' calls."""
    recorder = IamRecorder(ARNS, endpoint="http://127.0.0.1:1")
    undo = install(recorder)
    try:
        _transact_as_trade_worker(_dynamodb())
    finally:
        undo()
    assert recorder.calls == 0 and recorder.needed == {}


def test_what_an_instance_process_found_merges_unchanged(recorder: IamRecorder) -> None:
    """The API's functions run in instance processes, whose findings travel as JSON
    (tests.support.localcloud_iam): every permission, its condition keys and its call site
    arrive as recorded."""
    _transact_as_trade_worker(_dynamodb())
    recorder.record("BacktestsApiFunction", "s3", "ListObjectsV2", {"Bucket": "data", "Prefix": "history/x"})
    merged = IamRecorder(ARNS)
    merge(merged, json.loads(json.dumps(found_by(recorder))))
    assert merged.needed == recorder.needed
    assert any(permission.context for _, permission in merged.needed)  # condition keys survived
    assert (merged.calls, merged.functions) == (recorder.calls, recorder.functions)
