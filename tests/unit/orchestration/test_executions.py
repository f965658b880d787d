"""record_from_row fills an ExecutionRecord's fields directly (no frozen-dataclass __init__):
the records it makes must be the ones ExecutionRecord(...) makes from the same row."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from orchestration.executions import ExecutionRecord, record_from_row, saved_workflow_name

_AT = datetime(2026, 11, 27, 4, 0, tzinfo=UTC)


def _through_init(row: dict[str, Any]) -> ExecutionRecord:
    """What record_from_row made before its fast path: the same reads, through __init__."""
    get = row.get
    state = get("step_state")
    return ExecutionRecord(
        id=row["id"],
        tenant_id=row["tenant_id"],
        workflow_definition_id=get("workflow_definition_id"),
        workflow_name=get("workflow_name") or saved_workflow_name(state),
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


def _ids() -> dict[str, Any]:
    return {"id": uuid.uuid4(), "tenant_id": uuid.uuid4()}


ROWS: list[dict[str, Any]] = [
    # A new execution as the journal starts it (no workflow_name column: from step_state).
    {
        **_ids(),
        "workflow_definition_id": uuid.uuid4(),
        "trigger_event_id": uuid.uuid4(),
        "execution_platform": "internal",
        "customer_id": None,
        "status": "running",
        "started_at": _AT,
        "workflow_version": 3,
        "routing": {"platform": None, "reason": "routing: choosing a platform"},
        "retry_count": 0,
        "external_api_calls": 0,
        "step_state": {"workflow_name": "Qualify", "plan": [], "steps": {}},
    },
    # A stored row read back, every column set.
    {
        **_ids(),
        "workflow_definition_id": uuid.uuid4(),
        "workflow_name": "From the join",
        "workflow_version": 1,
        "trigger_event_id": uuid.uuid4(),
        "execution_platform": "n8n",
        "status": "failed",
        "started_at": _AT,
        "completed_at": _AT,
        "execution_result": {"outputs": {}},
        "error_details": {"message": "no"},
        "retry_count": 2,
        "execution_time_ms": 12,
        "memory_usage_mb": 80.5,
        "external_api_calls": 4,
        "routing": {"ran_on": "n8n"},
        "step_state": {"workflow_name": "Saved name"},
        "resume_at": _AT,
    },
    # Nothing but the ids: every default.
    _ids(),
    # NULLs where defaults apply, and names that are not usable.
    {**_ids(), "status": None, "retry_count": None, "step_state": None, "workflow_name": None},
    {**_ids(), "workflow_name": "", "step_state": {"workflow_name": ""}},
    {**_ids(), "workflow_name": "", "step_state": {"workflow_name": 7}},
    {**_ids(), "step_state": {"workflow_name": None, "steps": {"a": {"status": "completed"}}}},
    {**_ids(), "step_state": {}},
]


@pytest.mark.parametrize("row", ROWS)
def test_record_from_row_makes_the_record_init_makes(row: dict[str, Any]) -> None:
    fast, general = record_from_row(row), _through_init(row)
    assert fast == general
    assert repr(fast) == repr(general)
    assert vars(fast) == vars(general)  # every field set, nothing else
    assert type(fast) is ExecutionRecord


def test_record_from_row_sets_every_field_a_record_declares() -> None:
    # A field added to ExecutionRecord but not to record_from_row would be missing here.
    record = record_from_row(ROWS[0])
    assert set(vars(record)) == {f.name for f in dataclasses.fields(ExecutionRecord)}


def test_record_from_row_makes_a_frozen_record() -> None:
    record = record_from_row(ROWS[1])
    with pytest.raises(dataclasses.FrozenInstanceError):
        record.status = "completed"  # type: ignore[misc]
    assert dataclasses.replace(record, status="completed").status == "completed"
    assert record.status == "failed"
