"""Desks on the fake exchanges for the exactly-once suites: one tenant, one account registered
through the real API, the product's ccxt calls pointed at the fake, and the faults every exchange
has in some form mapped through a small per-exchange adapter, so one test runs on each exchange.

    desk = desk_fixture("binance", "kraken")     # in a test module: a `desk` per exchange
    desk.faults.accept_then_timeout()             # Binance: held answer; Kraken: the same
    desk.faults.status_unknown(executed=True)     # Binance -1007; Kraken EService:Unavailable
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, ClassVar

import pytest

from tests.support.trading import Desk, TradingRig, exchange_api_for, register_account


class ExchangeFaults:
    """The exactly-once faults in one exchange's words; subclasses map them onto its fake."""

    # Lookup misses that outlast the reconciler's not-found threshold across a settle(): how many
    # reads one lookup makes differs (Kraken's adapter reads open, then closed orders, and its
    # drift check reads again).
    misses_past_threshold: ClassVar[int]

    def __init__(self, fake: Any) -> None:
        self.fake = fake

    def clear(self) -> None:
        self.fake.faults.clear()

    def accept_then_timeout(self, delay_s: float = 2) -> None:
        """The order is created; its answer comes after the client's timeout."""
        self.fake.faults.on_create(self.fake_faults.accept_then_timeout(delay_s=delay_s))

    def not_found_on_lookup(self, times: int) -> None:
        """Replica lag: the next `times` lookups of an order miss it."""
        raise NotImplementedError

    def pending_lookup_misses(self) -> int:
        raise NotImplementedError

    def status_unknown(self, *, executed: bool) -> None:
        """The exchange's own "could not tell" answer on create; the order may exist."""
        raise NotImplementedError

    def server_error(self, *, executed: bool) -> None:
        """A 5xx page from the front of the exchange on create; the order may exist."""
        raise NotImplementedError

    def duplicate_client_id(self) -> None:
        """The refusal of a client id held by an open order, after really creating it."""
        raise NotImplementedError

    def insufficient_funds(self) -> None:
        self.fake.faults.on_create(self.fake_faults.insufficient_funds())

    @property
    def fake_faults(self) -> Any:
        """The fake's `Fault` class."""
        raise NotImplementedError


class BinanceFaults(ExchangeFaults):
    misses_past_threshold = 8

    @property
    def fake_faults(self) -> Any:
        from tests.support.fake_exchange import Fault

        return Fault

    def not_found_on_lookup(self, times: int) -> None:
        self.fake.faults.on_fetch_order(self.fake_faults.not_found(), times=times)

    def pending_lookup_misses(self) -> int:
        from tests.support.fake_exchange import Endpoint

        pending: int = self.fake.faults.pending(Endpoint.FETCH_ORDER)
        return pending

    def status_unknown(self, *, executed: bool) -> None:
        self.fake.faults.on_create(self.fake_faults.status_unknown(execute=executed))  # -1007

    def server_error(self, *, executed: bool) -> None:
        self.fake.faults.on_create(self.fake_faults.server_error(503, execute=executed))

    def duplicate_client_id(self) -> None:
        self.fake.faults.on_create(self.fake_faults.duplicate_client_id(execute=True))  # -2010


class KrakenFaults(ExchangeFaults):
    misses_past_threshold = 40

    @property
    def fake_faults(self) -> Any:
        from tests.support.fake_kraken import Fault

        return Fault

    def not_found_on_lookup(self, times: int) -> None:
        self.fake.faults.on_lookup(times=times)

    def pending_lookup_misses(self) -> int:
        from tests.support.fake_kraken import Endpoint

        pending: int = self.fake.faults.pending(Endpoint.ORDER_LOOKUP)
        return pending

    def status_unknown(self, *, executed: bool) -> None:
        self.fake.faults.on_create(self.fake_faults.service_error(execute=executed))  # EService:Unavailable

    def server_error(self, *, executed: bool) -> None:
        self.fake.faults.on_create(self.fake_faults.server_error(502, execute=executed))  # the CDN's page

    def duplicate_client_id(self) -> None:
        self.fake.faults.on_create(self.fake_faults.error("EOrder:Duplicate order", execute=True))


