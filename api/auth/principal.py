"""The caller of a request, as every route sees it."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from domain.access import OWNER_SCOPED, Permission, Role, allows


@dataclass(frozen=True)
class Principal:
    kind: Literal["key", "user"]
    id: str
    name: str
    role: Role
    rep_id: str | None = None

    @property
    def actor(self) -> str:
        """How the audit log names the caller: "key:<id>" or "user:<id>"."""
        return f"{self.kind}:{self.id}"

    @property
    def owner_scope(self) -> str | None:
        """The rep id every lead and task query is narrowed to, or None for all of them."""
        return self.rep_id if self.role in OWNER_SCOPED else None

    def owner_filter(self, requested: str | None) -> tuple[str | None, bool]:
        """The owner a listing is narrowed to, and False when a rep asked for another rep's."""
        scope = self.owner_scope
        if scope is None:
            return requested, True
        return scope, requested in (None, scope)

    def may(self, permission: Permission) -> bool:
        return allows(self.role, permission)

    def sees_owner(self, owner: str | None) -> bool:
        scope = self.owner_scope
        return scope is None or owner == scope
