"""What happens to a trade task that failed `maxReceiveCount` times."""

from __future__ import annotations

from pydantic import ValidationError

from shared.events.data.alerts import TaskDeadLetteredData
from shared.events.envelope import new_event
from shared.events.transactions import record_events
from shared.observability import MetricUnit, logger, metrics
from shared.orders import changes
from shared.orders.models import get_order
from shared.orders.states import OrderStatus
from shared.orders.tasks import TradeTask

PLATFORM_TENANT = "_platform"  # alerts about tasks too broken to name a tenant


def settle_dead_lettered_task(body: str, receive_count: int) -> str:
    try:
        task: TradeTask | None = TradeTask.model_validate_json(body)
    except ValidationError:
        task = None
    resolution = "unparseable task dropped"
    order = get_order(task.tenant_id, task.order_id) if task is not None else None
    target: OrderStatus | None = None
    if task is not None:
        if order is None:
            resolution = "order missing"
        elif order.state is OrderStatus.PENDING_SUBMIT:
            target, resolution = OrderStatus.REJECTED, "never sent: rejected"
        elif order.state is OrderStatus.SUBMITTING:
            target, resolution = OrderStatus.UNKNOWN, "possibly sent: unknown, for the reconciler"
        else:
            resolution = f"left as {order.status}"
    alert = new_event(
        "alert.trade_task_dead_lettered",
        tenant_id=task.tenant_id if task else PLATFORM_TENANT,
        source=changes.SOURCE,
        data=TaskDeadLetteredData(
            task_kind=task.kind if task else "unparseable",
            order_id=task.order_id if task else None,
            receive_count=receive_count,
            resolution=resolution,
        ),
    )
    # An alert about an order is one of the order's events: it commits with the order's row (with
    # its move, if it moves), so the row keeps carrying the order's event counter.
    if order is not None and target is not None:
        changes.move(order, target, reason="task_dead_lettered", extra_events=[alert])
    elif order is not None:
        changes.commit(order, [alert])
    else:
        record_events([alert])
    metrics.add_metric(name="TradeTasksDeadLettered", unit=MetricUnit.Count, value=1)
    logger.error("trade task dead-lettered", extra={"resolution": resolution})
    return resolution
