"""The bot status state machine, checked for every (status, action) pair."""

from __future__ import annotations

import itertools

import pytest

from shared.bots.lifecycle import (
    EVENT_FOR_ACTION,
    BotAction,
    BotStatus,
    may_change_trading_config,
    may_delete,
    next_status,
)
from shared.errors import Conflict

# Written out independently of shared.bots.lifecycle.TRANSITIONS, from the README:
# stopped -> running -> paused/stopped, paused -> running (and paused -> stopped).
LEGAL: dict[tuple[str, str], str] = {
    ("stopped", "start"): "running",
    ("running", "pause"): "paused",
    ("running", "stop"): "stopped",
    ("paused", "start"): "running",
    ("paused", "stop"): "stopped",
}
ALL_PAIRS = list(itertools.product(["stopped", "running", "paused"], ["start", "pause", "stop"]))
ILLEGAL = [pair for pair in ALL_PAIRS if pair not in LEGAL]


def test_enums_are_exactly_the_documented_values() -> None:
    assert {s.value for s in BotStatus} == {"stopped", "running", "paused"}
    assert {a.value for a in BotAction} == {"start", "pause", "stop"}
    # Every pair is classified exactly once by this test module.
    assert len(ALL_PAIRS) == 9
    assert len(ILLEGAL) == 4


@pytest.mark.parametrize(("status", "action"), list(LEGAL))
def test_legal_transition_gives_next_status(status: str, action: str) -> None:
    result = next_status(BotStatus(status), BotAction(action))
    assert result is BotStatus(LEGAL[(status, action)])


@pytest.mark.parametrize(("status", "action"), ILLEGAL)
def test_illegal_transition_raises_conflict(status: str, action: str) -> None:
    with pytest.raises(Conflict) as info:
        next_status(BotStatus(status), BotAction(action))
    error = info.value
    assert error.error_code == "illegal_transition"
    assert error.status == 409
    assert error.details == {"status": status, "action": action}
    body = error.to_body()
    assert body["error"]["code"] == "illegal_transition"
    assert status in body["error"]["message"]
    assert action in body["error"]["message"]


def test_illegal_list_covers_noop_transitions() -> None:
    # Doing the same thing twice is never a silent success.
    assert ("stopped", "stop") in ILLEGAL
    assert ("running", "start") in ILLEGAL
    assert ("paused", "pause") in ILLEGAL
    assert ("stopped", "pause") in ILLEGAL


def test_every_action_has_an_event_type() -> None:
    assert EVENT_FOR_ACTION == {
        BotAction.START: "bot.started",
        BotAction.PAUSE: "bot.paused",
        BotAction.STOP: "bot.stopped",
    }


@pytest.mark.parametrize(("status", "expected"), [("stopped", True), ("running", False), ("paused", False)])
def test_may_delete_only_when_stopped(status: str, expected: bool) -> None:
    assert may_delete(BotStatus(status)) is expected


@pytest.mark.parametrize(("status", "expected"), [("stopped", True), ("running", False), ("paused", True)])
def test_trading_config_frozen_only_while_running(status: str, expected: bool) -> None:
    assert may_change_trading_config(BotStatus(status)) is expected


def test_status_accepts_plain_string_equal_enum() -> None:
    # StrEnum members compare equal to their wire values (they are stored as strings).
    assert next_status(BotStatus("stopped"), BotAction("start")) == "running"
