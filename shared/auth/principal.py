"""Who is calling: built by the authorizer, read by every handler from the authorizer context."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from shared.errors import Forbidden, Unauthorized

Scope = Literal["read", "trade", "admin"]
ALL_SCOPES: tuple[Scope, ...] = ("read", "trade", "admin")


@dataclass(frozen=True, slots=True)
class Principal:
    tenant_id: str
    principal_id: str  # "user:<user_id>" or "key:<key_id>"
    scopes: frozenset[str]

    def require(self, scope: Scope) -> None:
        if scope not in self.scopes:
            raise Forbidden(f"this credential lacks the '{scope}' scope", details={"required_scope": scope})

    def to_authorizer_context(self) -> dict[str, str]:
        """API Gateway context values must be flat strings; scopes travel space-separated."""
        return {
            "tenant_id": self.tenant_id,
            "principal_id": self.principal_id,
            "scopes": " ".join(sorted(self.scopes)),
        }

    @classmethod
    def from_authorizer_context(cls, context: dict[str, Any] | None) -> Principal:
        """The tenant comes from here and nowhere else (never the body, path or headers)."""
        if not context or not context.get("tenant_id") or not context.get("principal_id"):
            raise Unauthorized("missing authorizer context")
        scopes = frozenset(str(context.get("scopes", "")).split())
        return cls(
            tenant_id=str(context["tenant_id"]),
            principal_id=str(context["principal_id"]),
            scopes=scopes & frozenset(ALL_SCOPES),
        )
