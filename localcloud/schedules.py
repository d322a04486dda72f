"""Fires the template's Schedule / ScheduleV2 events (moto never does), optionally sped up."""

from __future__ import annotations

import json
import re
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from localcloud.functions import FunctionSpec

_UNITS = {"minute": 60, "minutes": 60, "hour": 3600, "hours": 3600, "day": 86400, "days": 86400}


def rate_seconds(expression: str) -> float | None:
    match = re.fullmatch(r"rate\((\d+)\s+(\w+)\)", expression.strip())
    if not match or match.group(2) not in _UNITS or int(match.group(1)) <= 0:
        return None
    return int(match.group(1)) * _UNITS[match.group(2)]


def _field_matches(spec: str, value: int, low: int) -> bool:
    if spec in ("*", "?"):
        return True
    for item in spec.split(","):
        step = 1
        part = item
        if "/" in item:
            part, step_text = item.split("/", 1)
            step = int(step_text)
        if part in ("*", "?"):
            start, end = low, 10_000
        elif "-" in part:
            start, end = (int(x) for x in part.split("-", 1))
        else:
            start = end = int(part)
            if step > 1:
                end = 10_000
        if start <= value <= end and (value - start) % step == 0:
            return True
    return False


def cron_matches(expression: str, moment: datetime) -> bool:
    """EventBridge cron (minutes hours day-of-month month day-of-week year), numeric fields only."""
    match = re.fullmatch(r"cron\((.+)\)", expression.strip())
    if not match:
        return False
    fields = match.group(1).split()
    if len(fields) != 6:
        return False
    minute, hour, dom, month, dow, year = fields
    eventbridge_dow = (moment.isoweekday() % 7) + 1  # 1 = Sunday
    return (
        _field_matches(minute, moment.minute, 0)
        and _field_matches(hour, moment.hour, 0)
        and _field_matches(dom, moment.day, 1)
        and _field_matches(month, moment.month, 1)
        and _field_matches(dow, eventbridge_dow, 1)
        and _field_matches(year, moment.year, 1970)
    )


@dataclass
class Schedule:
    function: FunctionSpec
    name: str
    expression: str
    kind: str  # Schedule or ScheduleV2
    input: Any

    def event(self, now: datetime) -> Any:
        if self.input is not None:
            return json.loads(self.input) if isinstance(self.input, str) else self.input
        if self.kind == "ScheduleV2":
            return {}
        return {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": "123456789012",
            "time": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": "us-east-1",
            "resources": [f"local:schedule/{self.name}"],
            "detail": {},
        }


def template_schedules(functions: dict[str, FunctionSpec]) -> list[Schedule]:
    schedules = []
    for function in functions.values():
        for name, event in function.events.items():
            if event.get("Type") in ("Schedule", "ScheduleV2"):
                props = event["Properties"]
                if props.get("Enabled") is False or props.get("State") == "DISABLED":
                    continue
                schedules.append(
                    Schedule(function, name, props["ScheduleExpression"], event["Type"], props.get("Input"))
                )
    return schedules


class ScheduleClock(threading.Thread):
    """`speed` > 1 compresses time: with 60, rate(1 minute) fires every second."""

    def __init__(self, schedules: list[Schedule], stop: threading.Event, speed: float = 1.0) -> None:
        super().__init__(name="schedule-clock", daemon=True)
        self.schedules = schedules
        self.stop_event = stop
        self.speed = max(speed, 0.001)
        self.fired: dict[str, int] = {}

    def fire(self, schedule: Schedule) -> None:
        try:
            schedule.function.invoke(schedule.event(datetime.now(UTC)))
        except Exception as exc:
            print(f"[schedule] {schedule.function.logical_id} raised {type(exc).__name__}: {exc}", file=sys.stderr)
        self.fired[schedule.name] = self.fired.get(schedule.name, 0) + 1

    def run(self) -> None:
        started = time.monotonic()
        started_wall = datetime.now(UTC)
        next_rate = {id(s): rate_seconds(s.expression) for s in self.schedules}
        last_minute = started_wall.replace(second=0, microsecond=0)
        while not self.stop_event.wait(0.05):
            virtual_elapsed = (time.monotonic() - started) * self.speed
            for schedule in self.schedules:
                due = next_rate.get(id(schedule))
                period = rate_seconds(schedule.expression)
                if period is not None and due is not None and virtual_elapsed >= due:
                    next_rate[id(schedule)] = due + period
                    self.fire(schedule)
            virtual_now = started_wall + timedelta(seconds=virtual_elapsed)
            minute = virtual_now.replace(second=0, microsecond=0)
            if minute != last_minute:
                last_minute = minute
                for schedule in self.schedules:
                    if schedule.expression.startswith("cron(") and cron_matches(schedule.expression, minute):
                        self.fire(schedule)
