"""`data` of the operators' alerts raised by the relay and the dead-letter alerters."""

from __future__ import annotations

from typing import Literal

from shared.events.data import EventData


class EventQuarantinedData(EventData):
    event_id: str
    event_type: str
    problem: str


class TaskDeadLetteredData(EventData):
    task_kind: str
    order_id: str | None
    receive_count: int
    resolution: str


class WebhookMessageDeadLetteredData(EventData):
    message_kind: Literal["event", "unparseable"]
    event_id: str | None
    event_type: str | None
    receive_count: int
    resolution: str
