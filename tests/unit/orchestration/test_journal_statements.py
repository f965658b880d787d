"""workflow_executions writes compiled for asyncpg: parameters, defaults, JSON null."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from orchestration.journal_statements import ExecutionWrites
from shared.db.engine import engine_for_url

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.fixture
def writes() -> ExecutionWrites:
    # The engine's own dialect (its JSON serializer); nothing connects.
    engine = engine_for_url("postgresql+asyncpg://u:p@127.0.0.1:1/none")
    return ExecutionWrites(engine.sync_engine.dialect)


def test_an_insert_sends_each_value_once_with_the_python_side_created_at(
    writes: ExecutionWrites,
) -> None:
    execution_id, tenant_id = uuid.uuid4(), uuid.uuid4()
    statement = writes.insert(["id", "tenant_id", "status", "started_at", "error_details"])
    names = [name for name, _ in statement.parameters]
    assert sorted(names) == sorted(
        ["id", "tenant_id", "status", "started_at", "error_details", "created_at"]
    )
    assert statement.sql.count("$") == len(names)
    row = dict(
        zip(
            names,
            statement.arguments(
                {
                    "id": execution_id,
                    "tenant_id": tenant_id,
                    "status": "running",
                    "started_at": NOW,
                    "error_details": None,
                }
            ),
            strict=True,
        )
    )
    assert (row["id"], row["tenant_id"], row["status"]) == (execution_id, tenant_id, "running")
    assert row["started_at"] == NOW
    assert row["error_details"] == "null"  # JSON null, as SQLAlchemy sends a JSON None
    assert isinstance(row["created_at"], datetime) and row["created_at"].tzinfo is not None
    assert writes.insert(["status", "started_at", "error_details", "id", "tenant_id"]) is statement


def test_an_update_sets_its_columns_where_the_id_matches(writes: ExecutionWrites) -> None:
    statement = writes.update(["id", "status", "step_state"])  # as an update op's keys
    names = [name for name, _ in statement.parameters]
    assert sorted(names) == ["id", "status", "step_state"]
    assert statement.sql.startswith("UPDATE workflow_executions SET")
    assert " id=" not in statement.sql  # the id is matched, not set
    values = statement.arguments({"id": uuid.UUID(int=1), "status": "done", "step_state": {"a": 1}})
    assert dict(zip(names, values, strict=True))["step_state"] == '{"a":1}'


def test_a_naive_timestamp_is_refused_as_sqlalchemy_refuses_it(writes: ExecutionWrites) -> None:
    statement = writes.update(["completed_at"])
    with pytest.raises(ValueError, match="naive datetime"):
        statement.arguments({"id": uuid.UUID(int=1), "completed_at": datetime(2026, 1, 1)})
