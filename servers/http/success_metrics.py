"""The spec's success metrics, measured live for one tenant over a window.

event_to_dispatch_p95_ms     an event's creation to its first execution's start
workflow_success_rate        completed / (completed + failed) executions
failures_resolved_by_retry_or_failover
                             executions that completed after a retry or a failover,
                             over those plus the ones that failed for good
lead_processing_p50/p95_s    first prospect_identified to first lead_qualified event
                             of the same customer
qualified_to_task_p50_s      lead_qualified to the first follow-up automation created
follow_ups_by_automation     share of follow-up activities (all kinds but notes) created
                             by automation or an agent rather than by hand
sync_accuracy_pct            the latest ClickUp reconciliation's share of compared fields
                             that agreed (`sync_reconciliations`; `sync_reconciliation`
                             has that run's figures and the window's runs together)
sync_latency_p50/p95_ms      a change to its counterpart written, per synced change:
                             CRM -> ClickUp: the triggering event's time to the finish of
                             the execution's first create_clickup_task step (or of the
                             whole execution when n8n/Make ran it); ClickUp -> CRM: the
                             change's time in ClickUp (the webhook's history item, kept as
                             the event's occurred_at) to the first update_crm step finished
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

import sqlalchemy as sa

from orchestration.events.models import StandardEventType
from shared.db.crm_tables import activities
from shared.db.database import Database
from shared.db.orchestration_tables import event_queue, sync_reconciliations, workflow_executions

__all__ = [
    "FOLLOW_UP_KINDS",
    "SAMPLE",
    "SYNC_STEP_ACTIONS",
    "MetricScope",
    "as_object",
    "as_utc",
    "percentile",
    "ratio",
    "success_metrics",
]

# Follow-up actions for the "created by automation" share: everything but plain notes.
FOLLOW_UP_KINDS = ("call", "email", "meeting", "task", "follow_up_call", "sms")
SAMPLE = 5000  # newest rows a percentile is computed over
# Step actions that write a change to its counterpart, by the event source they sync from.
SYNC_STEP_ACTIONS = {"crm_to_clickup": "create_clickup_task", "clickup_to_crm": "update_crm"}
_q = event_queue.c
_x = workflow_executions.c
_r = sync_reconciliations.c


def percentile(values: Sequence[float], pct: float) -> float | None:
    """Nearest-rank percentile (pct in 0..100); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def as_utc(value: Any) -> datetime | None:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return None


def ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def as_object(value: Any) -> dict[str, Any]:
    return cast(dict[str, Any], value) if isinstance(value, dict) else {}


@dataclass(frozen=True)
class MetricScope:
    """One tenant, a window [since, now] and how many rows a listing shows."""

    db: Database
    tenant_id: uuid.UUID
    now: datetime
    since: datetime
    limit: int


async def _dispatch_latencies_ms(scope: MetricScope) -> list[float]:
    """Per event: its first execution's start minus the event's creation."""
    first_start = sa.func.min(_x.started_at)
    query = (
        sa.select(_q.created_at, first_start)
        .select_from(event_queue.join(workflow_executions, _x.trigger_event_id == _q.id))
        .where(_q.tenant_id == scope.tenant_id, _q.created_at >= scope.since)
        .group_by(_q.id, _q.created_at)
        .limit(SAMPLE)
    )
    async with scope.db.engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    latencies: list[float] = []
    for created, started in rows:
        created_at, started_at = as_utc(created), as_utc(started)
        if created_at is not None and started_at is not None:
            latencies.append(max(0.0, (started_at - created_at).total_seconds() * 1000))
    return latencies


async def _automated_follow_ups(scope: MetricScope) -> dict[str, list[datetime]]:
    """When automation (or an agent) created follow-ups, per account id."""
    query = (
        sa.select(activities.c.account_id, activities.c.created_at)
        .where(
            activities.c.tenant_id == scope.tenant_id,
            activities.c.kind.in_(FOLLOW_UP_KINDS),
            activities.c.created_by != "manual",
            activities.c.created_at >= scope.since,
        )
        .limit(SAMPLE)
    )
    found: dict[str, list[datetime]] = {}
    async with scope.db.engine.connect() as conn:
        for account, created in (await conn.execute(query)).all():
            when = as_utc(created)
            if when is not None:
                found.setdefault(str(account), []).append(when)
    return found


