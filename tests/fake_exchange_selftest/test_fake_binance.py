"""Self-tests of the fake Binance server, driven by the real ccxt binance client.

They pin down two things the platform's tests rely on: that ccxt works against the fake
unchanged (request building, signing, parsing), and which ccxt exception each injected fault
becomes, so the platform's error handling can be tested against the exceptions it will really see.
"""

from __future__ import annotations

import itertools
import threading
from decimal import Decimal
from typing import Any

import ccxt
import pytest

from tests.support.fake_exchange import Endpoint, FakeBinance, Fault, FaultKind, make_ccxt_binance
from tests.support.fake_exchange.fixtures import fake_binance_fixture

fake_binance = fake_binance_fixture()

SYMBOL = "BTC/USDT"


@pytest.fixture
def exchange(fake_binance: FakeBinance) -> ccxt.binance:
    return make_ccxt_binance(fake_binance)


@pytest.fixture
def quick_exchange(fake_binance: FakeBinance) -> ccxt.binance:
    """A client with a 300 ms timeout, for the timeout faults."""
    return make_ccxt_binance(fake_binance, timeout_ms=300)


def _limit_buy(exchange: ccxt.binance, client_id: str, price: float = 25000.0, amount: float = 0.01) -> dict[str, Any]:
    order: dict[str, Any] = exchange.create_order(
        SYMBOL, "limit", "buy", amount, price, params={"newClientOrderId": client_id}
    )
    return order


# -- requests as ccxt sends them -------------------------------------------------------------


def test_limit_order_request_carries_client_id_precision_and_valid_signature(
    fake_binance: FakeBinance, exchange: ccxt.binance
) -> None:
    order = exchange.create_order(
        SYMBOL, "limit", "buy", 0.123456789, 25000.123, params={"newClientOrderId": "co123limit"}
    )

    [request] = fake_binance.order_requests()
    params = request.params
    assert request.method == "POST"
    assert request.query == {}, "ccxt sends POST parameters in the body"
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert request.headers["X-MBX-APIKEY"] == fake_binance.api_key
    assert request.api_key_valid is True
    assert request.signature_valid is True
    assert params["newClientOrderId"] == "co123limit"
    assert "clientOrderId" not in params
    assert params["quantity"] == "0.12345", "amount is truncated to the 0.00001 step"
    assert params["price"] == "25000.12", "price is rounded to the 0.01 tick"
    assert (params["symbol"], params["side"], params["type"]) == ("BTCUSDT", "BUY", "LIMIT")
    assert params["timeInForce"] == "GTC"
    assert params["newOrderRespType"] == "FULL"
    assert params["recvWindow"] == "10000", "ccxt always sends its own recvWindow of 10 s"
    assert int(params["timestamp"]) == pytest.approx(fake_binance.now_ms(), abs=5000)
    assert request.status == 200
    assert request.fault is None

    assert order["id"] == str(fake_binance.orders[0].order_id)
    assert order["clientOrderId"] == "co123limit"
    assert order["status"] == "open"
    assert order["amount"] == pytest.approx(0.12345)
    assert order["price"] == pytest.approx(25000.12)
    assert order["filled"] == 0
    [server_order] = fake_binance.orders_with_client_id("co123limit")
    assert server_order.status == "NEW"
    assert fake_binance.balance("USDT") == (
        Decimal(10000) - Decimal("0.12345") * Decimal("25000.12"),
        Decimal("0.12345") * Decimal("25000.12"),
    )


def test_ccxt_client_order_id_param_is_sent_as_new_client_order_id(
    fake_binance: FakeBinance, exchange: ccxt.binance
) -> None:
    order = exchange.create_order(SYMBOL, "limit", "sell", 0.5, 70000, params={"clientOrderId": "co123alias"})

    [request] = fake_binance.order_requests()
    assert request.params["newClientOrderId"] == "co123alias"
    assert "clientOrderId" not in request.params
    assert order["clientOrderId"] == "co123alias"


