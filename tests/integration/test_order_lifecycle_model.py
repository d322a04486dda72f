"""The order lifecycle as a state machine, against the in-memory exchange: no HTTP, no ccxt.

Hypothesis interleaves intents, fault injections (ambiguous creates that did or did not execute,
"duplicate client id" answers, rejections, rate limits, replica lag, a worker killed between the
exchange's accept and our write), task deliveries and redeliveries, reconciler runs (quick re-runs
included) and fills on the exchange. After every step: the exchange never holds two orders for one
intent, and an intent is sent again only after a refusal that proved nothing was done. At the end,
once the faults are over and time has passed, every intent's row agrees with the exchange and the
position is the sum of what the exchange filled.

The real pieces run: `create_intent`, the trade worker's `execute`, the reconciler, the order rows
and positions in the local DynamoDB. The SQS queue is modelled by a deque (redelivery on any
failure, as SQS does after the visibility timeout), so the machine decides the interleaving.
Every example is a fresh machine with its own tenant and exchange.
"""

from __future__ import annotations

import secrets
from collections import deque
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test

from tests.support.aws import TestCloud
from tests.support.memory_exchange import CreateFault, MemoryExchange, install_memory_exchange

SYMBOL = "BTC/USDT"
BODIES = {
    "market": {"symbol": SYMBOL, "side": "buy", "type": "market", "amount": "0.01"},
    "limit": {"symbol": SYMBOL, "side": "buy", "type": "limit", "amount": "0.02", "price": "59000"},
}


class _Current:
    """The machine whose queue and crash switch the patched seams use (one runs at a time)."""

    machine: OrderLifecycle | None = None