async def _lead_processing_s(scope: MetricScope) -> tuple[list[float], list[float]]:
    """Per customer, in seconds: prospect_identified to lead_qualified (first of each), and
    lead_qualified to the first follow-up automation created after it."""
    at = sa.func.coalesce(_q.occurred_at, _q.created_at)
    query = (
        sa.select(_q.customer_id, _q.event_type, sa.func.min(at))
        .where(
            _q.tenant_id == scope.tenant_id,
            _q.customer_id.is_not(None),
            _q.created_at >= scope.since,
            _q.event_type.in_(
                (
                    StandardEventType.PROSPECT_IDENTIFIED.value,
                    StandardEventType.LEAD_QUALIFIED.value,
                )
            ),
        )
        .group_by(_q.customer_id, _q.event_type)
    )
    async with scope.db.engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    firsts: dict[str, dict[str, datetime]] = {}
    for customer, event_type, first in rows:
        when = as_utc(first)
        if when is not None:
            firsts.setdefault(str(customer), {})[str(event_type)] = when
    follow_ups = await _automated_follow_ups(scope)
    to_qualified: list[float] = []
    to_task: list[float] = []
    for customer, seen in firsts.items():
        identified = seen.get(StandardEventType.PROSPECT_IDENTIFIED.value)
        qualified = seen.get(StandardEventType.LEAD_QUALIFIED.value)
        if qualified is None:
            continue
        if identified is not None and qualified >= identified:
            to_qualified.append((qualified - identified).total_seconds())
        later = [t for t in follow_ups.get(customer, []) if t >= qualified]
        if later:
            to_task.append((min(later) - qualified).total_seconds())
    return to_qualified, to_task


async def _automation_share(scope: MetricScope) -> dict[str, Any]:
    query = (
        sa.select(activities.c.created_by, sa.func.count())
        .where(
            activities.c.tenant_id == scope.tenant_id,
            activities.c.kind.in_(FOLLOW_UP_KINDS),
            activities.c.created_at >= scope.since,
        )
        .group_by(activities.c.created_by)
    )
    async with scope.db.engine.connect() as conn:
        counts = {str(by): int(n) for by, n in (await conn.execute(query)).all()}
    total = sum(counts.values())
    automated = total - counts.get("manual", 0)  # automation and agents alike
    return {"share": ratio(automated, total), "automated": automated, "total": total}


async def _sync_reconciliation(scope: MetricScope) -> dict[str, Any] | None:
    """The latest reconciliation run's figures and the window's runs added up."""
    window = (_r.tenant_id == scope.tenant_id, _r.finished_at >= scope.since)
    async with scope.db.engine.connect() as conn:
        latest = (
            (
                await conn.execute(
                    sa.select(sync_reconciliations)
                    .where(_r.tenant_id == scope.tenant_id)
                    .order_by(_r.finished_at.desc())
                    .limit(1)
                )
            )
            .mappings()
            .first()
        )
        runs, compared, matching = (
            await conn.execute(
                sa.select(
                    sa.func.count(),
                    sa.func.coalesce(sa.func.sum(_r.fields_compared), 0),
                    sa.func.coalesce(sa.func.sum(_r.fields_matching), 0),
                ).where(*window)
            )
        ).one()
    if latest is None:
        return None
    finished = as_utc(latest["finished_at"])
    return {
        "accuracy_pct": latest["accuracy_pct"],
        "finished_at": finished.isoformat() if finished else None,
        "records": latest["records"],
        "fields_compared": latest["fields_compared"],
        "drifted": latest["drifted"],
        "repaired": latest["repaired"],
        "resynced": latest["resynced"],
        "runs_in_window": int(runs),
        "window_accuracy_pct": round(100.0 * int(matching) / int(compared), 2)
        if int(compared)
        else None,
    }