def test_ccxt_generates_a_broker_client_order_id_when_none_is_given(
    fake_binance: FakeBinance, exchange: ccxt.binance
) -> None:
    order = exchange.create_order(SYMBOL, "limit", "buy", 0.01, 25000)

    [request] = fake_binance.order_requests()
    assert request.params["newClientOrderId"].startswith("x-TKT5PX2F")
    assert order["clientOrderId"] == request.params["newClientOrderId"]


def test_market_order_fills_at_the_configured_price(fake_binance: FakeBinance, exchange: ccxt.binance) -> None:
    fake_binance.set_price(SYMBOL, "61000")

    order = exchange.create_order(SYMBOL, "market", "buy", 0.01, params={"newClientOrderId": "co123market"})

    [request] = fake_binance.order_requests()
    assert request.params["type"] == "MARKET"
    assert request.params["quantity"] == "0.01"
    assert "price" not in request.params
    assert order["status"] == "closed"
    assert order["clientOrderId"] == "co123market"
    assert order["filled"] == pytest.approx(0.01)
    assert order["average"] == pytest.approx(61000)
    assert order["cost"] == pytest.approx(610)
    assert order["fee"] == {"currency": "BTC", "cost": pytest.approx(0.00001)}
    assert order["info"]["status"] == "FILLED"
    assert order["info"]["executedQty"] == "0.01000000"
    assert order["info"]["cummulativeQuoteQty"] == "610.00000000"
    assert order["info"]["fills"] == [
        {
            "price": "61000.00000000",
            "qty": "0.01000000",
            "commission": "0.00001000",
            "commissionAsset": "BTC",
            "tradeId": order["info"]["fills"][0]["tradeId"],
        }
    ]
    assert fake_binance.balance("USDT") == (Decimal(9390), Decimal(0))
    assert fake_binance.balance("BTC") == (Decimal("1.00999"), Decimal(0))


def test_market_order_with_a_price_is_sent_as_quote_order_qty(
    fake_binance: FakeBinance, exchange: ccxt.binance
) -> None:
    """ccxt surprise: a market BUY given a price spends amount*price of quote (quoteOrderQty)."""
    order = exchange.create_order(SYMBOL, "market", "buy", 0.01, 60000)

    [request] = fake_binance.order_requests()
    assert request.params["quoteOrderQty"] == "600"
    assert "quantity" not in request.params
    assert order["filled"] == pytest.approx(0.01)


def test_market_sell_pays_the_fee_in_quote(fake_binance: FakeBinance, exchange: ccxt.binance) -> None:
    order = exchange.create_order(SYMBOL, "market", "sell", 0.5)

    assert order["status"] == "closed"
    assert order["fee"]["currency"] == "USDT"
    assert order["fee"]["cost"] == pytest.approx(30)
    assert fake_binance.balance("BTC") == (Decimal("0.5"), Decimal(0))
    assert fake_binance.balance("USDT") == (Decimal(10000 + 30000 - 30), Decimal(0))


def test_marketable_limit_order_fills_at_the_market_price_and_refunds_the_difference(
    fake_binance: FakeBinance, exchange: ccxt.binance
) -> None:
    order = _limit_buy(exchange, "co123cross", price=65000.0, amount=0.1)

    assert order["status"] == "closed"
    assert order["average"] == pytest.approx(60000)
    assert fake_binance.balance("USDT") == (Decimal(4000), Decimal(0))


# -- lookups, fills, cancels -------------------------------------------------------------------


def test_fetch_order_by_id_and_by_client_id(fake_binance: FakeBinance, exchange: ccxt.binance) -> None:
    created = _limit_buy(exchange, "co123fetch")
    fake_binance.clear_requests()

    by_id = exchange.fetch_order(created["id"], SYMBOL)
    by_client_id = exchange.fetch_order(None, SYMBOL, params={"clientOrderId": "co123fetch"})
    by_orig_client_id = exchange.fetch_order("ignored", SYMBOL, params={"origClientOrderId": "co123fetch"})

    for order in (by_id, by_client_id, by_orig_client_id):
        assert order["id"] == created["id"]
        assert order["clientOrderId"] == "co123fetch"
        assert order["status"] == "open"
        assert order["symbol"] == SYMBOL
    first, second, third = fake_binance.requests_to(Endpoint.FETCH_ORDER)
    assert first.params["orderId"] == created["id"]
    assert "origClientOrderId" not in first.params
    for request in (second, third):
        assert request.params["origClientOrderId"] == "co123fetch"
        assert "orderId" not in request.params, "with a client id ccxt drops the id argument"
        assert request.signature_valid is True


