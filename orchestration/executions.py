"""workflow_executions: one row per (triggering event, workflow), with its checkpoints.

Status is the spec's running | completed | failed | retrying, plus `waiting` for an
execution parked by a durable `wait` step (resume_at says until when). `step_state` holds
what a crash must not lose: the steps as they were when the execution started (a later
edit of the definition does not change a running execution), the triggering event, and
each finished step's output.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.db.database import Database
from shared.db.orchestration_tables import workflow_definitions, workflow_executions
from shared.errors import NotFoundError

__all__ = [
    "STATUSES",
    "ExecutionRecord",
    "execution_select",
    "get_execution",
    "insert_execution",
    "list_executions",
    "load_execution",
    "record_from_row",
    "saved_workflow_name",
    "update_execution",
]

STATUSES = ("running", "waiting", "retrying", "completed", "failed")
_x = workflow_executions


@dataclass(frozen=True)
class ExecutionRecord:
    id: uuid.UUID
    tenant_id: uuid.UUID
    workflow_definition_id: uuid.UUID | None
    workflow_name: str | None
    workflow_version: int | None
    trigger_event_id: uuid.UUID | None
    execution_platform: str | None
    status: str
    started_at: datetime | None
    completed_at: datetime | None
    execution_result: dict[str, Any] | None
    error_details: dict[str, Any] | None
    retry_count: int
    execution_time_ms: int | None
    memory_usage_mb: float | None
    external_api_calls: int
    routing: dict[str, Any] | None
    step_state: dict[str, Any]
    resume_at: datetime | None

    def as_dict(self, *, with_state: bool = False) -> dict[str, Any]:
        shown: dict[str, Any] = {
            "id": str(self.id),
            "workflow": self.workflow_name,
            "workflow_definition_id": _str(self.workflow_definition_id),
            "workflow_version": self.workflow_version,
            "trigger_event_id": _str(self.trigger_event_id),
            "execution_platform": self.execution_platform,
            "status": self.status,
            "started_at": _iso(self.started_at),
            "completed_at": _iso(self.completed_at),
            "resume_at": _iso(self.resume_at),
            "execution_time_ms": self.execution_time_ms,
            "memory_usage_mb": self.memory_usage_mb,
            "external_api_calls": self.external_api_calls,
            "retry_count": self.retry_count,
            "routing": self.routing,
            "error_details": self.error_details,
            "execution_result": self.execution_result,
        }
        if with_state:
            shown["steps"] = self.step_state.get("steps", {})
        return shown


def _str(value: uuid.UUID | None) -> str | None:
    return str(value) if value is not None else None


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def execution_select() -> sa.Select[Any]:
    """Execution rows with their workflow's name (read with record_from_row)."""
    return sa.select(_x, workflow_definitions.c.name.label("workflow_name")).outerjoin(
        workflow_definitions, workflow_definitions.c.id == _x.c.workflow_definition_id
    )


def saved_workflow_name(state: Any) -> str | None:
    """The name recorded at start, for an execution whose definition was deleted."""
    if isinstance(state, dict):
        name = cast(dict[str, Any], state).get("workflow_name")
        return name if isinstance(name, str) else None
    return None


_new_record = object.__new__  # an ExecutionRecord with no fields set yet (record_from_row)


def record_from_row(row: Mapping[Any, Any]) -> ExecutionRecord:
    """An execution as read back, or as a new one's values say before it is written: a
    column missing from `row` reads as NULL, the workflow's name from its step_state (as for
    a row whose definition is gone)."""
    get = row.get
    state = get("step_state")
    name = get("workflow_name")
    if not name:  # saved_workflow_name(state), inlined (a new execution's every time)
        saved: Any = None
        if isinstance(state, dict):
            saved = cast(dict[str, Any], state).get("workflow_name")
        name = saved if isinstance(saved, str) else None
    # The fields as ExecutionRecord(...) would set them, filled in directly: a frozen
    # dataclass's __init__ sets each of its 19 fields through object.__setattr__, which costs
    # more than the rest of this function (tests/unit/orchestration/test_executions.py
    # compares the two).
    record = _new_record(ExecutionRecord)
    vars(record).update(
        id=row["id"],
        tenant_id=row["tenant_id"],
        workflow_definition_id=get("workflow_definition_id"),
        workflow_name=name,
        workflow_version=get("workflow_version"),
        trigger_event_id=get("trigger_event_id"),
        execution_platform=get("execution_platform"),
        status=get("status") or "running",
        started_at=get("started_at"),
        completed_at=get("completed_at"),
        execution_result=get("execution_result"),
        error_details=get("error_details"),
        retry_count=get("retry_count") or 0,
        execution_time_ms=get("execution_time_ms"),
        memory_usage_mb=get("memory_usage_mb"),
        external_api_calls=get("external_api_calls") or 0,
        routing=get("routing"),
        step_state=state or {},
        resume_at=get("resume_at"),
    )
    return record


async def load_execution(
    conn: AsyncConnection, tenant_id: uuid.UUID, execution_id: uuid.UUID
) -> ExecutionRecord | None:
    row = (
        (
            await conn.execute(
                execution_select().where(_x.c.id == execution_id, _x.c.tenant_id == tenant_id)
            )
        )
        .mappings()
        .first()
    )
    return record_from_row(row) if row is not None else None


async def insert_execution(conn: AsyncConnection, **values: Any) -> ExecutionRecord:
    new_id = uuid.uuid4()
    await conn.execute(sa.insert(_x).values(id=new_id, **values))
    found = await load_execution(conn, values["tenant_id"], new_id)
    assert found is not None
    return found


async def update_execution(conn: AsyncConnection, execution_id: uuid.UUID, **values: Any) -> None:
    await conn.execute(sa.update(_x).where(_x.c.id == execution_id).values(**values))


async def list_executions(
    db: Database,
    tenant_id: uuid.UUID,
    *,
    status: str | None = None,
    workflow: str | None = None,
    limit: int = 50,
) -> list[ExecutionRecord]:
    """Newest first; `workflow` is a definition name."""
    query = execution_select().where(_x.c.tenant_id == tenant_id)
    if status is not None:
        query = query.where(_x.c.status == status)
    if workflow is not None:
        query = query.where(workflow_definitions.c.name == workflow)
    query = query.order_by(_x.c.started_at.desc(), _x.c.id).limit(limit)
    async with db.engine.connect() as conn:
        return [record_from_row(r) for r in (await conn.execute(query)).mappings()]


async def get_execution(db: Database, tenant_id: uuid.UUID, execution_id: str) -> ExecutionRecord:
    """Raises NotFoundError for a malformed id or one not in this tenant."""
    try:
        wanted = uuid.UUID(execution_id)
    except ValueError:
        raise NotFoundError(
            f"'{execution_id}' is not an execution id; `switchboard executions list` shows them"
        ) from None
    async with db.engine.connect() as conn:
        found = await load_execution(conn, tenant_id, wanted)
    if found is None:
        raise NotFoundError(
            f"no execution {execution_id} in this tenant; `switchboard executions list` shows them"
        )
    return found
