"""Placing an order on the paper exchange: one read of the order id and balances, version-checked writes."""

from __future__ import annotations

import json
import secrets
from decimal import Decimal
from typing import Any

import pytest
from pynamodb.exceptions import TransactWriteError

from shared.errors import ExchangeRejected, ExchangeTemporary
from shared.exchange import paper
from shared.exchange.models import PaperRecord, balance_rows, save_together
from shared.exchange.protocol import ExchangeOrderStatus, OrderRequest


def _buy(client_order_id: str) -> OrderRequest:
    return OrderRequest("BTC/USDT", "buy", "market", Decimal("0.001"), client_order_id)


def _free(tenant_id: str) -> dict[str, Decimal]:
    return {asset: Decimal(row.payload()["free"]) for asset, row in balance_rows(tenant_id).items()}


@pytest.fixture
def exchange() -> paper.PaperExchange:
    return paper.PaperExchange(f"paper-{secrets.token_hex(6)}")


def test_a_reused_client_order_id_is_refused_and_moves_no_funds(exchange: paper.PaperExchange) -> None:
    assert exchange.create_order(_buy("cid-1")).status is ExchangeOrderStatus.CLOSED
    before = _free(exchange.tenant_id)
    with pytest.raises(ExchangeRejected) as refused:
        exchange.create_order(_buy("cid-1"))
    assert refused.value.reason == "duplicate_client_order_id"
    assert _free(exchange.tenant_id) == before


def test_a_balance_changed_meanwhile_is_read_again_and_the_order_placed(
    exchange: paper.PaperExchange, monkeypatch: pytest.MonkeyPatch
) -> None:
    exchange.create_order(_buy("first"))  # both balance rows exist: the next order reads them in one batch
    interfered: list[bool] = []

    def save_after_a_deposit(tenant_id: str, rows: list[PaperRecord], new: PaperRecord | None = None) -> None:
        if not interfered:  # another writer changes USDT between the read and this write
            interfered.append(True)
            usdt = PaperRecord.get(tenant_id, "bal#USDT", consistent_read=True)
            usdt.data = json.dumps({**usdt.payload(), "free": str(Decimal(usdt.payload()["free"]) + 1000)})
            usdt.save()
        save_together(tenant_id, rows, new)

    monkeypatch.setattr(paper, "save_together", save_after_a_deposit)
    before = _free(exchange.tenant_id)
    order = exchange.create_order(_buy("second"))
    after = _free(exchange.tenant_id)
    assert interfered and order.status is ExchangeOrderStatus.CLOSED
    assert after["USDT"] == before["USDT"] + 1000 - order.cost - order.fee_cost  # the deposit was not overwritten
    assert after["BTC"] == before["BTC"] + Decimal("0.001")


def test_a_write_that_keeps_losing_is_a_temporary_error(
    exchange: paper.PaperExchange, monkeypatch: pytest.MonkeyPatch
) -> None:
    attempts: list[int] = []

    def always_conflicting(*args: Any, **kwargs: Any) -> None:
        attempts.append(1)
        raise TransactWriteError("conflict")

    monkeypatch.setattr(paper, "save_together", always_conflicting)
    with pytest.raises(ExchangeTemporary):
        exchange.create_order(_buy("never"))
    assert len(attempts) == paper._WRITE_ATTEMPTS