def test_fill_order_partially_then_fully(fake_binance: FakeBinance, exchange: ccxt.binance) -> None:
    created = _limit_buy(exchange, "co123fill", price=25000.0, amount=0.02)

    partial = fake_binance.fill_order("co123fill", qty="0.005")
    assert partial.status == "PARTIALLY_FILLED"
    fetched = exchange.fetch_order(created["id"], SYMBOL)
    assert fetched["status"] == "open"
    assert fetched["filled"] == pytest.approx(0.005)
    assert fetched["remaining"] == pytest.approx(0.015)

    fake_binance.fill_order(int(created["id"]))
    fetched = exchange.fetch_order(created["id"], SYMBOL)
    assert fetched["status"] == "closed"
    assert fetched["filled"] == pytest.approx(0.02)
    assert fetched["cost"] == pytest.approx(500)
    assert fake_binance.balance("USDT") == (Decimal(9500), Decimal(0))
    assert fake_binance.balance("BTC") == (Decimal("1.01998"), Decimal(0))
    assert exchange.fetch_open_orders(SYMBOL) == []
    trades = exchange.fetch_my_trades(SYMBOL)
    assert [t["order"] for t in trades] == [created["id"], created["id"]]
    assert sum(t["amount"] for t in trades) == pytest.approx(0.02)


def test_cancel_order_releases_funds_and_reports_the_cancel_request_client_id(
    fake_binance: FakeBinance, exchange: ccxt.binance
) -> None:
    created = _limit_buy(exchange, "co123cancel", price=25000.0, amount=0.02)

    canceled = exchange.cancel_order(created["id"], SYMBOL)

    assert canceled["status"] == "canceled"
    assert canceled["id"] == created["id"]
    # Binance answers a cancel with the cancel request's own client id; the order's is "orig".
    assert canceled["clientOrderId"] != "co123cancel"
    assert canceled["info"]["origClientOrderId"] == "co123cancel"
    assert fake_binance.balance("USDT") == (Decimal(10000), Decimal(0))
    assert exchange.fetch_order(created["id"], SYMBOL)["status"] == "canceled"
    [request] = fake_binance.requests_to(Endpoint.CANCEL_ORDER)
    assert request.method == "DELETE"
    assert request.body == {}, "ccxt sends DELETE parameters in the query string"
    assert request.signature_valid is True

    with pytest.raises(ccxt.OrderNotFound, match="-2011"):
        exchange.cancel_order(created["id"], SYMBOL)


def test_cancel_by_client_id(fake_binance: FakeBinance, exchange: ccxt.binance) -> None:
    _limit_buy(exchange, "co123cancelcid")

    canceled = exchange.cancel_order(None, SYMBOL, params={"clientOrderId": "co123cancelcid"})

    assert canceled["status"] == "canceled"
    [request] = fake_binance.requests_to(Endpoint.CANCEL_ORDER)
    assert request.params["origClientOrderId"] == "co123cancelcid"
    assert "orderId" not in request.params


def test_unknown_orders(exchange: ccxt.binance) -> None:
    with pytest.raises(ccxt.OrderNotFound, match="-2013"):
        exchange.fetch_order("424242", SYMBOL)
    with pytest.raises(ccxt.OrderNotFound, match="-2013"):
        exchange.fetch_order(None, SYMBOL, params={"clientOrderId": "co123nothing"})
    with pytest.raises(ccxt.OrderNotFound, match="-2011"):
        exchange.cancel_order("424242", SYMBOL)


