"""Which events a subscription wants: a list of patterns, each an exact catalog type
(`order.filled`), a family wildcard (`order.*`) or everything (`*`).

Patterns are checked against the catalog when saved, so a typo is a 422 instead of a
subscription that silently never fires. The same patterns become the SNS filter policy of an
event stream (`sns_filter_policy`), always pinned to the tenant.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from shared.errors import ValidationFailed
from shared.events.catalog import EVENT_TYPES

MAX_PATTERNS = 50
# Only to the subscription named in it (POST /test); never matched by patterns.
PING = "webhook.ping"


def _families() -> set[str]:
    return {name.split(".", 1)[0] for name in EVENT_TYPES}


def allowed_patterns() -> list[str]:
    """Every pattern `normalize_patterns` accepts, for the OpenAPI enum (the same rule, listed)."""
    types = sorted(name for name in EVENT_TYPES if name != PING)
    return ["*", *sorted(f"{family}.*" for family in _families()), *types]


def normalize_patterns(patterns: Sequence[str]) -> list[str]:
    """Validated, de-duplicated, sorted (raises ValidationFailed naming the bad pattern)."""
    if not patterns:
        raise ValidationFailed("event_types needs at least one pattern", code="invalid_event_types")
    if len(patterns) > MAX_PATTERNS:
        raise ValidationFailed(f"at most {MAX_PATTERNS} event type patterns", code="invalid_event_types")
    families = _families()
    for pattern in patterns:
        if pattern == "*":
            continue
        if pattern.endswith(".*") and pattern[:-2] in families:
            continue
        if pattern in EVENT_TYPES and pattern != PING:
            continue
        raise ValidationFailed(
            "unknown event type pattern; see GET /v1/events/types",
            code="invalid_event_types",
            details={"pattern": pattern[:100]},
        )
    return sorted(set(patterns))


def matches(patterns: Sequence[str], event_type: str) -> bool:
    if event_type == PING:
        return False
    for pattern in patterns:
        if pattern in ("*", event_type):
            return True
        if pattern.endswith(".*") and event_type.startswith(pattern[:-1]):
            return True
    return False


def sns_filter_policy(tenant_id: str, patterns: Sequence[str]) -> dict[str, Any]:
    """A payload-based (FilterPolicyScope MessageBody) policy over the event envelope: the tenant
    is always pinned, so a stream can never receive another tenant's events."""
    policy: dict[str, Any] = {"tenant_id": [tenant_id]}
    if "*" not in patterns:
        policy["type"] = [{"prefix": p[:-1]} if p.endswith(".*") else p for p in patterns]
    return policy