def _sync_latency_ms(
    state: dict[str, Any], direction: str, changed: datetime, finished: datetime | None
) -> float | None:
    """The latency of the execution's first sync step, or of the whole execution when a
    platform ran it (its steps have no records of their own then)."""
    action = SYNC_STEP_ACTIONS[direction]
    plan = [as_object(s) for s in cast(list[Any], state.get("plan") or [])]
    keys = [str(s.get("key")) for s in plan if s.get("action") == action]
    if not keys:
        return None
    steps = as_object(state.get("steps"))
    done: datetime | None = None
    for key in keys:
        record = as_object(steps.get(key))
        if record.get("status") == "completed":
            done = as_utc(record.get("finished_at"))
            break
    if done is None and not steps:
        done = finished
    if done is None:
        return None
    return max(0.0, (done - changed).total_seconds() * 1000)


async def _sync_latencies_ms(scope: MetricScope) -> dict[str, list[float]]:
    """Per synced change, in ms, by direction (crm_to_clickup, clickup_to_crm)."""
    mentions = sa.or_(
        *(sa.cast(_x.step_state, sa.Text).like(f"%{a}%") for a in SYNC_STEP_ACTIONS.values())
    )
    query = (
        sa.select(
            _x.step_state,
            _x.status,
            _x.completed_at,
            _q.event_source,
            sa.func.coalesce(_q.occurred_at, _q.created_at),
        )
        .select_from(workflow_executions.join(event_queue, _q.id == _x.trigger_event_id))
        .where(_x.tenant_id == scope.tenant_id, _x.started_at >= scope.since, mentions)
        .order_by(_x.started_at.desc())
        .limit(SAMPLE)
    )
    async with scope.db.engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    found: dict[str, list[float]] = {direction: [] for direction in SYNC_STEP_ACTIONS}
    for state, status, completed, source, changed_at in rows:
        changed = as_utc(changed_at)
        if changed is None:
            continue
        direction = "clickup_to_crm" if source == "clickup" else "crm_to_clickup"
        finished = as_utc(completed) if status == "completed" else None
        latency = _sync_latency_ms(as_object(state), direction, changed, finished)
        if latency is not None:
            found[direction].append(latency)
    return found


async def _sync_metrics(scope: MetricScope) -> dict[str, Any]:
    reconciliation = await _sync_reconciliation(scope)
    by_direction = await _sync_latencies_ms(scope)
    latencies = [v for values in by_direction.values() for v in values]
    return {
        "sync_accuracy_pct": reconciliation["accuracy_pct"] if reconciliation else None,
        "sync_reconciliation": reconciliation,
        "sync_latency_p50_ms": percentile(latencies, 50),
        "sync_latency_p95_ms": percentile(latencies, 95),
        "sync_latency_samples": len(latencies),
        "sync_latency_by_direction": {
            direction: {"p95_ms": percentile(values, 95), "samples": len(values)}
            for direction, values in by_direction.items()
        },
    }


def _recovered(row: sa.RowMapping) -> bool:
    routing = as_object(row["routing"])
    return row["status"] == "completed" and (
        (row["retry_count"] or 0) > 0 or routing.get("failed_over") is True
    )


async def success_metrics(scope: MetricScope, rows: list[sa.RowMapping]) -> dict[str, Any]:
    completed = sum(1 for r in rows if r["status"] == "completed")
    failed = sum(1 for r in rows if r["status"] == "failed")
    recovered = sum(1 for r in rows if _recovered(r))
    dispatch = await _dispatch_latencies_ms(scope)
    leads, tasks = await _lead_processing_s(scope)
    return {
        "event_to_dispatch_p95_ms": percentile(dispatch, 95),
        "event_to_dispatch_samples": len(dispatch),
        "workflow_success_rate": ratio(completed, completed + failed),
        "failures_resolved_by_retry_or_failover": ratio(recovered, recovered + failed),
        "lead_processing_p50_s": percentile(leads, 50),
        "lead_processing_p95_s": percentile(leads, 95),
        "lead_processing_samples": len(leads),
        "qualified_to_task_p50_s": percentile(tasks, 50),
        "qualified_to_task_samples": len(tasks),
        "follow_ups_by_automation": await _automation_share(scope),
        **await _sync_metrics(scope),
    }
