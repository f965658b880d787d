"""Fake services counting every call, and helpers to hand the handler a claimed event."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from orchestration.queue.types import ClaimedEvent
from orchestration.workflows.errors import TransientStepError
from orchestration.workflows.services import Services
from shared.db.database import Database
from shared.db.orchestration_tables import event_queue
from shared.db.types import utcnow


class Crash(BaseException):
    """Stands for the process dying mid-step: nothing below the test catches it."""


class FakeCrm:
    def __init__(self) -> None:
        self.updates: list[tuple[str, dict[str, Any], str]] = []
        self.activities: list[tuple[dict[str, Any], datetime | None, str]] = []
        self.campaigns: list[dict[str, Any]] = []
        self.crash_on_activity = 0  # crash this many times before succeeding
        self.records: list[dict[str, Any]] = [{"id": "a1", "churn_probability": 0.8}]

    async def query(
        self, table: str, *, fields: list[str] | None, filter: str | None, limit: int
    ) -> list[dict[str, Any]]:
        return self.records[:limit]

    async def update(
        self, table: str, record_id: str | None, data: dict[str, Any], *, idempotency_key: str
    ) -> dict[str, Any]:
        self.updates.append((table, data, idempotency_key))
        return {"updated": table, **data}

    async def create_campaign(
        self, campaign: dict[str, Any], *, idempotency_key: str
    ) -> dict[str, Any]:
        self.campaigns.append(campaign)
        return {"campaign_id": f"c{len(self.campaigns)}"}

    async def create_activity(
        self, activity: dict[str, Any], due_at: datetime | None, *, idempotency_key: str
    ) -> dict[str, Any]:
        self.activities.append((activity, due_at, idempotency_key))
        if self.crash_on_activity > 0:
            self.crash_on_activity -= 1
            raise Crash
        return {"activity_id": f"a{len(self.activities)}"}


class FakeAnalyzer:
    async def analyze(self, kind: str, data: dict[str, Any]) -> dict[str, Any]:
        return {"kind": kind, "score": data.get("rating", 0) * 20}


class FakeClickUp:
    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.transient_failures = 0

    async def create_task(self, task: dict[str, Any], *, idempotency_key: str) -> dict[str, Any]:
        self.calls[idempotency_key] += 1
        if self.transient_failures > 0:
            self.transient_failures -= 1
            raise TransientStepError("ClickUp answered 503")
        return {"task_id": f"t{sum(self.calls.values())}", "name": task["name"]}


def fake_services() -> tuple[Services, FakeCrm, FakeClickUp]:
    crm, clickup = FakeCrm(), FakeClickUp()
    return Services(crm=crm, analyzer=FakeAnalyzer(), clickup=clickup), crm, clickup


def claimed(
    tenant_id: uuid.UUID,
    event_type: str,
    data: dict[str, Any],
    *,
    queue_id: uuid.UUID | None = None,
    attempts: int = 1,
    chain_depth: int = 0,
    triggers: list[str] | None = None,
) -> ClaimedEvent:
    now = utcnow()
    queue_id = queue_id or uuid.uuid4()
    return ClaimedEvent(
        id=queue_id,
        tenant_id=tenant_id,
        event_id=f"evt-{queue_id}",
        event_type=event_type,
        event_data=data,
        event_source="crm",
        customer_id="cust-1",
        priority=5,
        attempts=attempts,
        max_retries=3,
        chain_depth=chain_depth,
        workflow_triggers=triggers,
        created_at=now,
        scheduled_for=now,
    )


async def queued_event(db: Database, event_type: str) -> ClaimedEvent:
    """The one queued event of a type, as a worker would claim it."""
    async with db.engine.connect() as conn:
        row = (
            (
                await conn.execute(
                    sa.select(event_queue).where(event_queue.c.event_type == event_type)
                )
            )
            .mappings()
            .one()
        )
    return ClaimedEvent(
        id=row["id"],
        tenant_id=row["tenant_id"],
        event_id=row["event_id"],
        event_type=row["event_type"],
        event_data=dict(row["event_data"]),
        event_source=row["event_source"],
        customer_id=row["customer_id"],
        priority=row["priority"],
        attempts=1,
        max_retries=row["max_retries"],
        chain_depth=row["chain_depth"],
        workflow_triggers=row["workflow_triggers"],
        created_at=row["created_at"],
        scheduled_for=row["scheduled_for"],
    )
