"""Backtests through the API function and the backtest worker's SQS poller, on the local endpoint:
a job and a sweep run and report, bad requests are clear 4xx with nothing queued, tenants see only
their own backtests, sweeps and datasets."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

from tests.support.api import Caller, LambdaApi
from tests.support.aws import TestCloud
from tests.support.backtests import BacktestRig, backtest_body, key


@pytest.fixture(scope="module")
def backtests_handler() -> Any:
    from functions.backtests_api.app import lambda_handler

    return lambda_handler


@pytest.fixture
def api_a(backtests_handler: Any, tenant_a: Caller) -> LambdaApi:
    return LambdaApi(backtests_handler, tenant_a)


@pytest.fixture
def api_b(backtests_handler: Any, tenant_b: Caller) -> LambdaApi:
    return LambdaApi(backtests_handler, tenant_b)


@pytest.fixture
def rig(test_cloud: TestCloud) -> BacktestRig:
    rig = BacktestRig(test_cloud)
    rig.drain()  # whatever an earlier test left
    return rig


def _ms(text: str) -> int:
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


def _run(api: LambdaApi, rig: BacktestRig, body: dict[str, Any]) -> dict[str, Any]:
    reply = api.post("/backtests", body=body, headers=key())
    assert reply.status == 202, reply.text
    rig.drain()
    result = api.get(f"/backtests/{reply.json['id']}")
    assert result.status == 200, result.text
    answer: dict[str, Any] = result.json
    return answer


def test_a_backtest_runs_and_reports_metrics_trades_and_equity(api_a: LambdaApi, rig: BacktestRig) -> None:
    from shared.backtest.config import BacktestConfig
    from shared.backtest.engine import run_backtest
    from shared.backtest.synthetic import synthetic_candles
    from shared.strategies.indicator_params import SmaCrossParams
    from shared.strategies.trend import sma_cross
    from tests.support.backtests import backtest_body as body_of

    body = body_of(stop_loss_pct=3, take_profit_pct=6)
    reply = api_a.post("/backtests", body=body, headers=key())
    assert reply.status == 202, reply.text
    backtest_id = reply.json["id"]
    assert reply.json["status"] == "queued"
    assert api_a.get(f"/backtests/{backtest_id}").json["status"] == "queued"
    not_ready = api_a.get(f"/backtests/{backtest_id}/trades")
    assert (not_ready.status, not_ready.error_code) == (422, "results_not_ready")

    assert rig.drain() == 1
    done = api_a.get(f"/backtests/{backtest_id}").json
    assert done["status"] == "succeeded", done
    assert done["reason"] is None
    metrics = done["metrics"]

    # The worker ran the engine on the synthetic bars: the same figures as running it here.
    candles = synthetic_candles("BTC/USDT", "1h", _ms(body["start"]), _ms(body["end"]))
    from shared.strategies.candles import Candles as StrategyCandles

    view = StrategyCandles(candles.timestamps, candles.open, candles.high, candles.low, candles.close, candles.volume)
    target = sma_cross(view, SmaCrossParams(fast=5, slow=20, timeframe="1h")).positions
    config = BacktestConfig(
        starting_cash=10_000, fee_rate=0.001, slippage_rate=0.0005, stop_loss_pct=3, take_profit_pct=6
    )
    expected = run_backtest(candles, target, config, bar_ms=3_600_000)
    assert done["bars"] == len(candles)
    assert metrics["final_equity"] == pytest.approx(expected.final_equity, rel=1e-12)
    assert metrics["trades"] == len(expected.trades) > 3

    # Trades, a page at a time, in order, all of them.
    seen: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = api_a.get(f"/backtests/{backtest_id}/trades?limit=2" + (f"&cursor={cursor}" if cursor else "")).json
        assert len(page["items"]) <= 2
        seen.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == page["total"] == metrics["trades"]
    assert [t["entry_bar"] for t in seen] == expected.trades.entry_bar.tolist()
    assert {t["exit_reason"] for t in seen} <= {"signal", "stop_loss", "take_profit", "end_of_data"}
    assert sum(t["pnl"] for t in seen) == pytest.approx(metrics["final_equity"] - 10_000, rel=1e-9)

    # Equity: at most the points asked for, first and last bars included.
    curve = api_a.get(f"/backtests/{backtest_id}/equity?points=50").json
    assert curve["bars"] == len(candles)
    assert curve["points"] == len(curve["equity"]) == len(curve["timestamps"]) <= 50
    assert curve["timestamps"][0] == int(candles.timestamps[0])
    assert curve["timestamps"][-1] == int(candles.timestamps[-1])
    assert curve["equity"][-1] == pytest.approx(metrics["final_equity"])
    full = api_a.get(f"/backtests/{backtest_id}/equity?points=10000").json
    assert full["points"] == len(candles)

    listed = api_a.get("/backtests").json["items"]
    assert [item["id"] for item in listed] == [backtest_id]


@pytest.mark.parametrize(
    "strategy",
    [
        {"type": "grid", "params": {"lower_price": "1400", "upper_price": "1900", "levels": 11, "order_amount": "0.2"}},
        {"type": "dca", "params": {"order_notional": "500", "price_deviation_pct": "2", "take_profit_pct": "2"}},
    ],
    ids=["grid", "dca"],
)
def test_a_stepped_strategy_runs_through_the_worker_with_its_live_step(
    api_a: LambdaApi, rig: BacktestRig, strategy: dict[str, Any]
) -> None:
    from shared.backtest.config import BacktestConfig
    from shared.backtest.requests import validate_params
    from shared.backtest.stepped import run_stepped_backtest
    from shared.backtest.synthetic import synthetic_candles
    from shared.strategies.registry import STRATEGIES, SteppedStrategy

    body = backtest_body(strategy=strategy)
    done = _run(api_a, rig, body)
    assert done["status"] == "succeeded", done
    candles = synthetic_candles("BTC/USDT", "1h", _ms(body["start"]), _ms(body["end"]))
    stepped = STRATEGIES[strategy["type"]]
    assert isinstance(stepped, SteppedStrategy)
    params = validate_params(strategy["type"], strategy["params"], "1h")
    config = BacktestConfig(starting_cash=10_000, fee_rate=0.001, slippage_rate=0.0005)
    expected, _ = run_stepped_backtest(candles, stepped, params, config, bar_ms=3_600_000)
    assert done["metrics"]["final_equity"] == pytest.approx(expected.final_equity, rel=1e-12)
    assert done["metrics"]["trades"] == len(expected.trades) > 0
    pnl, cursor = [], ""
    while cursor is not None:
        page = api_a.get(f"/backtests/{done['id']}/trades?limit=100" + (f"&cursor={cursor}" if cursor else "")).json
        pnl += [t["pnl"] for t in page["items"]]
        cursor = page["next_cursor"]
    assert page["total"] == len(pnl) == len(expected.trades)
    assert sum(pnl) == pytest.approx(done["metrics"]["final_equity"] - 10_000)


def test_the_idempotency_key_is_required_and_replays(api_a: LambdaApi, rig: BacktestRig) -> None:
    missing = api_a.post("/backtests", body=backtest_body())
    assert (missing.status, missing.error_code) == (400, "idempotency_key_required")
    headers = key()
    first = api_a.post("/backtests", body=backtest_body(), headers=headers)
    again = api_a.post("/backtests", body=backtest_body(), headers=headers)
    assert first.status == again.status == 202
    assert first.json["id"] == again.json["id"]
    assert rig.queued() == 1
    other = api_a.post("/backtests", body=backtest_body(fee_rate=0.002), headers=headers)
    assert (other.status, other.error_code) == (422, "idempotency_key_reused")
    rig.drain()


TEN_YEARS_OF_MINUTES = {"timeframe": "1m", "start": "2014-01-01T00:00:00Z", "end": "2024-01-01T00:00:00Z"}


@pytest.mark.parametrize(
    ("overrides", "status", "says"),
    [
        ({"start": "2024-03-01T00:00:00Z", "end": "2024-01-01T00:00:00Z"}, 422, "end must be after start"),
        ({"strategy": {"type": "moon_shot", "params": {}}}, 422, "unknown strategy 'moon_shot'"),
        ({"strategy": {"type": "sma_cross", "params": {"fast": 50, "slow": 20}}}, 422, "fast must be smaller"),
        ({"strategy": {"type": "sma_cross", "params": {"fast": 5, "slow": 20, "lag": 1}}}, 422, "lag"),
        ({"strategy": {"type": "dca", "params": {"order_notional": "10"}}, "stop_loss_pct": 2}, 422, "sizes its own"),
        ({"strategy": {"type": "signal", "params": {}}}, 422, "nothing to replay"),
        (TEN_YEARS_OF_MINUTES, 422, "at most 1051200 bars per backtest"),
        ({"fee_rate": 0.9}, 422, "fee_rate"),
        ({"sizing": {"mode": "percent_of_equity", "percent": 150}}, 422, "percent"),
        ({"start": "2024-01-01T00:00:00"}, 422, "start"),
        ({"data_source": {"type": "exchange", "exchange": "mtgox"}}, 422, "no exchange 'mtgox'"),
        ({"data_source": {"type": "dataset", "dataset_id": "ds_" + "0" * 26}}, 404, "no such dataset"),
        ({"start": "2009-12-01T00:00:00Z"}, 422, "synthetic candles start on 2010-01-01"),
    ],
    ids=[
        "inverted-range",
        "unknown-strategy",
        "params-rule",
        "params-extra-field",
        "dca-with-stop",
        "signal",
        "too-many-bars",
        "fee",
        "sizing",
        "naive-time",
        "exchange",
        "unknown-dataset",
        "synthetic-before-2010",
    ],
)
def test_bad_requests_are_clear_and_queue_nothing(
    api_a: LambdaApi, rig: BacktestRig, overrides: dict[str, Any], status: int, says: str
) -> None:
    reply = api_a.post("/backtests", body=backtest_body(**overrides), headers=key())
    assert reply.status == status, reply.text
    assert says in reply.text
    assert rig.queued() == 0
    assert api_a.get("/backtests").json["items"] == []


def test_nan_is_refused(api_a: LambdaApi, rig: BacktestRig) -> None:
    """NaN is not JSON: the strict body parser refuses it (400) before validation."""
    raw = json.dumps(backtest_body(starting_cash=math.nan))
    assert "NaN" in raw
    reply = api_a.post("/backtests", raw_body=raw, headers=key())
    assert reply.status == 400 and reply.error_code == "malformed_json", reply.text
    sweep = backtest_body(grid={"fast": [5, math.nan]})
    sweep["strategy"]["params"] = {"slow": 20}
    reply = api_a.post("/backtests/sweeps", raw_body=json.dumps(sweep), headers=key())
    assert reply.status == 400 and reply.error_code == "malformed_json", reply.text
    assert rig.queued() == 0


def _sweep_body(grid: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    body = backtest_body(**overrides)
    body["strategy"] = {"type": "sma_cross", "params": {}}
    body["grid"] = grid
    return body


def test_a_huge_grid_is_refused_with_the_cap(api_a: LambdaApi, rig: BacktestRig) -> None:
    grid = {"fast": {"from": 2, "to": 400, "step": 1}, "slow": {"from": 10, "to": 1000, "step": 1}}
    reply = api_a.post("/backtests/sweeps", body=_sweep_body(grid), headers=key())
    assert reply.status == 422, reply.text
    assert "399 * 991" not in reply.text and "395409 combinations; at most 1000 per sweep" in reply.text
    unknown = api_a.post("/backtests/sweeps", body=_sweep_body({"window": [1, 2]}), headers=key())
    assert unknown.status == 422 and "not a tunable parameter" in unknown.text
    every_one_invalid = api_a.post(
        "/backtests/sweeps", body=_sweep_body({"fast": [30], "slow": [10, 20]}), headers=key()
    )
    assert (every_one_invalid.status, every_one_invalid.error_code) == (422, "empty_sweep")
    assert rig.queued() == 0


def test_a_grid_sweep_runs_each_level_count(api_a: LambdaApi, rig: BacktestRig) -> None:
    body = backtest_body(
        strategy={"type": "grid", "params": {"lower_price": "1400", "upper_price": "1900", "order_amount": "0.2"}}
    )
    body["grid"] = {"levels": [5, 11, 21]}
    reply = api_a.post("/backtests/sweeps", body=body, headers=key())
    assert reply.status == 202, reply.text
    assert (reply.json["total"], reply.json["skipped"]) == (3, 0)
    assert rig.drain() == 3
    done = api_a.get(f"/backtests/sweeps/{reply.json['id']}?rank_by=trades").json
    assert (done["status"], done["done"], done["failed"]) == ("completed", 3, 0)
    ranked = [(entry["params"]["levels"], entry["value"]) for entry in done["ranking"]]
    assert [levels for levels, _ in ranked] == [21, 11, 5]  # more levels, more round trips on one path
    assert all(trades > 0 for _, trades in ranked)


def test_a_sweep_runs_every_valid_combination_and_ranks_them(api_a: LambdaApi, rig: BacktestRig) -> None:
    grid = {"fast": {"from": 5, "to": 20, "step": 5}, "slow": [10, 20, 40]}
    reply = api_a.post("/backtests/sweeps", body=_sweep_body(grid), headers=key())
    assert reply.status == 202, reply.text
    sweep = reply.json
    # 4 x 3 = 12 combinations; fast >= slow refused: (10,10), (15,10), (20,10), (20,20)
    assert (sweep["total"], sweep["skipped"]) == (8, 4)
    assert rig.queued() == 8
    before = api_a.get(f"/backtests/sweeps/{sweep['id']}").json
    assert (before["status"], before["done"], before["total"]) == ("running", 0, 8)

    assert rig.drain() == 8
    after = api_a.get(f"/backtests/sweeps/{sweep['id']}?rank_by=total_return").json
    assert (after["status"], after["done"], after["failed"]) == ("completed", 8, 0)
    values = [entry["value"] for entry in after["ranking"]]
    assert len(values) == 8 and all(v is not None for v in values)
    assert values == sorted(values, reverse=True)
    assert {(e["params"]["fast"], e["params"]["slow"]) for e in after["ranking"]} == {
        (5, 10),
        (5, 20),
        (5, 40),
        (10, 20),
        (10, 40),
        (15, 20),
        (15, 40),
        (20, 40),
    }
    for entry in after["ranking"]:
        member = api_a.get(f"/backtests/{entry['id']}").json
        assert member["sweep_id"] == sweep["id"]
        assert member["metrics"]["total_return"] == entry["value"]
    drawdowns = api_a.get(f"/backtests/sweeps/{sweep['id']}?rank_by=max_drawdown&limit=3").json["ranking"]
    assert len(drawdowns) == 3
    assert [e["value"] for e in drawdowns] == sorted(e["value"] for e in drawdowns)


def test_a_redelivered_job_is_counted_once(api_a: LambdaApi, rig: BacktestRig, tenant_a: Caller) -> None:
    reply = api_a.post("/backtests/sweeps", body=_sweep_body({"fast": [5, 10], "slow": [20]}), headers=key())
    sweep = reply.json
    rig.drain()
    from shared.backtest.jobs import BacktestJob, enqueue

    enqueue([BacktestJob(tenant_id=tenant_a.tenant_id, backtest_id=sweep["backtest_ids"][0])] * 2)
    assert rig.drain() == 2
    after = api_a.get(f"/backtests/sweeps/{sweep['id']}").json
    assert (after["done"], after["total"]) == (2, 2)


def test_a_job_whose_data_is_gone_fails_with_the_reason(api_a: LambdaApi, rig: BacktestRig) -> None:
    dataset = _upload(api_a, _csv(_hourly(48))).json
    body = backtest_body(
        data_source={"type": "dataset", "dataset_id": dataset["id"]},
        start="2024-01-01T00:00:00Z",
        end="2024-01-03T00:00:00Z",
    )
    queued = api_a.post("/backtests", body=body, headers=key()).json
    assert api_a.delete(f"/market-data/{dataset['id']}").status == 204
    rig.drain()
    failed = api_a.get(f"/backtests/{queued['id']}").json
    assert (failed["status"], failed["reason"]) == ("failed", "the dataset was deleted before the backtest ran")


def test_tenants_see_only_their_own(api_a: LambdaApi, api_b: LambdaApi, rig: BacktestRig) -> None:
    dataset = _upload(api_a, _csv(_hourly(48))).json
    backtest = api_a.post("/backtests", body=backtest_body(), headers=key()).json
    sweep = api_a.post("/backtests/sweeps", body=_sweep_body({"fast": [5], "slow": [20]}), headers=key()).json
    rig.drain()
    for path in (
        f"/backtests/{backtest['id']}",
        f"/backtests/{backtest['id']}/trades",
        f"/backtests/{backtest['id']}/equity",
        f"/backtests/sweeps/{sweep['id']}",
        f"/backtests/{sweep['backtest_ids'][0]}",
        f"/market-data/{dataset['id']}",
    ):
        assert api_a.get(path).status == 200, path
        assert api_b.get(path).status == 404, path
    assert api_b.delete(f"/market-data/{dataset['id']}").status == 404
    assert api_b.get("/backtests").json["items"] == []
    assert api_b.get("/market-data").json["items"] == []
    borrowed = backtest_body(data_source={"type": "dataset", "dataset_id": dataset["id"]})
    assert api_b.post("/backtests", body=borrowed, headers=key()).status == 404
    assert api_a.get(f"/market-data/{dataset['id']}").status == 200


# ---------------------------------------------------------------- market data


def _hourly(count: int, start: str = "2024-01-01T00:00:00Z", skip: frozenset[int] = frozenset()) -> list[str]:
    """`count` valid hourly bars as CSV lines (ms timestamps), leaving out the indexes in `skip`."""
    first = _ms(start)
    lines = []
    price = 100.0
    for i in range(count):
        if i in skip:
            continue
        close = price * (1.01 if i % 7 < 4 else 0.99)
        lines.append(
            f"{first + i * 3_600_000},{price},{max(price, close) * 1.002},{min(price, close) * 0.998},{close},5"
        )
        price = close
    return lines


def _csv(lines: list[str], header: bool = True) -> str:
    return ("timestamp,open,high,low,close,volume\n" if header else "") + "\n".join(lines) + "\n"


def _upload(api: LambdaApi, text: str, query: str = "name=test&symbol=BTC/USDT") -> Any:
    return api.post(f"/market-data?{query}", raw_body=text, headers={"Content-Type": "text/csv"})


def test_an_uploaded_dataset_is_listed_backtested_and_deleted(api_a: LambdaApi, rig: BacktestRig) -> None:
    lines = _hourly(200, skip=frozenset({50, 51, 120}))
    iso = lines[0].split(",", 1)  # the first bar's time in ISO-8601: both forms are accepted
    lines[0] = datetime.fromtimestamp(int(iso[0]) / 1000, tz=UTC).isoformat().replace("+00:00", "Z") + "," + iso[1]
    reply = _upload(api_a, _csv(lines))
    assert reply.status == 201, reply.text
    dataset = reply.json
    assert (dataset["timeframe"], dataset["bars"], dataset["gap_count"]) == ("1h", 197, 2)
    assert [(g["line"], g["missing_bars"]) for g in dataset["gaps"]] == [
        (52, 2),
        (120, 1),
    ]  # header is line 1, bar i on line i + 2 before a gap
    assert dataset["first_ms"] == _ms("2024-01-01T00:00:00Z")
    assert [d["id"] for d in api_a.get("/market-data").json["items"]] == [dataset["id"]]

    body = backtest_body(
        data_source={"type": "dataset", "dataset_id": dataset["id"]},
        start="2024-01-02T00:00:00Z",
        end="2024-01-09T00:00:00Z",
    )
    result = _run(api_a, rig, body)
    assert result["status"] == "succeeded", result
    assert result["bars"] == 7 * 24 - 3  # the range's bars, gaps not filled

    wrong = api_a.post("/backtests", body={**body, "timeframe": "4h"}, headers=key())
    assert wrong.status == 422 and "holds BTC/USDT 1h bars" in wrong.text
    outside = api_a.post(
        "/backtests", body={**body, "start": "2025-01-01T00:00:00Z", "end": "2025-02-01T00:00:00Z"}, headers=key()
    )
    assert outside.status == 422 and "no bars in the requested range" in outside.text

    assert api_a.delete(f"/market-data/{dataset['id']}").status == 204
    assert api_a.get(f"/market-data/{dataset['id']}").status == 404
    assert api_a.get("/market-data").json["items"] == []


def test_csv_errors_name_their_lines(api_a: LambdaApi) -> None:
    lines = _hourly(10)
    t3 = lines[3].split(",")[0]
    lines[4] = f"{t3},100,101,99,100,1"  # line 6: duplicates line 5's timestamp
    lines[5] = lines[5].split(",")[0] + ",100,99,98,100.5,1"  # line 7: high below the close
    lines[6] = lines[6].split(",")[0] + ",100,101,100.5,100.2,1"  # line 8: low above the open
    lines[7] = lines[7].split(",")[0] + ",nan,101,99,100,1"  # line 9: NaN
    lines[8] = lines[8].split(",")[0] + ",-1,101,99,100,1"  # line 10: negative
    lines[9] = lines[2]  # line 11: earlier than line 8's bar
    reply = _upload(api_a, _csv(lines))
    assert (reply.status, reply.error_code) == (422, "invalid_csv")
    errors = {(e["line"], e["message"].split(" ")[0]) for e in reply.json["error"]["details"]["errors"]}
    assert (6, "timestamp") in errors and "duplicates the one on line 5" in reply.text
    assert (7, "high") in errors
    assert (8, "low") in errors
    assert (9, "open") in errors
    assert (10, "open") in errors
    assert (11, "timestamp") in errors and "is earlier than the one on line 8" in reply.text
    assert reply.json["error"]["message"].startswith("the CSV has 6 problems; the first is on line 6")

    seconds = _upload(api_a, _csv(["1704067200,1,1,1,1,1"]))
    assert seconds.status == 422 and "line" in seconds.text and "not seconds" in seconds.text
    assert api_a.get("/market-data").json["items"] == []


def test_a_presigned_upload_is_registered_once_and_only_by_its_tenant(
    api_a: LambdaApi, api_b: LambdaApi, rig: BacktestRig
) -> None:
    import requests

    start = api_a.post("/market-data/uploads")
    assert start.status == 201, start.text
    upload = start.json
    assert upload["max_bytes"] == 64 * 1024 * 1024
    text = _csv(_hourly(300))
    posted = requests.post(
        upload["url"], data=upload["fields"], files={"file": ("bars.csv", text.encode())}, timeout=10
    )
    assert posted.status_code in (200, 201, 204), posted.text
    meta = {"name": "big", "symbol": "ETH/USDT"}
    assert api_b.post(f"/market-data/uploads/{upload['upload_id']}/complete", body=meta).status == 404
    done = api_a.post(f"/market-data/uploads/{upload['upload_id']}/complete", body=meta)
    assert done.status == 201, done.text
    assert (done.json["bars"], done.json["symbol"], done.json["timeframe"]) == (300, "ETH/USDT", "1h")
    again = api_a.post(f"/market-data/uploads/{upload['upload_id']}/complete", body=meta)
    assert again.status == 404
    s3 = boto3.client("s3")
    bucket = upload["url"].rstrip("/").rsplit("/", 1)[-1]
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="uploads/").get("Contents", [])]
    assert not any(upload["upload_id"] in k for k in keys)


# ---------------------------------------------------------------- worker failures


def test_a_job_that_never_finishes_is_failed_instead_of_rerun(
    api_a: LambdaApi, rig: BacktestRig, tenant_a: Caller
) -> None:
    from shared.backtest import records

    sweep = api_a.post("/backtests/sweeps", body=_sweep_body({"fast": [5, 10], "slow": [20]}), headers=key()).json
    crashed = records.get_backtest(tenant_a.tenant_id, sweep["backtest_ids"][0])
    assert crashed is not None
    crashed.update(actions=[records.BacktestRecord.status.set("running"), records.BacktestRecord.attempts.set(3)])
    rig.drain()
    member = api_a.get(f"/backtests/{crashed.item_id}").json
    assert member["status"] == "failed"
    assert member["reason"] == "the backtest did not finish in 3 attempts (out of time or memory)"
    progress = api_a.get(f"/backtests/sweeps/{sweep['id']}").json
    assert (progress["status"], progress["done"], progress["failed"]) == ("completed", 2, 1)
    assert progress["ranking"][-1]["id"] == crashed.item_id and progress["ranking"][-1]["value"] is None


def test_an_unexpected_error_is_retried_then_recorded_on_the_last_delivery(
    api_a: LambdaApi, tenant_a: Caller, rig: BacktestRig, monkeypatch: pytest.MonkeyPatch
) -> None:
    from shared.backtest import storage
    from shared.backtest.jobs import BacktestJob
    from shared.backtest.runner import LAST_RECEIVE, run_job

    queued = api_a.post("/backtests", body=backtest_body(), headers=key()).json
    assert rig.discard() == 1

    def broken(*_: Any) -> None:
        raise RuntimeError("S3 is having a day")

    monkeypatch.setattr(storage, "write_results", broken)
    job = BacktestJob(tenant_id=tenant_a.tenant_id, backtest_id=queued["id"])
    with pytest.raises(RuntimeError):
        run_job(job, receive_count=1)
    assert api_a.get(f"/backtests/{queued['id']}").json["status"] == "running"
    assert run_job(job, receive_count=LAST_RECEIVE) == "failed"
    failed = api_a.get(f"/backtests/{queued['id']}").json
    assert (failed["status"], failed["reason"]) == ("failed", "internal error")


class _RefusingQueue:
    """An SQS client whose SendMessageBatch accepts the first `accept` entries it is ever sent."""

    def __init__(self, real: Any, accept: int) -> None:
        self.real, self.accept = real, accept

    def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, str]]) -> dict[str, Any]:  # noqa: N803
        taken, refused = Entries[: self.accept], Entries[self.accept :]
        self.accept -= len(taken)
        if taken:
            self.real.send_message_batch(QueueUrl=QueueUrl, Entries=taken)
        return {"Failed": [{"Id": e["Id"], "Code": "ServiceUnavailable", "SenderFault": False} for e in refused]}


def test_jobs_the_queue_refuses_are_failed_and_counted(
    api_a: LambdaApi, rig: BacktestRig, monkeypatch: pytest.MonkeyPatch
) -> None:
    from shared.backtest import jobs

    queue = _RefusingQueue(boto3.client("sqs"), accept=12)
    monkeypatch.setattr(jobs, "_sqs", lambda: queue)
    grid = {"fast": [5, 6, 7, 8, 9], "slow": [20, 30, 40]}
    reply = api_a.post("/backtests/sweeps", body=_sweep_body(grid), headers=key())
    assert (reply.status, reply.error_code) == (503, "queue_unavailable"), reply.text
    assert "refused 3 job(s)" in reply.text
    assert rig.drain() == 12
    single = api_a.post("/backtests", body=backtest_body(), headers=key())
    assert (single.status, single.error_code) == (503, "queue_unavailable")
    monkeypatch.undo()

    sweeps = [b for b in api_a.get("/backtests").json["items"] if b["sweep_id"]]
    assert len(sweeps) == 15, "the refused single backtest leaves no row"
    progress = api_a.get(f"/backtests/sweeps/{sweeps[0]['sweep_id']}").json
    assert (progress["status"], progress["done"], progress["failed"]) == ("completed", 15, 3)
    assert sum(1 for b in sweeps if b["reason"] == "not queued") == 3


def test_the_worker_reports_only_the_bad_record_of_a_batch(
    api_a: LambdaApi, tenant_a: Caller, rig: BacktestRig
) -> None:
    from localcloud.functions import FakeLambdaContext
    from tests.support.api import load_event

    queued = api_a.post("/backtests", body=backtest_body(), headers=key()).json
    assert rig.discard() == 1
    event = load_event("backtest_worker_job.json")
    good = event["Records"][0]
    good["body"] = json.dumps({"tenant_id": tenant_a.tenant_id, "backtest_id": queued["id"]})
    bad = {**good, "messageId": "not-a-job", "body": '{"tenant_id": "x"}'}
    event["Records"] = [bad, good]
    response = rig.worker.function.handler()(event, FakeLambdaContext("backtest-worker", 1769, 300))
    assert response == {"batchItemFailures": [{"itemIdentifier": "not-a-job"}]}
    assert api_a.get(f"/backtests/{queued['id']}").json["status"] == "succeeded"


def test_the_api_function_does_not_load_numpy_at_cold_start() -> None:
    import os
    import subprocess
    import sys

    probe = "import sys, functions.backtests_api.app; print('numpy' in sys.modules)"
    env = {**os.environ, "POWERTOOLS_TRACE_DISABLED": "true"}
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, env=env, timeout=120
    )
    assert out.stdout.strip().splitlines()[-1] == "False"
