"""Who is calling: tenant, role and read-only flag, resolved per request.

Over stdio the caller is fixed by configuration (one local user, one tenant). Over HTTP a
later issue supplies a resolver that reads the verified bearer token. Tools never take a
tenant id: the tenant always comes from here.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from mcp.server.context import ServerRequestContext

__all__ = ["CallerContext", "CallerResolver", "Role", "StaticCallerResolver"]


class Role(StrEnum):
    """What a caller may do: viewers read, operators also write CRM data, admins do all."""

    VIEWER = "viewer"
    OPERATOR = "operator"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return _RANKS[self]


_RANKS = {Role.VIEWER: 0, Role.OPERATOR: 1, Role.ADMIN: 2}


@dataclass(frozen=True)
class CallerContext:
    tenant_id: uuid.UUID
    role: Role
    read_only: bool = False
    actor: str = "local"  # who, for audit: "local" on stdio, the token's subject on HTTP

    def has_role(self, needed: Role) -> bool:
        return self.role.rank >= needed.rank


class CallerResolver(Protocol):
    """Maps one inbound request to its caller. Raise `ToolError`/`MCPError` to refuse it."""

    async def __call__(self, request: ServerRequestContext[Any, Any]) -> CallerContext: ...


@dataclass(frozen=True)
class StaticCallerResolver:
    """Every request is the same caller: the stdio case."""

    caller: CallerContext

    async def __call__(self, request: ServerRequestContext[Any, Any]) -> CallerContext:
        return self.caller