def test_fetch_open_orders_with_and_without_symbol(fake_binance: FakeBinance, exchange: ccxt.binance) -> None:
    btc = _limit_buy(exchange, "co123openbtc")
    eth = exchange.create_order("ETH/USDT", "limit", "sell", 1, 5000, params={"newClientOrderId": "co123openeth"})
    exchange.create_order(SYMBOL, "market", "buy", 0.001)

    assert [o["id"] for o in exchange.fetch_open_orders(SYMBOL)] == [btc["id"]]
    every = exchange.fetch_open_orders()
    assert sorted((o["symbol"], o["clientOrderId"]) for o in every) == [
        ("BTC/USDT", "co123openbtc"),
        ("ETH/USDT", "co123openeth"),
    ]
    assert eth["status"] == "open"
    without_symbol = fake_binance.requests_to(Endpoint.OPEN_ORDERS)[-1]
    assert "symbol" not in without_symbol.params


def test_fetch_balance(fake_binance: FakeBinance, exchange: ccxt.binance) -> None:
    fake_binance.set_balance("SOL", "12.5")
    _limit_buy(exchange, "co123balance", price=20000.0, amount=0.1)

    balance = exchange.fetch_balance()

    assert balance["USDT"] == {"free": 8000.0, "used": 2000.0, "total": 10000.0}
    assert balance["BTC"]["free"] == 1.0
    assert balance["SOL"]["total"] == 12.5
    [request] = fake_binance.requests_to(Endpoint.ACCOUNT)
    assert request.signature_valid is True


def test_fetch_ticker(fake_binance: FakeBinance, exchange: ccxt.binance) -> None:
    fake_binance.set_price("ETH/USDT", "3123.45")

    ticker = exchange.fetch_ticker("ETH/USDT")

    assert ticker["symbol"] == "ETH/USDT"
    assert ticker["last"] == pytest.approx(3123.45)
    assert ticker["bid"] == pytest.approx(3123.44)
    assert ticker["ask"] == pytest.approx(3123.46)
    [request] = fake_binance.requests_to(Endpoint.TICKER_24HR)
    assert request.params == {"symbol": "ETHUSDT"}
    assert "X-MBX-APIKEY" not in request.headers, "public endpoints are not signed"


def test_fetch_ohlcv_is_deterministic(fake_binance: FakeBinance, exchange: ccxt.binance) -> None:
    flat = exchange.fetch_ohlcv(SYMBOL, "1m", limit=5)
    assert len(flat) == 5
    assert all(candle[4] == 60000 for candle in flat)
    assert [b[0] - a[0] for a, b in itertools.pairwise(flat)] == [60_000] * 4
    assert flat[-1][0] <= fake_binance.now_ms() < flat[-1][0] + 60_000

    fake_binance.set_klines(SYMBOL, ["100", "101", "102"])
    series = exchange.fetch_ohlcv(SYMBOL, "1h", limit=4)
    assert [candle[4] for candle in series] == [100, 100, 101, 102]
    assert [candle[1] for candle in series] == [100, 100, 100, 101], "each candle opens at the previous close"
    assert exchange.fetch_ohlcv(SYMBOL, "1h", limit=4) == series

    since = series[0][0]
    assert [c[0] for c in exchange.fetch_ohlcv(SYMBOL, "1h", since=since, limit=2)] == [since, since + 3_600_000]


# -- duplicate client order ids ----------------------------------------------------------------


def test_duplicate_client_id_is_rejected_while_open_and_accepted_after_fill(
    fake_binance: FakeBinance, exchange: ccxt.binance
) -> None:
    first = _limit_buy(exchange, "co123dup")

    with pytest.raises(ccxt.InvalidOrder, match="Duplicate order sent") as rejected:
        _limit_buy(exchange, "co123dup")
    assert rejected.type is ccxt.InvalidOrder, "not DuplicateOrderId: ccxt maps -2010 to InvalidOrder"
    assert len(fake_binance.orders_with_client_id("co123dup")) == 1
    assert fake_binance.order_requests()[-1].status == 400

    fake_binance.fill_order("co123dup")
    second = _limit_buy(exchange, "co123dup")

    assert second["id"] != first["id"]
    orders = fake_binance.orders_with_client_id("co123dup")
    assert [o.status for o in orders] == ["FILLED", "NEW"]
    latest = exchange.fetch_order(None, SYMBOL, params={"clientOrderId": "co123dup"})
    assert latest["id"] == second["id"], "a lookup by client id finds the most recent order"


