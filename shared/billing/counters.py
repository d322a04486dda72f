"""The PlanCounters table: what a tenant holds or has used, per counter, so a plan limit is one
conditional update instead of a count.

Rows (`counter` is the range key):
- `bots`: `total` bots and how many are `running`; changed only inside the transaction that
  creates, deletes, starts, pauses or stops a bot, so it cannot drift from the Bots table.
- `backtests#YYYY-MM`: backtest jobs accepted in that calendar month (UTC); a new month is a new
  row, so nothing resets and past months stay readable.
- `seats`: the tenant's users plus its pending invitations; changed in the transaction that
  writes or removes an invitation (accepting one turns a pending seat into a user: no change).

A table of its own rather than attributes on the tenant row: the Stripe side writes the tenant's
plan, and a whole-row save from a stale read there could never clobber a counter here.
"""

from __future__ import annotations

from datetime import datetime

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.models import Model

from shared.persistence import BaseMeta, get_or_none

BOTS = "bots"
SEATS = "seats"


class PlanCounterRecord(Model):
    class Meta(BaseMeta):
        table_setting = "plan_counters_table"

    tenant_id = UnicodeAttribute(hash_key=True)
    counter = UnicodeAttribute(range_key=True)
    total = NumberAttribute(default=0)
    running = NumberAttribute(null=True)  # the `bots` row only


def backtests_counter(at: datetime) -> str:
    """The row counting backtests accepted in `at`'s calendar month (UTC)."""
    return f"backtests#{at:%Y-%m}"


def get_counter(tenant_id: str, counter: str) -> PlanCounterRecord | None:
    return get_or_none(PlanCounterRecord, tenant_id, counter)