class OrderLifecycle(RuleBasedStateMachine):
    orders = Bundle("orders")

    def __init__(self) -> None:
        super().__init__()
        from shared.clock import utc_now

        self.tenant_id = "t_model_" + secrets.token_hex(6)
        self.exchange = MemoryExchange()
        self.tasks: deque[Any] = deque()
        self.crash_after_accept = False
        self.now: datetime = utc_now()
        self.order_ids: list[str] = []
        self._installed = install_memory_exchange(self.exchange, self.tenant_id)
        self._installed.__enter__()
        _Current.machine = self

    # -- producers and the queue ---------------------------------------------------------------

    @rule(target=orders, kind=st.sampled_from(sorted(BODIES)))
    def place(self, kind: str) -> str:
        from shared.exchange_accounts.models import PAPER_ACCOUNT_ID
        from shared.orders.intents import create_intent
        from shared.orders.schemas import OrderCreate

        order = create_intent(
            tenant_id=self.tenant_id,
            source="model",
            intent_id=secrets.token_hex(6),
            bot_id=None,
            account_id=PAPER_ACCOUNT_ID,
            exchange_id="paper",
            request=OrderCreate.model_validate(BODIES[kind]),
        )
        self.order_ids.append(order.order_id)
        return order.order_id

    @precondition(lambda self: bool(self.tasks))
    @rule()
    def deliver(self) -> None:
        self._deliver_one()

    @rule(order_id=orders)
    def redeliver_submit(self, order_id: str) -> None:
        """A duplicate delivery, or a message seen again after the deduplication window."""
        from shared.exchange_accounts.models import PAPER_ACCOUNT_ID
        from shared.orders.tasks import TradeTask

        self.tasks.append(
            TradeTask(kind="submit", tenant_id=self.tenant_id, order_id=order_id, account_id=PAPER_ACCOUNT_ID)
        )

    @rule(minutes=st.integers(min_value=0, max_value=10), reruns=st.integers(min_value=1, max_value=3))
    def reconcile(self, minutes: int, reruns: int) -> None:
        """A reconciler run `minutes` later, repeated seconds apart (a duplicated schedule)."""
        self.now += timedelta(minutes=minutes)
        for second in range(reruns):
            self._reconcile(self.now + timedelta(seconds=second))

    # -- the exchange's side -------------------------------------------------------------------

    @rule(fault=st.sampled_from(list(CreateFault)))
    def fault_the_next_create(self, fault: CreateFault) -> None:
        self.exchange.faults.on_create(fault)

    @rule(times=st.integers(min_value=1, max_value=8))
    def lag_lookups(self, times: int) -> None:
        """Replica lag, up to twice the not-found threshold: a lagging order may be declared
        NOT_PLACED, and must then be adopted when it shows, never sent again."""
        self.exchange.faults.not_found_on_lookup(times)

    @rule()
    def kill_the_worker_after_the_next_accept(self) -> None:
        self.crash_after_accept = True

    @rule(order_id=orders, whole=st.booleans())
    def the_market_fills(self, order_id: str, whole: bool) -> None:
        from shared.orders.models import get_order

        row = get_order(self.tenant_id, order_id)
        assert row is not None
        for held in self.exchange.orders_with_client_id(row.client_order_id):
            if held.status.value == "open":
                self.exchange.fill(held.exchange_order_id, None if whole else held.amount / 2)

    # -- invariants ----------------------------------------------------------------------------

    @invariant()
    def the_exchange_holds_at_most_one_order_per_intent(self) -> None:
        client_ids = [o.client_order_id for o in self.exchange.orders]
        assert len(client_ids) == len(set(client_ids)), "an intent was placed twice"

    @invariant()
    def an_intent_is_sent_again_only_after_a_refusal_that_proved_nothing_was_done(self) -> None:
        for client_id in set(self.exchange.create_calls):
            sends = self.exchange.create_calls.count(client_id)
            assert sends <= 1 + self.exchange.refused_creates.count(client_id), (client_id, sends)

    # -- the end: faults over, time passes -----------------------------------------------------

    def teardown(self) -> None:
        try:
            self.exchange.faults.clear()
            self.crash_after_accept = False
            for _ in range(10):
                self._drain()
                self.now += timedelta(minutes=2)
                self._reconcile(self.now)
            self._drain()
            self.now += timedelta(hours=1)  # a NOT_PLACED order is looked up again: adopted if there
            self._reconcile(self.now)
            self._drain()
            self._check_history()
        finally:
            self._installed.__exit__(None, None, None)
            _Current.machine = None

    def _check_history(self) -> None:
        from shared.exchange_accounts.models import PAPER_ACCOUNT_ID
        from shared.orders.models import get_order
        from shared.positions.ledger import position_quantity

        for order_id in self.order_ids:
            row = get_order(self.tenant_id, order_id)
            assert row is not None
            held = self.exchange.orders_with_client_id(row.client_order_id)
            assert len(held) <= 1, f"the exchange holds {len(held)} orders for one intent"
            if held:
                assert row.status not in {"REJECTED", "NOT_PLACED"}, (
                    "the exchange holds an order we gave up on",
                    row.status,
                )
                assert row.exchange_order_id == held[0].exchange_order_id
                assert Decimal(row.filled or "0") == held[0].filled, (row.status, row.filled, held[0])
            else:
                assert row.status in {"REJECTED", "NOT_PLACED"}, (
                    "we record an order the exchange does not hold",
                    row.status,
                )
        filled = sum((o.filled for o in self.exchange.orders), Decimal(0))
        assert position_quantity(self.tenant_id, PAPER_ACCOUNT_ID, SYMBOL, "manual") == filled

    # -- plumbing ------------------------------------------------------------------------------

    def _deliver_one(self) -> None:
        from shared.orders.execution import execute

        task = self.tasks.popleft()
        try:
            execute(task)
        except Exception:  # TaskRetry, a killed worker: SQS delivers the message again later
            self.tasks.append(task)

    def _drain(self) -> None:
        for _ in range(4 * len(self.tasks) + 4):
            if not self.tasks:
                return
            self._deliver_one()

    def _reconcile(self, moment: datetime) -> None:
        from shared.orders.reconciliation import reconcile_open_orders

        reconcile_open_orders(now=moment, tenant_ids={self.tenant_id})


def _enqueue(task: Any, *, attempt: str = "0") -> None:
    assert _Current.machine is not None
    _Current.machine.tasks.append(task)


@pytest.mark.usefixtures("test_cloud")
def test_order_lifecycle_state_machine(monkeypatch: pytest.MonkeyPatch, test_cloud: TestCloud) -> None:
    from shared.orders import changes, intents, reconciliation

    real_record = changes.record_exchange_state

    def record_or_crash(*args: Any, **kwargs: Any) -> Any:
        machine = _Current.machine
        if machine is not None and machine.crash_after_accept:
            machine.crash_after_accept = False
            raise RuntimeError("worker killed")  # the exchange accepted; we never wrote it down
        return real_record(*args, **kwargs)

    monkeypatch.setattr(intents, "enqueue", _enqueue)
    monkeypatch.setattr(reconciliation, "enqueue", _enqueue)
    monkeypatch.setattr(changes, "record_exchange_state", record_or_crash)
    run_state_machine_as_test(OrderLifecycle, settings=settings(max_examples=25, stateful_step_count=20, deadline=None))