def test_duplicate_client_id_is_accepted_after_cancel(fake_binance: FakeBinance, exchange: ccxt.binance) -> None:
    first = _limit_buy(exchange, "co123dupcancel")
    exchange.cancel_order(first["id"], SYMBOL)

    _limit_buy(exchange, "co123dupcancel")

    assert [o.status for o in fake_binance.orders_with_client_id("co123dupcancel")] == ["CANCELED", "NEW"]


# -- faults ------------------------------------------------------------------------------------


def test_accept_then_timeout_creates_the_order_but_ccxt_times_out(
    fake_binance: FakeBinance, quick_exchange: ccxt.binance
) -> None:
    fake_binance.faults.on_create(Fault.accept_then_timeout())

    with pytest.raises(ccxt.RequestTimeout):
        _limit_buy(quick_exchange, "co123timeout")

    [order] = fake_binance.orders_with_client_id("co123timeout")
    assert order.status == "NEW"
    assert fake_binance.order_requests()[0].fault is FaultKind.ACCEPT_THEN_TIMEOUT
    assert quick_exchange.fetch_order(None, SYMBOL, params={"clientOrderId": "co123timeout"})["status"] == "open"
    assert fake_binance.faults.pending(Endpoint.CREATE_ORDER) == 0


def test_stop_is_not_blocked_by_a_held_answer() -> None:
    server = FakeBinance().start()
    try:
        server.faults.on(Endpoint.TICKER_24HR, Fault.accept_then_timeout(delay_s=30))
        with pytest.raises(ccxt.RequestTimeout):
            make_ccxt_binance(server, timeout_ms=200).fetch_ticker(SYMBOL)
    finally:
        stopping = threading.Thread(target=server.stop)
        stopping.start()
        stopping.join(10)
    assert not stopping.is_alive(), "stop() waited for the held 30 s answer instead of releasing it"


@pytest.mark.parametrize("status", [500, 503])
def test_server_error_without_creating(fake_binance: FakeBinance, exchange: ccxt.binance, status: int) -> None:
    fake_binance.faults.on_create(Fault.server_error(status))

    with pytest.raises(ccxt.ExchangeNotAvailable, match=str(status)):
        _limit_buy(exchange, "co123http5xx")

    assert fake_binance.orders_with_client_id("co123http5xx") == []
    assert fake_binance.order_requests()[0].status == status


@pytest.mark.parametrize("status", [500, 503])
def test_server_error_after_creating(fake_binance: FakeBinance, exchange: ccxt.binance, status: int) -> None:
    fake_binance.faults.on_create(Fault.server_error(status, execute=True))

    with pytest.raises(ccxt.ExchangeNotAvailable):
        _limit_buy(exchange, "co123created5xx")

    [order] = fake_binance.orders_with_client_id("co123created5xx")
    assert order.status == "NEW"


def test_server_error_with_a_binance_json_body_maps_by_code(fake_binance: FakeBinance, exchange: ccxt.binance) -> None:
    """With a JSON body ccxt maps the Binance code, not the HTTP status: -1000 is OperationFailed,
    the parent class of ExchangeNotAvailable and RequestTimeout."""
    body = {"code": -1000, "msg": "An unknown error occurred while processing the request."}
    fake_binance.faults.on_create(Fault.server_error(500, body=body))

    with pytest.raises(ccxt.OperationFailed) as failed:
        _limit_buy(exchange, "co123json5xx")

    assert failed.type is ccxt.OperationFailed
    assert issubclass(ccxt.ExchangeNotAvailable, ccxt.OperationFailed)


@pytest.mark.parametrize(("status", "execute"), [(503, True), (500, False), (408, True)])
def test_status_unknown_is_a_request_timeout(
    fake_binance: FakeBinance, exchange: ccxt.binance, status: int, execute: bool
) -> None:
    fake_binance.faults.on_create(Fault.status_unknown(execute=execute, status=status))

    with pytest.raises(ccxt.RequestTimeout, match="-1007"):
        _limit_buy(exchange, "co123unknown")

    assert len(fake_binance.orders_with_client_id("co123unknown")) == (1 if execute else 0)


