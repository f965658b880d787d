"""Usage counters and health fields of `external_tool_configs`, written in one statement each,
and the audit rows of outbound platform calls.

`monthly_api_calls` restarts at each calendar month (UTC): the increment resets the
counter when the previous call was in an earlier month, so no monthly job is needed.

`flush_counter` writes the calls PlatformHttp noted since the last flush as audit rows
(one per HTTP request sent) in one batched insert, in the same transaction as the usage
counters: the request path itself never waits on the database.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from orchestration.platforms.base import ToolStatus
from orchestration.platforms.http import CallCounter
from orchestration.platforms.http_audit import OutboundCall
from shared.db.database import Database
from shared.db.orchestration_tables import audit_log, external_tool_configs
from shared.db.types import UtcDateTime, utcnow

__all__ = ["audit_rows", "flush_counter", "record_api_calls", "record_health"]

log = logging.getLogger(__name__)


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
    audit: list[OutboundCall] | None = None,
) -> None:
    """Add `calls` (and `errors`) to the tool's counters and write the `audit` rows; a no-op
    when there is neither."""
    if calls <= 0 and errors <= 0 and not audit:
        return
    async with db.transaction() as conn:
        if calls > 0 or errors > 0:
            await _count(conn, tenant_id, tool_name, calls, errors, at or utcnow())
        if audit:
            await conn.execute(sa.insert(audit_log), audit_rows(audit, tenant_id))


async def _count(
    conn: AsyncConnection,
    tenant_id: uuid.UUID,
    tool_name: str,
    calls: int,
    errors: int,
    moment: datetime,
) -> None:
    t = external_tool_configs
    same_month = t.c.last_api_call >= _month_start(moment)
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


def audit_rows(calls: list[OutboundCall], tenant_id: uuid.UUID) -> list[dict[str, object]]:
    """audit_log rows for outbound calls: who, what operation, outcome, duration, digest."""
    rows: list[dict[str, object]] = []
    for call in calls:
        details: dict[str, object] = {
            "platform": call.platform,
            "status": call.status_code,
            "attempt": call.attempt,
        }
        if call.caller.execution_id:
            details["execution_id"] = call.caller.execution_id
        if call.error:
            details["error"] = call.error
        rows.append(
            {
                "tenant_id": call.tenant_id or tenant_id,
                "occurred_at": call.at,
                "actor": call.caller.actor,
                "actor_role": call.caller.role,
                "action": f"outbound:{call.platform}",
                "target": call.operation,
                "argument_digest": call.digest,
                "outcome": call.outcome,
                "duration_ms": call.duration_ms,
                "details": details,
            }
        )
    return rows


async def flush_counter(
    db: Database, tenant_id: uuid.UUID, tool_name: str, counter: CallCounter
) -> None:
    """Move an adapter's in-memory counts and pending audit rows into the database (after
    an execution, a health check, a tool call)."""
    calls, errors, last = counter.take()
    pending = counter.take_audit()
    try:
        await record_api_calls(
            db, tenant_id, tool_name, calls=calls, errors=errors, at=last, audit=pending
        )
    except IntegrityError:
        # Only a tenant deleted meanwhile (taking its log with it) makes these rows
        # unwritable; retrying cannot succeed, and a platform call must not fail for it.
        log.error(
            "%d audit row(s) of %s calls refused by the store (tenant %s gone?); not written",
            len(pending),
            tool_name,
            tenant_id,
        )
    except BaseException:
        counter.pending[:0] = pending  # not written: the next flush tries them again
        raise


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