class FakeDesk(Desk):
    """A Desk on one fake exchange, with what the shared tests need to know about it."""

    def __init__(
        self,
        exchange_id: str,
        *args: Any,
        faults: ExchangeFaults,
        symbol: str,
        quote: str,
        executed_qty: Callable[[Any], Decimal],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.exchange_id = exchange_id
        self.faults = faults
        self.symbol = symbol
        self.quote = quote
        self.executed_qty = executed_qty

    @property
    def limit_buy(self) -> dict[str, Any]:
        """A limit buy below the market, so it rests."""
        return {"symbol": self.symbol, "side": "buy", "type": "limit", "amount": "0.02", "price": "59000"}

    def position_quantity(self) -> Decimal:
        rows = [
            p
            for p in self.api.get("/positions").json["items"]
            if p["exchange_account_id"] == self.account and p["symbol"] == self.symbol and p["bot_id"] is None
        ]
        return Decimal(rows[0]["quantity"]) if rows else Decimal(0)

    def place_stranger(self) -> tuple[str, str]:
        """An order someone else places on the account (outside the platform): (its id, symbol)."""
        raise NotImplementedError


class BinanceDesk(FakeDesk):
    def place_stranger(self) -> tuple[str, str]:
        from tests.support.fake_exchange import make_ccxt_binance

        stranger = make_ccxt_binance(self.fake).create_order(
            "ETH/USDT", "limit", "buy", 0.1, 2900, params={"newClientOrderId": "someone-else-1"}
        )
        return str(stranger["id"]), "ETH/USDT"


class KrakenDesk(FakeDesk):
    def place_stranger(self) -> tuple[str, str]:
        from tests.support.fake_kraken import make_ccxt_kraken

        stranger = make_ccxt_kraken(self.fake).create_order(
            "ETH/USD", "limit", "buy", 0.1, 2900, {"clientOrderId": "someone-else-1"}
        )
        return str(stranger["id"]), "ETH/USD"


@dataclass(frozen=True)
class _DeskSpec:
    """How to open a desk on one fake: the fake's credentials and balances, and what the shared
    tests read off it."""

    desk_class: type[FakeDesk]
    faults_class: type[ExchangeFaults]
    open_fake: Callable[[], Any]
    symbol: str
    quote: str
    client_id_field: str
    exchange_order_id: Callable[[Any], str]
    executed_qty: Callable[[Any], Decimal]


def _fake_binance() -> Any:
    from tests.support.fake_exchange import FakeBinance

    return FakeBinance(
        api_key="k-" + secrets.token_hex(8),
        secret="s-" + secrets.token_hex(16),
        initial_balances={"USDT": "1000000", "BTC": "10"},
    )


def _fake_kraken() -> Any:
    from tests.support.fake_kraken import FakeKraken, new_secret

    return FakeKraken(
        api_key="k-" + secrets.token_hex(8), secret=new_secret(), initial_balances={"USD": "1000000", "BTC": "10"}
    )


_DESKS = {
    "binance": _DeskSpec(
        BinanceDesk,
        BinanceFaults,
        _fake_binance,
        "BTC/USDT",
        "USDT",
        "newClientOrderId",
        lambda held: str(held.order_id),
        lambda held: held.executed_qty,
    ),
    "kraken": _DeskSpec(
        KrakenDesk,
        KrakenFaults,
        _fake_kraken,
        "BTC/USD",
        "USD",
        "cl_ord_id",
        lambda held: str(held.txid),
        lambda held: held.vol_exec,
    ),
}


def _open_desk(exchange_id: str, request: pytest.FixtureRequest) -> Iterator[FakeDesk]:
    spec = _DESKS[exchange_id]
    with spec.open_fake() as fake:
        request.getfixturevalue(f"point_{exchange_id}_at")(fake)
        caller = request.getfixturevalue("tenant_a")
        account = register_account(exchange_api_for(caller), exchange_id, fake)
        rig = TradingRig(request.getfixturevalue("test_cloud"), caller.tenant_id)
        market_buy = {"symbol": spec.symbol, "side": "buy", "type": "market", "amount": "0.01"}
        yield spec.desk_class(
            exchange_id,
            caller,
            account,
            fake,
            rig,
            faults=spec.faults_class(fake),
            symbol=spec.symbol,
            quote=spec.quote,
            executed_qty=spec.executed_qty,
            default_order=market_buy,
            client_id_field=spec.client_id_field,
            exchange_order_id=spec.exchange_order_id,
        )


def kill_the_worker_after_accept(patch: pytest.MonkeyPatch, times: int = 1) -> None:
    """The worker dies between the exchange's accept and our write, `times` times (for the
    patch's life): the exchange holds the order; we never wrote it down."""
    from shared.orders import changes

    real = changes.record_exchange_state
    crashes = {"left": times}

    def crash(*args: Any, **kwargs: Any) -> Any:
        if crashes["left"]:
            crashes["left"] -= 1
            raise RuntimeError("worker killed")
        return real(*args, **kwargs)

    patch.setattr(changes, "record_exchange_state", crash)


def desk_fixture(*exchanges: str) -> Callable[..., Iterator[FakeDesk]]:
    """A `desk` fixture, parametrized over `exchanges` (ids: the exchange names). Assign it in a
    test module: `desk = desk_fixture("binance", "kraken")`."""

    @pytest.fixture(name="desk", params=exchanges)
    def _desk(request: pytest.FixtureRequest) -> Iterator[FakeDesk]:
        yield from _open_desk(request.param, request)

    return _desk
