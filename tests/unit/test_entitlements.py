"""The entitlement answers that need no AWS: what a refusal says, which accounts are live, and
which transaction failures are safe to run again."""

from __future__ import annotations

import pytest
from pynamodb.exceptions import CancellationReason, TransactWriteError, VerboseClientError

from shared.billing.entitlements import is_live, refusal, require, require_live_trading
from shared.billing.plans import PLANS
from shared.errors import PlanLimitReached
from shared.persistence import condition_failed, transaction_conflicted


def test_a_refusal_names_the_limit_the_plan_and_the_way_out() -> None:
    error = refusal(PLANS["free"], "bots", 4, counts="bots")
    assert (error.status, error.error_code) == (402, "plan_limit")
    assert error.details == {"limit": "bots", "plan": "free", "allowed": 3, "upgrade_to": "pro", "counts": "bots"}
    assert error.message == "the free plan allows 3 bots; the pro plan allows it"


def test_a_refusal_no_plan_lifts_says_so() -> None:
    error = refusal(PLANS["team"], "bots", 201)
    assert error.details == {"limit": "bots", "plan": "team", "allowed": 200, "upgrade_to": None}
    assert error.message == "the team plan allows 200 bots"


def test_live_trading_needs_a_plan_with_live_accounts() -> None:
    assert not is_live("paper") and is_live("acct_" + "0" * 26)
    require_live_trading(PLANS["free"], "paper")
    require_live_trading(PLANS["pro"], "acct_" + "0" * 26)
    with pytest.raises(PlanLimitReached) as raised:
        require_live_trading(PLANS["free"], "acct_" + "0" * 26)
    assert raised.value.details == {
        "limit": "live_exchange_accounts",
        "plan": "free",
        "allowed": False,
        "upgrade_to": "pro",
    }
    assert raised.value.message == "the free plan has no live exchange accounts; the pro plan allows it"


def test_require_passes_within_the_limit_and_unlimited() -> None:
    require(PLANS["free"], "backtests_per_month", 10)
    require(PLANS["team"], "backtests_per_month", 10**9)
    with pytest.raises(PlanLimitReached):
        require(PLANS["free"], "backtests_per_month", 11)


def _cancelled(*codes: str | None) -> TransactWriteError:
    reasons = [CancellationReason(code=code) if code is not None else None for code in codes]
    cause = VerboseClientError(
        {"Error": {"Code": "TransactionCanceledException", "Message": "cancelled"}},
        "TransactWriteItems",
        cancellation_reasons=reasons,
    )
    return TransactWriteError("cancelled", cause=cause)


def test_only_a_pure_transaction_conflict_is_safe_to_run_again() -> None:
    assert transaction_conflicted(_cancelled(None, "TransactionConflict", "None"))
    assert not transaction_conflicted(_cancelled("TransactionConflict", "ConditionalCheckFailed"))
    assert not transaction_conflicted(_cancelled(None, None))
    assert condition_failed(_cancelled("TransactionConflict", "ConditionalCheckFailed"))