def test_not_found_for_the_first_lookups_then_the_truth(fake_binance: FakeBinance, exchange: ccxt.binance) -> None:
    created = _limit_buy(exchange, "co123lag")
    fake_binance.faults.on_fetch_order(Fault.not_found(), times=2)

    for _ in range(2):
        with pytest.raises(ccxt.OrderNotFound, match="-2013"):
            exchange.fetch_order(None, SYMBOL, params={"clientOrderId": "co123lag"})
    assert exchange.fetch_order(None, SYMBOL, params={"clientOrderId": "co123lag"})["id"] == created["id"]
    assert [r.fault for r in fake_binance.requests_to(Endpoint.FETCH_ORDER)] == [
        FaultKind.NOT_FOUND,
        FaultKind.NOT_FOUND,
        None,
    ]


def test_not_found_on_cancel_leaves_the_order_open(fake_binance: FakeBinance, exchange: ccxt.binance) -> None:
    created = _limit_buy(exchange, "co123lagcancel")
    fake_binance.faults.on_cancel(Fault.not_found())

    with pytest.raises(ccxt.OrderNotFound, match="-2011"):
        exchange.cancel_order(created["id"], SYMBOL)

    assert fake_binance.order(int(created["id"])).status == "NEW"


@pytest.mark.parametrize("status", [429, 418])
def test_rate_limited_for_n_requests(fake_binance: FakeBinance, exchange: ccxt.binance, status: int) -> None:
    """ccxt's binance raises DDoSProtection for both 429 and 418, before reading the -1003 body;
    note RateLimitExceeded is NOT a subclass of DDoSProtection in ccxt 4.5."""
    fake_binance.faults.on(Endpoint.TICKER_24HR, Fault.rate_limited(status), times=2)

    for _ in range(2):
        with pytest.raises(ccxt.DDoSProtection, match="-1003") as limited:
            exchange.fetch_ticker(SYMBOL)
        assert limited.type is ccxt.DDoSProtection
    assert exchange.fetch_ticker(SYMBOL)["last"] == 60000
    assert not issubclass(ccxt.RateLimitExceeded, ccxt.DDoSProtection)


def test_fault_on_any_endpoint(fake_binance: FakeBinance, exchange: ccxt.binance) -> None:
    fake_binance.faults.on(Endpoint.ANY, Fault.rate_limited(), times=1)

    with pytest.raises(ccxt.DDoSProtection):
        exchange.fetch_balance()
    assert exchange.fetch_balance()["USDT"]["free"] == 10000


def test_forced_insufficient_funds(fake_binance: FakeBinance, exchange: ccxt.binance) -> None:
    fake_binance.faults.on_create(Fault.insufficient_funds())

    with pytest.raises(ccxt.InsufficientFunds, match="insufficient balance"):
        _limit_buy(exchange, "co123poor")

    assert fake_binance.orders == []
    assert _limit_buy(exchange, "co123poor")["status"] == "open"


def test_real_insufficient_funds(fake_binance: FakeBinance, exchange: ccxt.binance) -> None:
    with pytest.raises(ccxt.InsufficientFunds):
        exchange.create_order(SYMBOL, "market", "sell", 2)
    with pytest.raises(ccxt.InsufficientFunds):
        _limit_buy(exchange, "co123toobig", price=50000.0, amount=0.3)
    assert fake_binance.orders == []


def test_faults_are_consumed_in_order_and_not_by_rejected_signatures(
    fake_binance: FakeBinance, exchange: ccxt.binance
) -> None:
    fake_binance.faults.on_create(Fault.server_error(503)).on_create(Fault.insufficient_funds())
    assert fake_binance.faults.pending(Endpoint.CREATE_ORDER) == 2

    with pytest.raises(ccxt.AuthenticationError):
        _limit_buy(make_ccxt_binance(fake_binance, secret="wrong-secret"), "co123order")
    with pytest.raises(ccxt.ExchangeNotAvailable):
        _limit_buy(exchange, "co123order")
    with pytest.raises(ccxt.InsufficientFunds):
        _limit_buy(exchange, "co123order")
    assert _limit_buy(exchange, "co123order")["status"] == "open"


