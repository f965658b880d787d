"""Usage counters and health fields of `external_tool_configs`, written in one statement each.

`monthly_api_calls` restarts at each calendar month (UTC): the increment resets the
counter when the previous call was in an earlier month, so no monthly job is needed.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import sqlalchemy as sa

from orchestration.platforms.base import ToolStatus
from orchestration.platforms.http import CallCounter
from shared.db.database import Database
from shared.db.orchestration_tables import external_tool_configs
from shared.db.types import UtcDateTime, utcnow

__all__ = ["flush_counter", "record_api_calls", "record_health"]


def _month_start(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


async def record_api_calls(
    db: Database,
    tenant_id: uuid.UUID,
    tool_name: str,
    *,
    calls: int,
    errors: int = 0,
    at: datetime | None = None,
) -> None:
    """Add `calls` (and `errors`) to the tool's counters; a no-op for zero calls."""
    if calls <= 0 and errors <= 0:
        return
    t = external_tool_configs
    moment = at or utcnow()
    same_month = t.c.last_api_call >= _month_start(moment)
    async with db.transaction() as conn:
        await conn.execute(
            sa.update(t)
            .where(t.c.tenant_id == tenant_id, t.c.tool_name == tool_name)
            .values(
                monthly_api_calls=sa.case(
                    (same_month, sa.func.coalesce(t.c.monthly_api_calls, 0) + calls),
                    else_=calls,
                ),
                error_count=sa.func.coalesce(t.c.error_count, 0) + errors,
                last_api_call=sa.case(
                    (t.c.last_api_call > moment, t.c.last_api_call),
                    else_=sa.literal(moment, UtcDateTime()),
                ),
            )
        )


async def flush_counter(
    db: Database, tenant_id: uuid.UUID, tool_name: str, counter: CallCounter
) -> None:
    """Move an adapter's in-memory counts into the table (after an execution, say)."""
    calls, errors, last = counter.take()
    await record_api_calls(db, tenant_id, tool_name, calls=calls, errors=errors, at=last)


async def record_health(
    db: Database, tenant_id: uuid.UUID, tool_name: str, status: ToolStatus
) -> None:
    t = external_tool_configs
    async with db.transaction() as conn:
        await conn.execute(
            sa.update(t)
            .where(t.c.tenant_id == tenant_id, t.c.tool_name == tool_name)
            .values(
                connection_status=status.connection_status.value,
                last_health_check=status.checked_at,
                health_check_results=status.health_check_results(),
                updated_at=utcnow(),
            )
        )
