"""The principal built by the authorizer and read back by every handler."""

from __future__ import annotations

from typing import Any

import pytest

from shared.auth.principal import ALL_SCOPES, Principal
from shared.errors import Forbidden, Unauthorized


@pytest.mark.parametrize(
    "context",
    [
        None,
        {},
        {"principal_id": "user:usr_1", "scopes": "read"},
        {"tenant_id": "", "principal_id": "user:usr_1", "scopes": "read"},
        {"tenant_id": None, "principal_id": "user:usr_1", "scopes": "read"},
        {"tenant_id": "ten_1", "scopes": "read"},
        {"tenant_id": "ten_1", "principal_id": "", "scopes": "read"},
    ],
    ids=["none", "empty", "no-tenant", "empty-tenant", "null-tenant", "no-principal", "empty-principal"],
)
def test_missing_context_is_unauthorized(context: dict[str, Any] | None) -> None:
    with pytest.raises(Unauthorized) as info:
        Principal.from_authorizer_context(context)
    assert info.value.status == 401


def test_from_context_reads_fields() -> None:
    principal = Principal.from_authorizer_context(
        {"tenant_id": "ten_1", "principal_id": "key:key_1", "scopes": "read trade"}
    )
    assert principal.tenant_id == "ten_1"
    assert principal.principal_id == "key:key_1"
    assert principal.scopes == frozenset({"read", "trade"})


def test_unknown_scopes_are_dropped() -> None:
    principal = Principal.from_authorizer_context(
        {"tenant_id": "ten_1", "principal_id": "key:key_1", "scopes": "read superuser ADMIN admin:all trade"}
    )
    assert principal.scopes == frozenset({"read", "trade"})


def test_missing_scopes_means_none() -> None:
    principal = Principal.from_authorizer_context({"tenant_id": "ten_1", "principal_id": "user:u"})
    assert principal.scopes == frozenset()
    with pytest.raises(Forbidden):
        principal.require("read")


@pytest.mark.parametrize(
    "scopes",
    [frozenset(), frozenset({"read"}), frozenset({"trade", "admin"}), frozenset(ALL_SCOPES)],
    ids=lambda s: "+".join(sorted(s)) or "none",
)
def test_context_round_trip(scopes: frozenset[str]) -> None:
    principal = Principal(tenant_id="ten_x", principal_id="user:usr_y", scopes=scopes)
    context = principal.to_authorizer_context()
    assert all(isinstance(v, str) for v in context.values())
    assert set(context) == {"tenant_id", "principal_id", "scopes"}
    assert context["scopes"] == " ".join(sorted(scopes))
    assert Principal.from_authorizer_context(context) == principal


def test_extra_context_keys_are_ignored() -> None:
    context = {"tenant_id": "ten_1", "principal_id": "user:u", "scopes": "read", "integrationLatency": 3}
    assert Principal.from_authorizer_context(context) == Principal("ten_1", "user:u", frozenset({"read"}))


@pytest.mark.parametrize("scope", ALL_SCOPES)
def test_require_passes_with_scope(scope: str) -> None:
    principal = Principal(tenant_id="t", principal_id="user:u", scopes=frozenset({scope}))
    principal.require(scope)  # type: ignore[arg-type]
    others = [s for s in ALL_SCOPES if s != scope]
    for other in others:
        with pytest.raises(Forbidden):
            principal.require(other)


@pytest.mark.parametrize("scope", ALL_SCOPES)
def test_require_raises_forbidden_with_details(scope: str) -> None:
    principal = Principal(tenant_id="t", principal_id="key:k", scopes=frozenset(ALL_SCOPES) - {scope})
    with pytest.raises(Forbidden) as info:
        principal.require(scope)  # type: ignore[arg-type]
    assert info.value.status == 403
    assert info.value.error_code == "forbidden"
    assert info.value.details == {"required_scope": scope}
    assert scope in info.value.message
