"""The operations dashboard's numbers for one tenant.

Everything is read from the database at request time (the worker may be another
process), except the circuit state, which only lives in a process that makes platform
calls: the live breaker of this process when it is not closed, else what the last health
check stored. Durations and rates cover `window` (default 7 days) of executions, events
and activities; lists show the newest `limit` rows. The success metrics are in
`servers.http.success_metrics`.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import sqlalchemy as sa

from orchestration.platforms.resilience import DEFAULT_REGISTRY, CircuitState, ResilienceRegistry
from servers.http.success_metrics import (
    SAMPLE,
    MetricScope,
    as_object,
    as_utc,
    percentile,
    ratio,
    success_metrics,
)
from shared.db.database import Database
from shared.db.orchestration_tables import (
    event_queue,
    external_tool_configs,
    workflow_definitions,
    workflow_executions,
)

__all__ = ["dashboard_snapshot"]

_q = event_queue.c
_x = workflow_executions.c
_t = external_tool_configs.c


def _iso(value: Any) -> str | None:
    found = as_utc(value)
    return found.isoformat() if found is not None else None


async def _platforms(scope: MetricScope, registry: ResilienceRegistry) -> list[dict[str, Any]]:
    async with scope.db.engine.connect() as conn:
        rows = (
            await conn.execute(
                sa.select(external_tool_configs)
                .where(_t.tenant_id == scope.tenant_id)
                .order_by(_t.tool_name)
            )
        ).mappings()
        found: list[dict[str, Any]] = []
        for row in rows:
            health = as_object(row["health_check_results"])
            live = registry.breaker(str(scope.tenant_id), row["tool_name"]).state
            circuit = live.value if live is not CircuitState.CLOSED else health.get("circuit_state")
            found.append(
                {
                    "platform": row["tool_name"],
                    "connection_status": row["connection_status"] or "active",
                    "circuit_state": circuit or CircuitState.CLOSED.value,
                    "last_health_check": _iso(row["last_health_check"]),
                    "latency_ms": health.get("latency_ms"),
                    "detail": health.get("detail"),
                    "monthly_api_calls": row["monthly_api_calls"] or 0,
                    "error_count": row["error_count"] or 0,
                }
            )
    return found


async def _queue(scope: MetricScope) -> list[dict[str, Any]]:
    async with scope.db.engine.connect() as conn:
        counts = (
            await conn.execute(
                sa.select(_q.priority, _q.status, sa.func.count())
                .where(_q.tenant_id == scope.tenant_id)
                .group_by(_q.priority, _q.status)
            )
        ).all()
        oldest = (
            await conn.execute(
                sa.select(_q.priority, sa.func.min(_q.created_at))
                .where(_q.tenant_id == scope.tenant_id, _q.status == "pending")
                .group_by(_q.priority)
            )
        ).all()
    by_priority: dict[int, dict[str, Any]] = {}
    for priority, status, n in counts:
        entry = by_priority.setdefault(int(priority or 5), {"priority": int(priority or 5)})
        entry[str(status)] = int(n)
    for priority, created in oldest:
        entry = by_priority.setdefault(int(priority or 5), {"priority": int(priority or 5)})
        at = as_utc(created)
        entry["oldest_pending_at"] = at.isoformat() if at else None
        entry["oldest_pending_age_s"] = (
            round((scope.now - at).total_seconds(), 1) if at is not None else None
        )
    return [
        {"pending": 0, "processing": 0, "failed": 0, "completed": 0, **by_priority[p]}
        for p in sorted(by_priority)
    ]


async def _execution_rows(scope: MetricScope) -> list[sa.RowMapping]:
    query = (
        sa.select(
            _x.id,
            _x.status,
            _x.execution_platform,
            _x.execution_time_ms,
            _x.retry_count,
            _x.routing,
            _x.started_at,
            _x.trigger_event_id,
            workflow_definitions.c.name.label("workflow"),
        )
        .select_from(
            workflow_executions.outerjoin(
                workflow_definitions, workflow_definitions.c.id == _x.workflow_definition_id
            )
        )
        .where(_x.tenant_id == scope.tenant_id, _x.started_at >= scope.since)
        .order_by(_x.started_at.desc())
        .limit(SAMPLE)
    )
    async with scope.db.engine.connect() as conn:
        return list((await conn.execute(query)).mappings())


def _workflows(rows: list[sa.RowMapping]) -> list[dict[str, Any]]:
    groups: dict[tuple[str, str], list[sa.RowMapping]] = {}
    for row in rows:
        key = (row["workflow"] or "(deleted workflow)", row["execution_platform"] or "unrouted")
        groups.setdefault(key, []).append(row)
    found: list[dict[str, Any]] = []
    for (workflow, platform), members in sorted(groups.items()):
        statuses = [str(r["status"]) for r in members]
        completed, failed = statuses.count("completed"), statuses.count("failed")
        durations = [
            float(r["execution_time_ms"])
            for r in members
            if r["execution_time_ms"] is not None and r["status"] in ("completed", "failed")
        ]
        found.append(
            {
                "workflow": workflow,
                "platform": platform,
                "executions": len(members),
                "completed": completed,
                "failed": failed,
                "in_progress": len(members) - completed - failed,
                "success_rate": ratio(completed, completed + failed),
                "p50_ms": percentile(durations, 50),
                "p95_ms": percentile(durations, 95),
            }
        )
    return found


async def _failing(scope: MetricScope) -> list[dict[str, Any]]:
    query = (
        sa.select(
            _x.id,
            _x.execution_platform,
            _x.error_details,
            _x.started_at,
            _x.completed_at,
            _x.trigger_event_id,
            workflow_definitions.c.name.label("workflow"),
            _q.status.label("event_status"),
        )
        .select_from(
            workflow_executions.outerjoin(
                workflow_definitions, workflow_definitions.c.id == _x.workflow_definition_id
            ).outerjoin(event_queue, _q.id == _x.trigger_event_id)
        )
        .where(_x.tenant_id == scope.tenant_id, _x.status == "failed")
        .order_by(_x.started_at.desc())
        .limit(scope.limit)
    )
    async with scope.db.engine.connect() as conn:
        rows = list((await conn.execute(query)).mappings())
    found: list[dict[str, Any]] = []
    for row in rows:
        error = as_object(row["error_details"])
        found.append(
            {
                "id": str(row["id"]),
                "workflow": row["workflow"],
                "platform": row["execution_platform"],
                "step": error.get("step"),
                "error": str(error.get("message") or "no error message recorded"),
                "started_at": _iso(row["started_at"]),
                "completed_at": _iso(row["completed_at"]),
                "trigger_event_id": str(row["trigger_event_id"] or "") or None,
                # Retry replays the triggering event; one still queued is already retrying.
                "retryable": row["event_status"] in ("failed", "completed"),
            }
        )
    return found


def _last_error(history: Any) -> str | None:
    if isinstance(history, list) and history:
        entries = cast(list[Any], history)
        error = as_object(as_object(entries[-1]).get("error"))
        message = error.get("message")
        return str(message) if message is not None else None
    return None


async def _events(scope: MetricScope, *, status: str | None) -> list[dict[str, Any]]:
    query = sa.select(event_queue).where(_q.tenant_id == scope.tenant_id)
    if status is not None:
        query = query.where(_q.status == status)
    query = query.order_by(_q.updated_at.desc(), _q.created_at.desc()).limit(scope.limit)
    async with scope.db.engine.connect() as conn:
        rows = list((await conn.execute(query)).mappings())
    return [
        {
            "id": str(row["id"]),
            "event_type": row["event_type"],
            "status": row["status"],
            "priority": row["priority"],
            "attempts": row["attempts"],
            "customer_id": row["customer_id"],
            "created_at": _iso(row["created_at"]),
            "updated_at": _iso(row["updated_at"]),
            "last_error": _last_error(row["error_details"]),
        }
        for row in rows
    ]


async def dashboard_snapshot(
    db: Database,
    tenant_id: uuid.UUID,
    *,
    now: datetime | None = None,
    window: timedelta = timedelta(days=7),
    limit: int = 20,
    registry: ResilienceRegistry = DEFAULT_REGISTRY,
) -> dict[str, Any]:
    """Every number the dashboard shows, for one tenant, as JSON-ready values."""
    now = now or datetime.now(UTC)
    scope = MetricScope(db, tenant_id, now, now - window, limit)
    rows = await _execution_rows(scope)
    return {
        "generated_at": now.isoformat(),
        "window_days": round(window.total_seconds() / 86400, 2),
        "platforms": await _platforms(scope, registry),
        "queue": await _queue(scope),
        "workflows": _workflows(rows),
        "failing_executions": await _failing(scope),
        "dead_letters": await _events(scope, status="failed"),
        "recent_events": await _events(scope, status=None),
        "success_metrics": await success_metrics(scope, rows),
    }
