"""The buffered audit writer on Postgres: batches go straight to asyncpg, and leave exactly
the rows SQLAlchemy's insert (`record_audits`) leaves."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

import shared.audit
from shared.audit import AuditConfig, AuditEntry, AuditWriter, PostgresAuditRows
from shared.db.database import Database
from shared.db.schema import audit_log
from shared.tenants import create_tenant

SLOW = AuditConfig(flush_interval_s=60, max_pending=1000)  # only explicit flushes write
WHEN = datetime(2026, 11, 27, 1, 2, 3, 456789, tzinfo=UTC)


def _full_entry(
    tenant_id: uuid.UUID | None, action: str, changes: dict[str, Any] | None = None
) -> AuditEntry:
    fields: dict[str, Any] = {
        "tenant_id": tenant_id,
        "actor": "key:abc",
        "action": action,
        "outcome": "denied",
        "actor_role": "viewer",
        "target": "account:1",
        "arguments": {"text": "Café 🦷", "ids": [uuid.UUID(int=7)], "when": WHEN},
        "duration_ms": 12,
        "details": {"at": WHEN, "id": uuid.UUID(int=9), "n": [1, 2.5, None], "s": "é\x01"},
        "occurred_at": WHEN,
    }
    return AuditEntry(**(fields | (changes or {})))


async def _stored(db: Database) -> dict[str, dict[str, Any]]:
    """Every row, by action, as Postgres holds it (jsonb as its text, timestamps as text in
    UTC, NULL kept apart from JSON null)."""
    columns = [c.name for c in audit_log.c]
    select = ", ".join(
        f"{name}::text AS {name}" if name in ("details", "occurred_at") else name
        for name in columns
    )
    async with db.engine.connect() as conn:
        await conn.execute(sa.text("SET TIME ZONE 'UTC'"))
        result = await conn.execute(
            sa.text(
                f"SELECT {select}, details IS NULL AS details_is_sql_null, "
                f"jsonb_typeof(details) AS details_type FROM audit_log"
            )
        )
        rows = [dict(row) for row in result.mappings()]
    return {row["action"]: row for row in rows}


@pytest.mark.parametrize(
    "changes",
    [
        {},  # every column set, JSON with dates, UUIDs, floats and non-ASCII text
        {  # every optional column left empty
            "actor_role": None,
            "target": None,
            "arguments": None,
            "duration_ms": None,
            "details": None,
        },
        {"tenant_id": None, "details": {}},  # a system row, an empty object
    ],
)
async def test_postgres_batches_store_rows_exactly_as_sqlalchemy_does(
    postgres_db: Database, changes: dict[str, Any]
) -> None:
    tenant = await create_tenant(postgres_db, "acme")
    await shared.audit.record_audits(
        postgres_db, [_full_entry(tenant.id, "tool:sqlalchemy", changes)]
    )
    await PostgresAuditRows(postgres_db).write([_full_entry(tenant.id, "tool:asyncpg", changes)])

    stored = await _stored(postgres_db)
    by_sqlalchemy, by_asyncpg = stored.pop("tool:sqlalchemy"), stored.pop("tool:asyncpg")
    assert not stored
    for row in (by_sqlalchemy, by_asyncpg):
        del row["action"]
    # Each gets its own random id, made client-side in both (a version 4 UUID).
    assert by_sqlalchemy.pop("id").version == by_asyncpg.pop("id").version == 4
    assert by_asyncpg == by_sqlalchemy
    assert by_asyncpg["occurred_at"] == "2026-11-27 01:02:03.456789+00"


async def test_a_running_writer_on_postgres_writes_batches_through_asyncpg(
    postgres_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def unused(where: Database | AsyncConnection, entries: Sequence[AuditEntry]) -> None:
        raise AssertionError("a Postgres batch went through SQLAlchemy")

    monkeypatch.setattr(shared.audit, "record_audits", unused)
    tenant = await create_tenant(postgres_db, "acme")
    writer = AuditWriter(postgres_db, SLOW)
    async with writer.running():
        for n in range(3):
            writer.buffer(_full_entry(tenant.id, f"tool:t{n}"))
        await writer.flush()
        assert sorted(await _stored(postgres_db)) == ["tool:t0", "tool:t1", "tool:t2"]
        await writer.flush()  # nothing new: no duplicates
    assert len(await _stored(postgres_db)) == 3


async def test_a_row_postgres_refuses_does_not_hold_back_the_others(
    postgres_db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    tenant = await create_tenant(postgres_db, "acme")
    writer = AuditWriter(postgres_db, SLOW)
    async with writer.running():
        await writer.record(_full_entry(tenant.id, "tool:a"))
        await writer.record(_full_entry(uuid.uuid4(), "tool:orphan"))  # no such tenant
        await writer.record(_full_entry(tenant.id, "tool:b"))
        await writer.flush()
        await writer.record(_full_entry(tenant.id, "tool:c"))  # the writer still works
    assert sorted(await _stored(postgres_db)) == ["tool:a", "tool:b", "tool:c"]
    assert "tool:orphan" in caplog.text  # reported, not silently dropped
