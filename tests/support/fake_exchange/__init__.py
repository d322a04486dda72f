"""A fake Binance spot REST server for tests, driven by the real ccxt client (see README.md)."""

from tests.support.fake_exchange.client import make_ccxt_binance
from tests.support.fake_exchange.engine import FakeOrder, Fill, load_markets
from tests.support.fake_exchange.faults import Endpoint, Fault, FaultKind, FaultPlan
from tests.support.fake_exchange.server import FakeBinance, RecordedRequest

__all__ = [
    "Endpoint",
    "FakeBinance",
    "FakeOrder",
    "Fault",
    "FaultKind",
    "FaultPlan",
    "Fill",
    "RecordedRequest",
    "load_markets",
    "make_ccxt_binance",
]
