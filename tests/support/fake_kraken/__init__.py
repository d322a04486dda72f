"""A fake Kraken spot REST server for tests, driven by the real ccxt client (see README.md)."""

from tests.support.fake_kraken.client import make_ccxt_kraken
from tests.support.fake_kraken.engine import MARKETS_PATH, FakeOrder, Fill, KrakenError, load_markets
from tests.support.fake_kraken.faults import Endpoint, Fault, FaultKind, FaultPlan
from tests.support.fake_kraken.server import FakeKraken, RecordedRequest, kraken_signature, new_secret

__all__ = [
    "MARKETS_PATH",
    "Endpoint",
    "FakeKraken",
    "FakeOrder",
    "Fault",
    "FaultKind",
    "FaultPlan",
    "Fill",
    "KrakenError",
    "RecordedRequest",
    "kraken_signature",
    "load_markets",
    "make_ccxt_kraken",
    "new_secret",
]
