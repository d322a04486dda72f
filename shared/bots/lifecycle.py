"""The bot status state machine: `stopped -> running -> paused/stopped`, `paused -> running`.

Pure: no I/O, so the transition table is unit-tested exhaustively.
"""

from __future__ import annotations

from enum import StrEnum

from shared.errors import Conflict


class BotStatus(StrEnum):
    STOPPED = "stopped"
    RUNNING = "running"
    PAUSED = "paused"


class BotAction(StrEnum):
    START = "start"
    PAUSE = "pause"
    STOP = "stop"


TRANSITIONS: dict[tuple[BotStatus, BotAction], BotStatus] = {
    (BotStatus.STOPPED, BotAction.START): BotStatus.RUNNING,
    (BotStatus.PAUSED, BotAction.START): BotStatus.RUNNING,
    (BotStatus.RUNNING, BotAction.PAUSE): BotStatus.PAUSED,
    (BotStatus.RUNNING, BotAction.STOP): BotStatus.STOPPED,
    (BotStatus.PAUSED, BotAction.STOP): BotStatus.STOPPED,
}

EVENT_FOR_ACTION: dict[BotAction, str] = {
    BotAction.START: "bot.started",
    BotAction.PAUSE: "bot.paused",
    BotAction.STOP: "bot.stopped",
}


def next_status(current: BotStatus, action: BotAction) -> BotStatus:
    try:
        return TRANSITIONS[(current, action)]
    except KeyError:
        raise Conflict(
            f"cannot {action.value} a bot that is {current.value}",
            code="illegal_transition",
            details={"status": current.value, "action": action.value},
        ) from None


def may_delete(status: BotStatus) -> bool:
    return status is BotStatus.STOPPED


def may_change_trading_config(status: BotStatus) -> bool:
    """Strategy, symbol and account are frozen while the bot is running (pause or stop first)."""
    return status is not BotStatus.RUNNING
