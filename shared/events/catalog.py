"""Every domain event type and the schema of its `data`, in one place.

Consumer documentation is generated from this table (`python -m shared.events.catalog`), so the
docs and the code cannot drift.
"""

from __future__ import annotations

import json
from typing import Literal

from pydantic import BaseModel, ConfigDict


class _Data(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TenantCreatedData(_Data):
    tenant_id: str
    name: str
    plan: str


class ApiKeyData(_Data):
    key_id: str
    name: str
    scopes: list[str]


class BotData(_Data):
    bot_id: str
    name: str
    symbol: str
    exchange_account_id: str
    strategy_type: str
    status: Literal["stopped", "running", "paused"]
    previous_status: Literal["stopped", "running", "paused"] | None = None
    changed_fields: list[str] | None = None


EVENT_TYPES: dict[str, tuple[type[_Data], str]] = {
    "tenant.created": (TenantCreatedData, "A tenant signed up."),
    "api_key.created": (ApiKeyData, "An API key was issued (the key itself is never in events)."),
    "api_key.revoked": (ApiKeyData, "An API key was revoked; it stops working at once."),
    "bot.created": (BotData, "A bot was created (always in status `stopped`)."),
    "bot.updated": (BotData, "A bot's configuration changed; `changed_fields` lists what."),
    "bot.started": (BotData, "A bot started or resumed (`previous_status` says which)."),
    "bot.paused": (BotData, "A running bot was paused."),
    "bot.stopped": (BotData, "A bot was stopped."),
    "bot.deleted": (BotData, "A bot was deleted."),
}


def data_schema(event_type: str) -> type[_Data]:
    return EVENT_TYPES[event_type][0]


def consumer_docs() -> str:
    """Markdown describing each event type and its `data` JSON schema."""
    lines = ["# Domain events", "", "Envelope: `{id, type, version, tenant_id, occurred_at, source, data}`.",
             "Delivery is at least once: deduplicate on `id`.", ""]
    for name, (model, summary) in EVENT_TYPES.items():
        lines += [f"## `{name}`", "", summary, "", "```json",
                  json.dumps(model.model_json_schema(), indent=2), "```", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    print(consumer_docs())  # noqa: T201
