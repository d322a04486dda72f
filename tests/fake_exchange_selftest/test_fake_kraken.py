"""Self-tests of the fake Kraken server, driven by the real ccxt kraken client and by our adapter.

They pin down three things the platform's tests rely on: that ccxt works against the fake
unchanged (request building, HMAC-SHA512 signing, nonces, parsing); which ccxt exception each
injected fault becomes and what shared.exchange.errors.translate makes of it; and that our
adapter (shared.exchange.ccxt_adapter) gets around ccxt kraken's quirks: lookups by client id,
cancel answers without the order, create answers without a state, altname pair names.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from shared.errors import ExchangeAmbiguous, ExchangeOrderNotFound, ExchangeRejected, ExchangeTemporary
from shared.exchange import errors as error_map
from shared.exchange.ccxt_adapter import CcxtExchange, Credentials, EndpointOverride, ccxt_errors
from shared.exchange.client_ids import client_order_id_for, intent_digest
from shared.exchange.protocol import ExchangeOrderStatus, OrderRequest
from tests.support.fake_kraken import (
    MARKETS_PATH,
    Endpoint,
    FakeKraken,
    Fault,
    FaultKind,
    kraken_signature,
    make_ccxt_kraken,
    new_secret,
)
from tests.support.fake_kraken.fixtures import fake_kraken_fixture

fake_kraken = fake_kraken_fixture(secret=new_secret())
SYMBOL = "BTC/USD"
ERRORS = ccxt_errors()


def override_for(server: FakeKraken) -> EndpointOverride:
    """Where the adapter finds the fake, as `point_kraken_at` sets it (ccxt's throttle off)."""
    return EndpointOverride(base_url=server.base_url, markets_file=str(MARKETS_PATH), throttle=False)


@pytest.fixture
def exchange(fake_kraken: FakeKraken) -> Any:
    return make_ccxt_kraken(fake_kraken)


@pytest.fixture
def adapter(fake_kraken: FakeKraken) -> Iterator[CcxtExchange]:
    """Our adapter for a Kraken account on the fake, as connect.py builds it (300 ms timeout)."""
    yield CcxtExchange(
        "kraken",
        Credentials(api_key=fake_kraken.api_key, secret=fake_kraken.secret),
        timeout_ms=300,
        override=override_for(fake_kraken),
    )


def our_client_id(intent: str | None = None) -> str:
    """A client order id exactly as the platform makes one for Kraken (a UUID)."""
    return client_order_id_for("kraken", intent_digest("tenant", "manual", intent or uuid.uuid4().hex))


def limit_buy(client_id: str, amount: str = "0.01", price: str = "59000") -> OrderRequest:
    return OrderRequest(
        symbol=SYMBOL, side="buy", type="limit", amount=Decimal(amount), client_order_id=client_id, price=Decimal(price)
    )


def market_buy(client_id: str, amount: str = "0.01") -> OrderRequest:
    return OrderRequest(symbol=SYMBOL, side="buy", type="market", amount=Decimal(amount), client_order_id=client_id)


# -- requests as ccxt sends them -------------------------------------------------------------


def test_add_order_through_our_adapter_carries_our_uuid_precision_and_a_valid_signature(
    fake_kraken: FakeKraken, adapter: CcxtExchange
) -> None:
    cid = our_client_id()
    assert str(uuid.UUID(cid)) == cid, "the platform's Kraken client ids are long UUIDs"
    order = adapter.create_order(limit_buy(cid, amount="0.01234567", price="59000.5"))

    [request] = fake_kraken.order_requests()
    assert request.method == "POST" and request.path == "/0/private/AddOrder"
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert request.headers["API-Key"] == fake_kraken.api_key
    assert (request.api_key_valid, request.signature_valid, request.nonce_valid) == (True, True, True)
    assert request.body["cl_ord_id"] == cid
    assert "userref" not in request.body and "clientOrderId" not in request.body
    assert request.body["volume"] == "0.01234567"
    assert request.body["price"] == "59000.5"
    assert (request.body["pair"], request.body["type"], request.body["ordertype"]) == ("XXBTZUSD", "buy", "limit")
    assert not any(key.startswith(("stopLoss", "takeProfit")) for key in request.body)
    assert request.errors == [] and request.status == 200

    [held] = fake_kraken.orders_with_client_id(cid)
    assert order.exchange_order_id == held.txid
    assert order.client_order_id == cid
    assert order.symbol == SYMBOL, "the altname in Kraken's answer resolves to the unified symbol"
    assert order.status is ExchangeOrderStatus.OPEN
    assert (order.amount, order.price, order.filled) == (Decimal("0.01234567"), Decimal("59000.5"), 0)


def test_raw_ccxt_truncates_amounts_and_rounds_prices_to_the_pair_precision(
    fake_kraken: FakeKraken, exchange: Any
) -> None:
    cid = our_client_id()
    exchange.create_order(SYMBOL, "limit", "buy", 0.123456789, 59000.55, {"clientOrderId": cid})
    [request] = fake_kraken.order_requests()
    assert request.body["volume"] == "0.12345678", "8 lot decimals, truncated"
    assert request.body["price"] == "59000.6", "1 pair decimal, rounded"
    assert int(request.body["nonce"]) == pytest.approx(fake_kraken.now_ms(), abs=5000), "ccxt's nonce: unix ms"
    expected = kraken_signature(fake_kraken.secret, request.path, request.body["nonce"], request.raw_body)
    assert request.headers["API-Sign"] == expected


def test_a_market_order_is_read_back_after_kraken_s_state_less_answer(
    fake_kraken: FakeKraken, adapter: CcxtExchange
) -> None:
    cid = our_client_id()
    order = adapter.create_order(market_buy(cid))
    assert [r.endpoint for r in fake_kraken.requests if r.endpoint is not Endpoint.TICKER] == [
        Endpoint.ADD_ORDER,
        Endpoint.QUERY_ORDERS,
    ]
    assert order.status is ExchangeOrderStatus.CLOSED
    assert order.filled == Decimal("0.01") and order.cost == Decimal("600")
    assert order.fee_cost == Decimal("2.4") and order.fee_currency == "USD"
    assert order.client_order_id == cid and order.symbol == SYMBOL


def test_a_failed_read_back_leaves_the_accepted_order_open(fake_kraken: FakeKraken, adapter: CcxtExchange) -> None:
    fake_kraken.faults.on_query_orders(Fault.service_error(), times=3)
    cid = our_client_id()
    order = adapter.create_order(market_buy(cid))
    assert order.status is ExchangeOrderStatus.OPEN and order.raw_status == "accepted"
    assert order.exchange_order_id == fake_kraken.order(cid).txid


def test_fetch_by_exchange_id_and_by_client_id_through_our_adapter(
    fake_kraken: FakeKraken, adapter: CcxtExchange
) -> None:
    cid = our_client_id()
    placed = adapter.create_order(limit_buy(cid))
    by_id = adapter.fetch_order(SYMBOL, exchange_order_id=placed.exchange_order_id)
    fake_kraken.clear_requests()
    by_client_id = adapter.fetch_order(SYMBOL, client_order_id=cid)
    assert by_id == by_client_id
    assert by_client_id.exchange_order_id == placed.exchange_order_id and by_client_id.client_order_id == cid
    [lookup] = fake_kraken.requests
    assert lookup.endpoint is Endpoint.OPEN_ORDERS and lookup.body["cl_ord_id"] == cid
    assert not fake_kraken.requests_to(Endpoint.QUERY_ORDERS), "no QueryOrders with a userref"

    fake_kraken.fill_order(cid, qty="0.004")
    partial = adapter.fetch_order(SYMBOL, client_order_id=cid)
    assert partial.status is ExchangeOrderStatus.OPEN and partial.filled == Decimal("0.004")
    fake_kraken.fill_order(cid)
    fake_kraken.clear_requests()
    done = adapter.fetch_order(SYMBOL, client_order_id=cid)
    assert done.status is ExchangeOrderStatus.CLOSED and done.filled == Decimal("0.01")
    assert done.cost == Decimal("590") and done.fee_currency == "USD"
    assert [r.endpoint for r in fake_kraken.requests] == [Endpoint.OPEN_ORDERS, Endpoint.CLOSED_ORDERS]
    assert fake_kraken.requests[1].body["cl_ord_id"] == cid and "start" in fake_kraken.requests[1].body


def test_lookups_of_unknown_orders_raise_not_found(
    fake_kraken: FakeKraken, adapter: CcxtExchange, exchange: Any
) -> None:
    with pytest.raises(ExchangeOrderNotFound):
        adapter.fetch_order(SYMBOL, client_order_id=our_client_id())
    with pytest.raises(ERRORS.InvalidOrder):  # Kraken: "EOrder:Invalid order"; ccxt: InvalidOrder, not OrderNotFound
        exchange.fetch_order("OAAAAA-BBBBB-CCCCCC", SYMBOL)
    with pytest.raises(ExchangeOrderNotFound):
        adapter.fetch_order(SYMBOL, exchange_order_id="OAAAAA-BBBBB-CCCCCC")


def test_ccxt_s_own_fetch_by_client_id_sends_a_userref_kraken_refuses(fake_kraken: FakeKraken, exchange: Any) -> None:
    """Why the adapter searches open/closed orders: ccxt maps clientOrderId to `userref` (an int32)
    on QueryOrders, and Kraken refuses it (a definite "invalid arguments"), so an ambiguous order
    could never be resolved through this call."""
    cid = our_client_id()
    exchange.create_order(SYMBOL, "limit", "buy", 0.01, 59000, {"clientOrderId": cid})
    with pytest.raises(ERRORS.ExchangeError) as caught:
        exchange.fetch_order(None, SYMBOL, {"clientOrderId": cid})
    assert fake_kraken.requests_to(Endpoint.QUERY_ORDERS)[-1].body["userref"] == cid
    assert fake_kraken.requests_to(Endpoint.QUERY_ORDERS)[-1].errors == ["EGeneral:Invalid arguments:userref"]
    refused = error_map.translate(ERRORS, caught.value, creating=False)
    assert isinstance(refused, ExchangeRejected) and refused.reason == "invalid_order"


def test_a_lookup_by_client_id_returns_the_most_recent_of_reused_ids(
    fake_kraken: FakeKraken, adapter: CcxtExchange
) -> None:
    cid = our_client_id()
    first = adapter.create_order(market_buy(cid))
    second = adapter.create_order(market_buy(cid))  # accepted: the first one is closed
    assert first.exchange_order_id != second.exchange_order_id
    assert len(fake_kraken.orders_with_client_id(cid)) == 2
    assert adapter.fetch_order(SYMBOL, client_order_id=cid).exchange_order_id == second.exchange_order_id


def test_cancel_by_id_and_by_client_id_answers_with_the_order(
    fake_kraken: FakeKraken, adapter: CcxtExchange, exchange: Any
) -> None:
    by_id, by_client = our_client_id(), our_client_id()
    one = adapter.create_order(limit_buy(by_id))
    adapter.create_order(limit_buy(by_client))
    canceled = adapter.cancel_order(SYMBOL, exchange_order_id=one.exchange_order_id)
    assert canceled.status is ExchangeOrderStatus.CANCELED and canceled.exchange_order_id == one.exchange_order_id
    canceled = adapter.cancel_order(SYMBOL, client_order_id=by_client)
    assert canceled.status is ExchangeOrderStatus.CANCELED and canceled.client_order_id == by_client
    cancel_request = fake_kraken.requests_to(Endpoint.CANCEL_ORDER)[-1]
    assert cancel_request.body["cl_ord_id"] == by_client and "txid" not in cancel_request.body
    assert fake_kraken.balance("USD") == (Decimal("100000"), 0), "holds released"
    with pytest.raises(ExchangeOrderNotFound):  # "EOrder:Unknown order": ccxt raises OrderNotFound
        adapter.cancel_order(SYMBOL, exchange_order_id=one.exchange_order_id)
    third = our_client_id()
    raw = exchange.create_order(SYMBOL, "limit", "buy", 0.01, 59000, {"clientOrderId": third})
    assert exchange.cancel_order(raw["id"], SYMBOL)["id"] is None, "ccxt's own answer: {'count': 1}, no order"


def test_balance_ticker_ohlcv_and_markets_through_our_adapter(fake_kraken: FakeKraken, adapter: CcxtExchange) -> None:
    adapter.create_order(limit_buy(our_client_id(), amount="0.1", price="50000"))
    balances = adapter.fetch_balance()
    held = Decimal("5000") * Decimal("1.004")
    assert balances["USD"].used == held and balances["USD"].free == Decimal("100000") - held
    assert balances["BTC"].free == Decimal("2") and balances["USDT"].total == Decimal("100000")
    assert fake_kraken.requests_to(Endpoint.BALANCE_EX)[-1].signature_valid is True

    fake_kraken.set_price(SYMBOL, "61234.5")
    ticker = adapter.fetch_ticker(SYMBOL)
    assert ticker.last == Decimal("61234.5") and ticker.bid == Decimal("61234.4") and ticker.ask == Decimal("61234.6")
    assert fake_kraken.requests_to(Endpoint.TICKER)[-1].query["pair"] == "XXBTZUSD"

    fake_kraken.set_ohlc(SYMBOL, ["100", "101", "102"])
    candles = adapter.fetch_ohlcv(SYMBOL, "1m", limit=3)
    assert [c.close for c in candles] == [Decimal("100"), Decimal("101"), Decimal("102")]
    assert candles[1].timestamp_ms - candles[0].timestamp_ms == 60_000

    market = adapter.market(SYMBOL)
    assert (market.amount_step, market.price_step) == (Decimal("1E-8"), Decimal("0.1"))
    assert (market.min_amount, market.min_cost, market.base, market.quote) == (
        Decimal("0.00005"),
        Decimal("0.5"),
        "BTC",
        "USD",
    )


def test_a_second_adapter_with_cached_markets_still_resolves_altnames(
    fake_kraken: FakeKraken, adapter: CcxtExchange
) -> None:
    """Markets are cached per container; ccxt's altname index is not part of them."""
    adapter.markets()
    again = CcxtExchange(
        "kraken",
        Credentials(api_key=fake_kraken.api_key, secret=fake_kraken.secret),
        timeout_ms=300,
        override=override_for(fake_kraken),
    )
    cid = our_client_id()
    again.create_order(limit_buy(cid))
    assert again.fetch_open_orders(SYMBOL)[0].client_order_id == cid
    assert again.fetch_order(SYMBOL, client_order_id=cid).symbol == SYMBOL


# -- Kraken's acceptance rules ---------------------------------------------------------------


def test_a_client_id_is_refused_while_its_order_is_open_and_accepted_after_it_closed(
    fake_kraken: FakeKraken, adapter: CcxtExchange, exchange: Any
) -> None:
    cid = our_client_id()
    adapter.create_order(limit_buy(cid))
    with pytest.raises(ERRORS.ExchangeError) as caught:
        exchange.create_order(SYMBOL, "limit", "buy", 0.01, 59000, {"clientOrderId": cid})
    assert fake_kraken.order_requests()[-1].errors == ["EOrder:Duplicate order"]
    # ccxt has no class for it: on create it reads as ambiguous, and the reconciler finds the open order
    assert isinstance(error_map.translate(ERRORS, caught.value, creating=True), ExchangeAmbiguous)
    adapter.cancel_order(SYMBOL, client_order_id=cid)
    again = adapter.create_order(limit_buy(cid))
    assert again.status is ExchangeOrderStatus.OPEN
    assert [o.status for o in fake_kraken.orders_with_client_id(cid)] == ["canceled", "open"]


def test_cl_ord_id_formats(fake_kraken: FakeKraken, exchange: Any) -> None:
    for accepted in (str(uuid.uuid4()), uuid.uuid4().hex, "free-text-18-chars"):
        exchange.create_order(SYMBOL, "limit", "buy", 0.01, 59000, {"clientOrderId": accepted})
    with pytest.raises(ERRORS.ExchangeError):  # the platform's 32-character form for other exchanges
        exchange.create_order(SYMBOL, "limit", "buy", 0.01, 59000, {"clientOrderId": "co" + "a" * 30})
    assert fake_kraken.order_requests()[-1].errors == ["EGeneral:Invalid arguments:cl_ord_id"]
    assert len(fake_kraken.orders) == 3


def test_real_funds_minimums_and_fills(fake_kraken: FakeKraken, adapter: CcxtExchange) -> None:
    fake_kraken.set_balance("USD", "100")
    with pytest.raises(ExchangeRejected) as caught:
        adapter.create_order(limit_buy(our_client_id()))
    assert caught.value.reason == "insufficient_funds"
    with pytest.raises(ExchangeRejected) as caught:
        adapter.create_order(limit_buy(our_client_id(), amount="0.00001", price="1000"))
    assert caught.value.reason == "invalid_order"  # EOrder:Order minimum not met
    fake_kraken.set_balance("USD", "100000")
    cid = our_client_id()
    adapter.create_order(
        OrderRequest(symbol=SYMBOL, side="sell", type="market", amount=Decimal("0.5"), client_order_id=cid)
    )
    sold = fake_kraken.order(cid)
    assert sold.status == "closed" and sold.oflags == "fcib", "Kraken's default: a sell pays its fee in base"
    assert fake_kraken.balance("BTC") == (Decimal("2") - Decimal("0.5") * Decimal("1.004"), 0)
    assert fake_kraken.balance("USD")[0] == Decimal("130000")


def test_authentication_signature_and_nonces(fake_kraken: FakeKraken, exchange: Any) -> None:
    wrong_key = make_ccxt_kraken(fake_kraken, api_key="someone-else")
    with pytest.raises(ERRORS.AuthenticationError) as caught:
        wrong_key.fetch_balance()
    assert isinstance(error_map.translate(ERRORS, caught.value, creating=False), ExchangeRejected)

    wrong_secret = make_ccxt_kraken(fake_kraken, secret=new_secret())
    with pytest.raises(ERRORS.ExchangeError):
        wrong_secret.fetch_balance()
    assert fake_kraken.requests[-1].errors == ["EAPI:Invalid signature"]
    assert fake_kraken.requests[-1].signature_valid is False

    exchange.fetch_balance()
    stale = make_ccxt_kraken(fake_kraken)
    stale.nonce = lambda: 1  # a process whose clock (and so nonce) is behind the last one used
    with pytest.raises(ERRORS.InvalidNonce) as nonce_error:
        stale.fetch_balance()
    assert fake_kraken.requests[-1].nonce_valid is False
    assert isinstance(error_map.translate(ERRORS, nonce_error.value, creating=True), ExchangeTemporary)
    assert fake_kraken.requests[-1].fault is None, "refused requests never consume faults"


# -- faults: what ccxt raises and what we make of it -----------------------------------------

CREATE_FAULTS = [
    # (id, fault, ccxt exception, our error on create, order created on the exchange)
    ("accept_then_timeout", Fault.accept_then_timeout(delay_s=1.5), "RequestTimeout", ExchangeAmbiguous, True),
    (
        "service_unavailable_executed",
        Fault.service_error(execute=True),
        "ExchangeNotAvailable",
        ExchangeAmbiguous,
        True,
    ),
    ("service_unavailable", Fault.service_error(), "ExchangeNotAvailable", ExchangeAmbiguous, False),
    ("service_busy", Fault.service_error("EService:Busy"), "ExchangeNotAvailable", ExchangeAmbiguous, False),
    (
        "internal_error_executed",
        Fault.service_error("EGeneral:Internal error", execute=True),
        "ExchangeNotAvailable",
        ExchangeAmbiguous,
        True,
    ),
    ("cdn_502_executed", Fault.server_error(502, execute=True), "ExchangeNotAvailable", ExchangeAmbiguous, True),
    ("cdn_503", Fault.server_error(503), "ExchangeNotAvailable", ExchangeAmbiguous, False),
    ("cdn_504", Fault.server_error(504), "RequestTimeout", ExchangeAmbiguous, False),
    ("api_rate_limit", Fault.rate_limited(), "DDoSProtection", ExchangeTemporary, False),
    ("order_rate_limit", Fault.rate_limited("order"), "DDoSProtection", ExchangeTemporary, False),
    ("cdn_429", Fault.rate_limited(http_status=429), "RateLimitExceeded", ExchangeTemporary, False),
    ("invalid_nonce", Fault.invalid_nonce(), "InvalidNonce", ExchangeTemporary, False),
    ("insufficient_funds", Fault.insufficient_funds(), "InsufficientFunds", ExchangeRejected, False),
]


@pytest.mark.parametrize(
    ("fault", "ccxt_class", "ours", "created"), [c[1:] for c in CREATE_FAULTS], ids=[c[0] for c in CREATE_FAULTS]
)
def test_add_order_faults(fake_kraken: FakeKraken, fault: Fault, ccxt_class: str, ours: type, created: bool) -> None:
    fake_kraken.faults.on_add_order(fault)
    quick = make_ccxt_kraken(fake_kraken, timeout_ms=300)
    cid = our_client_id()
    with pytest.raises(getattr(ERRORS, ccxt_class)) as caught:
        quick.create_order(SYMBOL, "market", "buy", 0.01, None, {"clientOrderId": cid})
    assert type(caught.value).__name__ == ccxt_class
    translated = error_map.translate(ERRORS, caught.value, creating=True)
    assert isinstance(translated, ours)
    if isinstance(translated, ExchangeRejected):
        assert translated.reason == "insufficient_funds"
    assert len(fake_kraken.orders_with_client_id(cid)) == (1 if created else 0)
    assert fake_kraken.order_requests()[-1].fault is fault.kind
    # the next request is served normally
    quick.create_order(SYMBOL, "market", "buy", 0.01, None, {"clientOrderId": our_client_id()})


def test_our_adapter_turns_create_faults_into_our_errors_without_retrying(
    fake_kraken: FakeKraken, adapter: CcxtExchange
) -> None:
    fake_kraken.faults.on_add_order(Fault.service_error(execute=True))
    fake_kraken.faults.on_add_order(Fault.rate_limited())
    fake_kraken.faults.on_add_order(Fault.insufficient_funds())
    cid = our_client_id()
    with pytest.raises(ExchangeAmbiguous):
        adapter.create_order(market_buy(cid))
    with pytest.raises(ExchangeTemporary):
        adapter.create_order(market_buy(our_client_id()))
    with pytest.raises(ExchangeRejected):
        adapter.create_order(market_buy(our_client_id()))
    assert len(fake_kraken.order_requests()) == 3, "order creation is never retried inside"
    assert fake_kraken.order(cid).status == "closed"


def test_read_faults_are_temporary_and_retried_by_our_adapter(
    fake_kraken: FakeKraken, adapter: CcxtExchange, exchange: Any
) -> None:
    cid = our_client_id()
    placed = adapter.create_order(limit_buy(cid))
    fake_kraken.faults.on_query_orders(Fault.service_error())
    with pytest.raises(ERRORS.ExchangeNotAvailable) as caught:
        exchange.fetch_order(placed.exchange_order_id, SYMBOL)
    assert isinstance(error_map.translate(ERRORS, caught.value, creating=False), ExchangeTemporary)
    fake_kraken.faults.on(Endpoint.QUERY_ORDERS, Fault.rate_limited(), times=2)
    assert adapter.fetch_order(SYMBOL, exchange_order_id=placed.exchange_order_id).client_order_id == cid
    fake_kraken.faults.on(Endpoint.BALANCE_EX, Fault.server_error(502), times=3)
    with pytest.raises(ExchangeTemporary):
        adapter.fetch_balance()


def test_not_found_faults(fake_kraken: FakeKraken, adapter: CcxtExchange, exchange: Any) -> None:
    cid = our_client_id()
    placed = adapter.create_order(limit_buy(cid))
    fake_kraken.faults.on_query_orders(Fault.not_found())
    with pytest.raises(ERRORS.InvalidOrder):
        exchange.fetch_order(placed.exchange_order_id, SYMBOL)
    fake_kraken.faults.on_query_orders(Fault.not_found())
    with pytest.raises(ExchangeOrderNotFound):
        adapter.fetch_order(SYMBOL, exchange_order_id=placed.exchange_order_id)
    fake_kraken.faults.on_cancel(Fault.not_found())
    with pytest.raises(ERRORS.OrderNotFound):
        exchange.cancel_order(placed.exchange_order_id, SYMBOL)
    assert fake_kraken.order(cid).status == "open"


def test_replica_lag_hides_an_order_from_the_next_lookups_that_would_find_it(
    fake_kraken: FakeKraken, adapter: CcxtExchange
) -> None:
    cid = our_client_id()
    adapter.create_order(market_buy(cid))  # closed at once
    fake_kraken.faults.on_lookup(times=2)
    fake_kraken.clear_requests()
    for _ in range(2):
        with pytest.raises(ExchangeOrderNotFound):
            adapter.fetch_order(SYMBOL, client_order_id=cid)
    assert adapter.fetch_order(SYMBOL, client_order_id=cid).status is ExchangeOrderStatus.CLOSED
    # each lookup asked OpenOrders (no match: nothing consumed) then ClosedOrders (hit: consumed)
    assert [r.endpoint for r in fake_kraken.requests] == [Endpoint.OPEN_ORDERS, Endpoint.CLOSED_ORDERS] * 3
    assert fake_kraken.faults.pending(Endpoint.ORDER_LOOKUP) == 0
    assert all(r.fault is None for r in fake_kraken.requests), "lag is not a fault of the request itself"


def test_faults_queue_per_endpoint_and_any(fake_kraken: FakeKraken, exchange: Any) -> None:
    fake_kraken.faults.on(Endpoint.ANY, Fault.service_error(), times=2)
    fake_kraken.faults.on(Endpoint.TICKER, Fault.rate_limited())
    with pytest.raises(ERRORS.DDoSProtection):
        exchange.fetch_ticker(SYMBOL)
    for _ in range(2):
        with pytest.raises(ERRORS.ExchangeNotAvailable):
            exchange.fetch_ticker(SYMBOL)
    assert exchange.fetch_ticker(SYMBOL)["last"] == 60000
    assert [r.fault for r in fake_kraken.requests] == [
        FaultKind.RATE_LIMITED,
        FaultKind.SERVICE_ERROR,
        FaultKind.SERVICE_ERROR,
        None,
    ]
    with pytest.raises(ValueError, match="ORDER_LOOKUP"):
        fake_kraken.faults.on(Endpoint.ORDER_LOOKUP, Fault.service_error())
