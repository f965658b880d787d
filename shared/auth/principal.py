"""Who is calling: a verified tenant, a role, and a subject for the audit log."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import StrEnum

__all__ = ["Principal", "Role"]


class Role(StrEnum):
    """viewer looks; operator also acts (writes, retries, replays); admin also configures."""

    VIEWER = "viewer"
    OPERATOR = "operator"
    ADMIN = "admin"

    def allows(self, needed: Role) -> bool:
        order = [Role.VIEWER, Role.OPERATOR, Role.ADMIN]
        return order.index(self) >= order.index(needed)


@dataclass(frozen=True)
class Principal:
    tenant_id: uuid.UUID
    role: Role
    subject: str  # "key:<key_id>", "jwt:<sub>", "stdio", "cli"
    kind: str  # "api_key" | "supabase_jwt" | "local"
