"""Usage metering: signals received, orders placed and backtest minutes, counted per tenant per
hourly window in the Usage table, and reported to Stripe as billing meter events once a window
has closed.

Counting is idempotent per source id (the signal, order or backtest): a marker row and the
counter's atomic ADD are written in one transaction, so a retried task never counts twice.
Reporting is idempotent per window: the meter event's `identifier` is `tenant:meter:window`, which
Stripe accepts once, and the request carries the same Idempotency-Key, so a reporter that dies
between sending and marking the window reported cannot bill it twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from shared.billing.models import Meter, mark_reported, record_usage, unreported_windows, window_of

__all__ = ["Meter", "ReportOutcome", "meter_event_identifier", "record_usage", "report_closed_windows"]

# A window is reported this long after it closed: increments computed just before the hour
# turned may still be in flight.
SETTLE = timedelta(minutes=5)


@dataclass(frozen=True)
class ReportOutcome:
    reported: int = 0
    skipped: int = 0  # tenants with no Stripe customer: nothing to bill


def meter_event_identifier(tenant_id: str, meter: str, start: datetime) -> str:
    return f"{tenant_id}:{meter}:{start:%Y%m%dT%H}"


def report_closed_windows(now: datetime) -> ReportOutcome:
    """Send every settled, unreported window to Stripe as one meter event, then mark it reported."""
    from shared.billing.models import get_billing
    from shared.billing.stripe_client import stripe_client, translated_stripe_error

    reported = skipped = 0
    cutoff = window_of(now - SETTLE) - timedelta(microseconds=1)  # windows that closed SETTLE ago
    for row in unreported_windows(cutoff):
        if row.window_start is None or row.meter is None:  # pragma: no cover - counters always carry both
            continue
        billing = get_billing(row.tenant_id)
        if billing is not None and billing.stripe_customer_id:
            identifier = meter_event_identifier(row.tenant_id, row.meter, row.window_start)
            client = stripe_client()
            try:
                client.v1.billing.meter_events.create(
                    {
                        "event_name": row.meter,
                        "identifier": identifier,
                        "timestamp": int(row.window_start.timestamp()),
                        "payload": {"stripe_customer_id": billing.stripe_customer_id, "value": str(int(row.total))},
                    },
                    {"idempotency_key": identifier},
                )
            except Exception as exc:
                raise translated_stripe_error(exc) from exc
            reported += 1
        else:
            skipped += 1
        mark_reported(row, now)
    return ReportOutcome(reported, skipped)