# -- authentication and validation ---------------------------------------------------------


def test_wrong_api_key(fake_binance: FakeBinance) -> None:
    intruder = make_ccxt_binance(fake_binance, api_key="not-the-key")

    with pytest.raises(ccxt.AuthenticationError, match="-2015"):
        intruder.fetch_balance()

    [request] = fake_binance.requests
    assert request.api_key_valid is False
    assert request.signature_valid is True
    assert request.status == 401


def test_wrong_secret_fails_signature_verification(fake_binance: FakeBinance) -> None:
    intruder = make_ccxt_binance(fake_binance, secret="not-the-secret")

    with pytest.raises(ccxt.AuthenticationError, match="-1022"):
        _limit_buy(intruder, "co123badsig")

    [request] = fake_binance.order_requests()
    assert request.api_key_valid is True
    assert request.signature_valid is False
    assert request.status == 400
    assert fake_binance.orders == []


def test_wrong_key_after_a_successful_private_call_is_ddos_protection(
    fake_binance: FakeBinance, exchange: ccxt.binance
) -> None:
    """ccxt surprise: once any private call succeeded, -2015 is treated as a temporary ban."""
    exchange.fetch_balance()
    exchange.apiKey = "revoked-key"

    with pytest.raises(ccxt.DDoSProtection, match="-2015"):
        exchange.fetch_balance()


def test_timestamp_outside_the_recv_window(fake_binance: FakeBinance, exchange: ccxt.binance) -> None:
    fake_binance.clock_offset_ms = 20_000

    with pytest.raises(ccxt.InvalidNonce, match="-1021"):
        exchange.fetch_balance()


def test_the_fake_enforces_lot_size_and_client_id_rules(fake_binance: FakeBinance, exchange: ccxt.binance) -> None:
    """Requests ccxt would never build, sent through ccxt's raw (implicit) API method."""
    raw = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "price": "25000"}

    with pytest.raises(ccxt.InvalidOrder, match="LOT_SIZE"):
        exchange.private_post_order({**raw, "quantity": "0.123456789"})
    with pytest.raises(ccxt.BadRequest, match="newClientOrderId"):
        exchange.private_post_order({**raw, "quantity": "0.01", "newClientOrderId": "c" * 37})

    assert fake_binance.orders == []
    assert all(r.signature_valid for r in fake_binance.order_requests())


def test_ccxt_makes_no_hidden_requests(fake_binance: FakeBinance, exchange: ccxt.binance) -> None:
    exchange.load_markets()  # markets were set from the JSON file: no exchangeInfo request
    created = _limit_buy(exchange, "co123quiet")
    exchange.fetch_order(created["id"], SYMBOL)
    exchange.fetch_open_orders()
    exchange.cancel_order(created["id"], SYMBOL)
    exchange.fetch_balance()
    exchange.fetch_ticker(SYMBOL)
    exchange.fetch_ohlcv(SYMBOL, "1m", limit=2)

    assert [(r.method, r.path) for r in fake_binance.requests] == [
        ("POST", "/api/v3/order"),
        ("GET", "/api/v3/order"),
        ("GET", "/api/v3/openOrders"),
        ("DELETE", "/api/v3/order"),
        ("GET", "/api/v3/account"),
        ("GET", "/api/v3/ticker/24hr"),
        ("GET", "/api/v3/klines"),
    ]
    assert all(r.status == 200 for r in fake_binance.requests)


def test_ping_and_time(fake_binance: FakeBinance, exchange: ccxt.binance) -> None:
    assert exchange.public_get_ping() == {}
    assert exchange.fetch_time() == pytest.approx(fake_binance.now_ms(), abs=5000)


def test_spot_error_table_applies_to_the_fake(exchange: ccxt.binance) -> None:
    """-1131 is BadRequest in ccxt's spot table; the URL-prefix patch makes it apply here too."""
    with pytest.raises(ccxt.BadRequest, match="-1131"):
        exchange.fetch_balance(params={"recvWindow": 70000})
