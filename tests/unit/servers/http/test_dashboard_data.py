"""The dashboard's numbers: per tenant, from the database, with the spec's success metrics."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from orchestration.platforms.resilience import ResilienceRegistry
from servers.http.dashboard_data import dashboard_snapshot
from servers.http.success_metrics import percentile
from shared.db.crm_tables import accounts, activities
from shared.db.database import Database
from shared.db.orchestration_tables import (
    event_queue,
    external_tool_configs,
    workflow_definitions,
    workflow_executions,
)
from shared.tenants import create_tenant

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


async def _insert(db: Database, table: sa.Table, **values: Any) -> uuid.UUID:
    row_id = values.pop("id", None) or uuid.uuid4()
    async with db.transaction() as conn:
        await conn.execute(sa.insert(table).values(id=row_id, **values))
    return row_id


async def _seed(db: Database, tenant_id: uuid.UUID) -> dict[str, uuid.UUID]:
    definition = await _insert(
        db,
        workflow_definitions,
        tenant_id=tenant_id,
        name="Call hot leads",
        trigger_type="event",
        workflow_steps=[],
    )
    ids: dict[str, uuid.UUID] = {}
    # Five executions of one workflow on the internal engine, each triggered by an event
    # created 100 ms * n before it started.
    for n, (status, ms, retries) in enumerate(
        [
            ("completed", 100, 0),
            ("completed", 200, 1),
            ("completed", 300, 0),
            ("failed", 400, 0),
            ("running", None, 0),
        ],
        start=1,
    ):
        created = NOW - timedelta(minutes=10 * n)
        event = await _insert(
            db,
            event_queue,
            tenant_id=tenant_id,
            event_type="lead_qualified",
            event_data={},
            priority=2,
            status="failed" if status == "failed" else "completed",
            created_at=created,
            updated_at=created,
            error_details=[{"error": {"message": "ClickUp refused the task"}}]
            if status == "failed"
            else None,
        )
        execution = await _insert(
            db,
            workflow_executions,
            tenant_id=tenant_id,
            workflow_definition_id=definition,
            trigger_event_id=event,
            execution_platform="internal",
            status=status,
            started_at=created + timedelta(milliseconds=100 * n),
            execution_time_ms=ms,
            retry_count=retries,
            error_details={"step": "create task", "message": "ClickUp refused the task"}
            if status == "failed"
            else None,
        )
        ids[f"{status}-{n}"] = execution
        if status == "failed":
            ids["failed_event"] = event
    # A failover that rescued an execution counts as resolved.
    await _insert(
        db,
        workflow_executions,
        tenant_id=tenant_id,
        workflow_definition_id=definition,
        execution_platform="make",
        status="completed",
        started_at=NOW - timedelta(minutes=1),
        execution_time_ms=1000,
        routing={"ran_on": "make", "failed_over": True},
    )
    await _insert(
        db,
        event_queue,
        tenant_id=tenant_id,
        event_type="churn_risk_detected",
        event_data={},
        priority=1,
        status="pending",
        created_at=NOW - timedelta(seconds=45),
    )
    account = await _insert(db, accounts, tenant_id=tenant_id, name="Smile Dental")
    # Lead processing: prospect identified, qualified 30 minutes later, a call created by
    # automation 20 minutes after that.
    for event_type, minutes in (("prospect_identified", 60), ("lead_qualified", 30)):
        await _insert(
            db,
            event_queue,
            tenant_id=tenant_id,
            event_type=event_type,
            event_data={},
            customer_id=str(account),
            status="completed",
            created_at=NOW - timedelta(minutes=minutes),
        )
    await _insert(
        db,
        external_tool_configs,
        tenant_id=tenant_id,
        tool_name="n8n",
        connection_status="degraded",
        health_check_results={"circuit_state": "closed", "latency_ms": 80, "detail": "slow"},
        monthly_api_calls=12,
    )
    for created_by, kind, minutes in (
        ("automation", "follow_up_call", 10),
        ("automation", "task", 50),  # before the qualification: not its follow-up
        ("agent", "email", 60),
        ("manual", "call", 60),
        ("manual", "note", 60),
    ):
        await _insert(
            db,
            activities,
            tenant_id=tenant_id,
            account_id=account,
            kind=kind,
            subject="follow up",
            created_by=created_by,
            created_at=NOW - timedelta(minutes=minutes),
        )
    return ids


async def test_snapshot_measures_the_tenants_operations(any_db: Database) -> None:
    tenant = await create_tenant(any_db, "acme")
    ids = await _seed(any_db, tenant.id)
    registry = ResilienceRegistry(failure_threshold=1)
    registry.breaker(str(tenant.id), "n8n").record_failure()  # this process saw n8n fail

    data = await dashboard_snapshot(any_db, tenant.id, now=NOW, registry=registry)

    [platform] = data["platforms"]
    assert platform["platform"] == "n8n"
    assert platform["connection_status"] == "degraded"
    assert platform["circuit_state"] == "open"
    assert platform["latency_ms"] == 80
    by_priority = {q["priority"]: q for q in data["queue"]}
    assert by_priority[1]["pending"] == 1
    assert by_priority[1]["oldest_pending_age_s"] == 45
    assert by_priority[2]["failed"] == 1
    workflows = {(w["workflow"], w["platform"]): w for w in data["workflows"]}
    internal = workflows[("Call hot leads", "internal")]
    assert internal["executions"] == 5
    assert internal["in_progress"] == 1
    assert internal["success_rate"] == 0.75
    assert internal["p50_ms"] == 200
    assert internal["p95_ms"] == 400
    [failing] = data["failing_executions"]
    assert failing["id"] == str(ids["failed-4"])
    assert failing["step"] == "create task"
    assert failing["error"] == "ClickUp refused the task"
    assert failing["retryable"] is True
    [dead] = data["dead_letters"]
    assert dead["id"] == str(ids["failed_event"])
    assert dead["last_error"] == "ClickUp refused the task"
    assert len(data["recent_events"]) == 8

    metrics = data["success_metrics"]
    assert metrics["event_to_dispatch_p95_ms"] == 500
    assert metrics["event_to_dispatch_samples"] == 5
    assert metrics["workflow_success_rate"] == 0.8  # 4 completed of 5 finished
    # Resolved: one by retry, one by failover; unresolved: one failure.
    assert metrics["failures_resolved_by_retry_or_failover"] == round(2 / 3, 4)
    assert metrics["lead_processing_p50_s"] == 1800
    assert metrics["qualified_to_task_p50_s"] == 1200
    assert metrics["follow_ups_by_automation"] == {"share": 0.75, "automated": 3, "total": 4}
    # No reconciliation has run and no execution synced anything: nothing to measure yet.
    assert metrics["sync_accuracy_pct"] is None and metrics["sync_reconciliation"] is None
    assert metrics["sync_latency_p95_ms"] is None and metrics["sync_latency_samples"] == 0


async def test_snapshot_shows_nothing_of_another_tenant(any_db: Database) -> None:
    acme = await create_tenant(any_db, "acme")
    globex = await create_tenant(any_db, "globex")
    await _seed(any_db, acme.id)

    data = await dashboard_snapshot(any_db, globex.id, now=NOW)

    assert data["platforms"] == []
    assert data["queue"] == []
    assert data["workflows"] == []
    assert data["failing_executions"] == []
    assert data["dead_letters"] == []
    assert data["recent_events"] == []
    metrics = data["success_metrics"]
    assert metrics["workflow_success_rate"] is None
    assert metrics["event_to_dispatch_p95_ms"] is None
    assert metrics["follow_ups_by_automation"]["total"] == 0


async def test_snapshot_leaves_out_executions_older_than_the_window(sqlite_db: Database) -> None:
    tenant = await create_tenant(sqlite_db, "acme")
    await _seed(sqlite_db, tenant.id)
    data = await dashboard_snapshot(sqlite_db, tenant.id, now=NOW, window=timedelta(minutes=25))
    internal = {w["platform"]: w for w in data["workflows"]}["internal"]
    assert internal["executions"] == 2  # started 10 and 20 minutes before NOW


def test_percentile_is_nearest_rank() -> None:
    assert percentile([], 95) is None
    assert percentile([5.0], 50) == 5.0
    assert percentile([float(n) for n in range(1, 101)], 95) == 95.0
    assert percentile([4.0, 1.0, 3.0, 2.0], 50) == 2.0


def _state(action: str, step: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "plan": [{"key": "sync", "name": "sync", "action": action, "fields": {}}],
        "steps": {"sync": step} if step is not None else {},
    }


async def test_sync_latency_is_measured_both_ways_from_the_change(any_db: Database) -> None:
    tenant = await create_tenant(any_db, "acme")
    changed = NOW - timedelta(hours=1)

    async def run(
        source: str,
        state: dict[str, Any],
        *,
        platform: str = "internal",
        occurred_at: datetime | None = None,
        completed_after_s: float | None = None,
    ) -> None:
        event = await _insert(
            any_db,
            event_queue,
            tenant_id=tenant.id,
            event_type="lead_qualified" if source == "crm" else "clickup_task_status_updated",
            event_data={},
            event_source=source,
            created_at=changed + timedelta(seconds=1),
            occurred_at=occurred_at,
        )
        await _insert(
            any_db,
            workflow_executions,
            tenant_id=tenant.id,
            trigger_event_id=event,
            execution_platform=platform,
            status="completed",
            started_at=changed + timedelta(seconds=1),
            completed_at=changed + timedelta(seconds=completed_after_s)
            if completed_after_s is not None
            else None,
            step_state=state,
        )

    def done(after_s: float) -> dict[str, Any]:
        return {
            "status": "completed",
            "finished_at": (changed + timedelta(seconds=after_s)).isoformat(),
        }

    # CRM -> ClickUp on the internal engine: the event (created 1 s after the change) to
    # the task step finished 3 s after the change -> 2 s.
    await run("crm", _state("create_clickup_task", done(3)))
    # The same sync run on Make: the whole execution's end, 6 s after -> 5 s.
    await run("crm", _state("create_clickup_task", None), platform="make", completed_after_s=6)
    # ClickUp -> CRM: from the change in ClickUp (occurred_at), not the event's arrival.
    await run("clickup", _state("update_crm", done(4)), occurred_at=changed)
    # A skipped sync step and an unrelated workflow are no samples.
    await run("crm", _state("create_clickup_task", {"status": "skipped"}))
    await run("crm", _state("create_activity", done(9)))

    metrics = (await dashboard_snapshot(any_db, tenant.id, now=NOW))["success_metrics"]
    assert metrics["sync_latency_samples"] == 3
    assert metrics["sync_latency_p50_ms"] == 4000
    assert metrics["sync_latency_p95_ms"] == 5000
    assert metrics["sync_latency_by_direction"] == {
        "crm_to_clickup": {"p95_ms": 5000, "samples": 2},
        "clickup_to_crm": {"p95_ms": 4000, "samples": 1},
    }
