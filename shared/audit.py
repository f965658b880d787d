"""The audit log: who did what, in which tenant, with what outcome. Append-only.

Arguments are stored as a digest, never their values: a digest proves what was sent
(re-hash the arguments to check) without putting customer data or secrets in the log.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.db.database import Database
from shared.db.schema import audit_log

__all__ = ["AuditEntry", "argument_digest", "record_audit"]


def argument_digest(arguments: Any) -> str:
    canonical = json.dumps(arguments, sort_keys=True, separators=(",", ":"), default=str)
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class AuditEntry:
    tenant_id: uuid.UUID | None
    actor: str
    action: str
    outcome: str  # ok | error | denied
    actor_role: str | None = None
    target: str | None = None
    arguments: Any = None
    duration_ms: int | None = None
    details: dict[str, Any] | None = None


async def record_audit(where: Database | AsyncConnection, entry: AuditEntry) -> None:
    """Append one row; given a connection, inside the caller's transaction."""
    statement = sa.insert(audit_log).values(
        tenant_id=entry.tenant_id,
        actor=entry.actor,
        actor_role=entry.actor_role,
        action=entry.action,
        target=entry.target,
        argument_digest=None if entry.arguments is None else argument_digest(entry.arguments),
        outcome=entry.outcome,
        duration_ms=entry.duration_ms,
        details=entry.details,
    )
    if isinstance(where, AsyncConnection):
        await where.execute(statement)
        return
    async with where.engine.begin() as conn:
        await conn.execute(statement)
