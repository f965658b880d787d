"""The buffered audit writer: rows leave the request path, and every one reaches the table."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection

import shared.audit
from shared.audit import AuditConfig, AuditEntry, AuditWriter
from shared.db.database import Database
from shared.db.schema import audit_log
from shared.tenants import create_tenant

SLOW = AuditConfig(flush_interval_s=60, max_pending=1000)  # only explicit flushes write


def _entry(tenant_id: uuid.UUID | None, action: str = "tool:get_account") -> AuditEntry:
    return AuditEntry(tenant_id=tenant_id, actor="key:abc", action=action, outcome="ok")


async def _actions(db: Database) -> list[str]:
    async with db.engine.connect() as conn:
        query = sa.select(audit_log.c.action).order_by(audit_log.c.occurred_at)
        return list((await conn.execute(query)).scalars())


async def test_a_writer_that_is_not_running_writes_each_row_at_once(sqlite_db: Database) -> None:
    tenant = await create_tenant(sqlite_db, "acme")
    writer = AuditWriter(sqlite_db, SLOW)
    await writer.record(_entry(tenant.id))
    assert await _actions(sqlite_db) == ["tool:get_account"]
    assert writer.pending == 0


async def test_a_running_writer_buffers_until_flush_then_writes_each_row_once(
    sqlite_db: Database,
) -> None:
    tenant = await create_tenant(sqlite_db, "acme")
    writer = AuditWriter(sqlite_db, SLOW)
    async with writer.running():
        for n in range(3):
            await writer.record(_entry(tenant.id, f"tool:t{n}"))
        assert await _actions(sqlite_db) == []  # nothing written on the request path
        assert writer.pending == 3
        await writer.flush()
        assert await _actions(sqlite_db) == ["tool:t0", "tool:t1", "tool:t2"]
        await writer.flush()  # nothing new: no duplicates
        assert len(await _actions(sqlite_db)) == 3


async def test_leaving_running_writes_what_is_still_buffered(sqlite_db: Database) -> None:
    tenant = await create_tenant(sqlite_db, "acme")
    writer = AuditWriter(sqlite_db, SLOW)
    async with writer.running():
        await writer.record(_entry(tenant.id))
    assert await _actions(sqlite_db) == ["tool:get_account"]
    assert not writer.is_running
    await writer.record(_entry(tenant.id, "tool:after"))  # stopped: written at once again
    assert await _actions(sqlite_db) == ["tool:get_account", "tool:after"]


async def test_the_background_task_writes_without_a_flush(sqlite_db: Database) -> None:
    tenant = await create_tenant(sqlite_db, "acme")
    writer = AuditWriter(sqlite_db, AuditConfig(flush_interval_s=0.05))
    async with writer.running():
        await writer.record(_entry(tenant.id))
        deadline = time.monotonic() + 10
        while not await _actions(sqlite_db):
            assert time.monotonic() < deadline, "the periodic flush never wrote the row"
            await asyncio.sleep(0.02)
        assert writer.pending == 0


async def test_a_full_buffer_makes_the_caller_write_the_backlog(sqlite_db: Database) -> None:
    tenant = await create_tenant(sqlite_db, "acme")
    writer = AuditWriter(sqlite_db, AuditConfig(flush_interval_s=60, max_pending=3))
    async with writer.running():
        await writer.record(_entry(tenant.id, "tool:a"))
        await writer.record(_entry(tenant.id, "tool:b"))
        assert writer.pending == 2
        await writer.record(_entry(tenant.id, "tool:c"))  # fills the buffer: written now
        assert writer.pending == 0
        assert await _actions(sqlite_db) == ["tool:a", "tool:b", "tool:c"]


async def test_buffer_takes_a_row_only_when_no_write_is_due(sqlite_db: Database) -> None:
    """`buffer` (the tool layer's no-await path) records exactly the rows `record` would
    have buffered, and leaves every row that must be written now to `record`."""
    tenant = await create_tenant(sqlite_db, "acme")
    writer = AuditWriter(sqlite_db, AuditConfig(flush_interval_s=60, max_pending=3))
    assert not writer.buffer(_entry(tenant.id, "tool:stopped"))  # not running: write now
    assert writer.pending == 0 and await _actions(sqlite_db) == []
    async with writer.running():
        assert writer.buffer(_entry(tenant.id, "tool:a"))
        assert writer.buffer(_entry(tenant.id, "tool:b"))
        assert not writer.buffer(_entry(tenant.id, "tool:c"))  # would fill it: back-pressure
        assert writer.pending == 2  # (no await since: the woken flush task has not run yet)
        await writer.record(_entry(tenant.id, "tool:c"))
        assert writer.pending == 0
        assert await _actions(sqlite_db) == ["tool:a", "tool:b", "tool:c"]


async def test_a_failed_write_keeps_the_rows_for_the_next_flush(
    sqlite_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant = await create_tenant(sqlite_db, "acme")
    real = AuditWriter._write_batch  # pyright: ignore[reportPrivateUsage]
    failures = [OperationalError("INSERT", {}, Exception("database is locked"))]

    async def flaky(writer: AuditWriter, entries: list[AuditEntry]) -> None:
        if failures:
            raise failures.pop()
        await real(writer, entries)

    monkeypatch.setattr(AuditWriter, "_write_batch", flaky)
    writer = AuditWriter(sqlite_db, SLOW)
    async with writer.running():
        await writer.record(_entry(tenant.id, "tool:a"))
        await writer.record(_entry(tenant.id, "tool:b"))
        with pytest.raises(OperationalError):
            await writer.flush()
        assert writer.pending == 2  # kept, in order
        await writer.flush()
    assert await _actions(sqlite_db) == ["tool:a", "tool:b"]


async def test_a_row_the_store_can_never_take_does_not_hold_back_the_others(
    sqlite_db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    tenant = await create_tenant(sqlite_db, "acme")
    writer = AuditWriter(sqlite_db, SLOW)
    async with writer.running():
        await writer.record(_entry(tenant.id, "tool:a"))
        await writer.record(_entry(uuid.uuid4(), "tool:orphan"))  # no such tenant: FK refuses
        await writer.record(_entry(tenant.id, "tool:b"))
        await writer.flush()
    assert await _actions(sqlite_db) == ["tool:a", "tool:b"]
    assert "tool:orphan" in caplog.text  # reported, not silently dropped


async def test_flush_from_another_thread_writes_on_the_writers_loop(
    sqlite_url: str, sqlite_db: Database
) -> None:
    """The HTTP app in a test runs on a server thread; the test flushes from its own loop."""
    tenant = await create_tenant(sqlite_db, "acme")
    ready = threading.Event()
    holder: dict[str, Any] = {}

    async def serve() -> None:
        db = Database.from_url(sqlite_url)
        writer = AuditWriter(db, SLOW)
        stop = asyncio.Event()
        async with writer.running():
            await writer.record(_entry(tenant.id))
            holder.update(writer=writer, stop=stop, loop=asyncio.get_running_loop())
            ready.set()
            await stop.wait()
        await db.dispose()

    thread = threading.Thread(target=asyncio.run, args=(serve(),), daemon=True)
    thread.start()
    try:
        assert await asyncio.to_thread(ready.wait, 10)
        assert await _actions(sqlite_db) == []
        await holder["writer"].flush()
        assert await _actions(sqlite_db) == ["tool:get_account"]
    finally:
        if "loop" in holder:
            holder["loop"].call_soon_threadsafe(holder["stop"].set)
        await asyncio.to_thread(thread.join, 10)


async def test_sqlite_batches_store_rows_exactly_as_the_async_engine_does(
    sqlite_db: Database,
) -> None:
    """The worker-thread path (SQLite) and `record_audits` (the async engine) leave the same
    stored values: timestamps, UUIDs, digests and JSON details alike."""
    tenant = await create_tenant(sqlite_db, "acme")
    when = datetime(2026, 11, 27, 1, 2, 3, 456789, tzinfo=UTC)

    def entry(action: str) -> AuditEntry:
        return AuditEntry(
            tenant_id=tenant.id,
            actor="key:abc",
            action=action,
            outcome="denied",
            actor_role="viewer",
            target="account:1",
            arguments={"text": "Café 🦷", "ids": [uuid.UUID(int=7)], "when": when},
            duration_ms=12,
            details={"at": when, "id": uuid.UUID(int=9), "n": [1, 2.5, None], "s": "é"},
            occurred_at=when,
        )

    path = await _written_both_ways(sqlite_db, entry)
    with sqlite3.connect(path) as conn:
        stored = conn.execute("SELECT * FROM audit_log ORDER BY action").fetchall()
        columns = [d[0] for d in conn.execute("SELECT * FROM audit_log").description]
    by_async, by_thread = (dict(zip(columns, row, strict=True)) for row in stored)
    assert (by_async.pop("action"), by_thread.pop("action")) == ("tool:async", "tool:thread")
    assert by_async.pop("id") != by_thread.pop("id")
    assert by_async == by_thread


async def test_a_running_writer_on_sqlite_writes_through_the_worker_thread(
    sqlite_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def unused(where: Database | AsyncConnection, entries: Sequence[AuditEntry]) -> None:
        raise AssertionError("a SQLite batch went through the async engine")

    monkeypatch.setattr(shared.audit, "record_audits", unused)
    tenant = await create_tenant(sqlite_db, "acme")
    writer = AuditWriter(sqlite_db, SLOW)
    async with writer.running():
        writer.buffer(_entry(tenant.id, "tool:a"))
        await writer.record(_entry(tenant.id, "tool:b"))
        await writer.flush()
        assert await _actions(sqlite_db) == ["tool:a", "tool:b"]


async def test_rows_recorded_during_a_write_wait_for_the_next_flush(
    sqlite_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under a steady stream of calls, a row that arrives while a batch is being written is
    not written as a batch of its own right after it: it waits for the next tick."""
    tenant = await create_tenant(sqlite_db, "acme")
    writer = AuditWriter(sqlite_db, SLOW)
    batches: list[list[str]] = []
    real = AuditWriter._write_batch  # pyright: ignore[reportPrivateUsage]

    async def meanwhile_a_call_lands(self: AuditWriter, entries: list[AuditEntry]) -> None:
        batches.append([entry.action for entry in entries])
        if len(batches) == 1:
            assert self.buffer(_entry(tenant.id, "tool:during"))
        await real(self, entries)

    monkeypatch.setattr(AuditWriter, "_write_batch", meanwhile_a_call_lands)
    async with writer.running():
        writer.buffer(_entry(tenant.id, "tool:a"))
        writer.buffer(_entry(tenant.id, "tool:b"))
        await writer.flush()
        assert batches == [["tool:a", "tool:b"]]
        assert writer.pending == 1
        assert await _actions(sqlite_db) == ["tool:a", "tool:b"]
        await writer.flush()
        assert batches == [["tool:a", "tool:b"], ["tool:during"]]


async def test_stopping_writes_rows_recorded_during_the_last_write(
    sqlite_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant = await create_tenant(sqlite_db, "acme")
    writer = AuditWriter(sqlite_db, SLOW)
    real = AuditWriter._write_batch  # pyright: ignore[reportPrivateUsage]
    landed: list[bool] = []

    async def meanwhile_a_call_lands(self: AuditWriter, entries: list[AuditEntry]) -> None:
        if not landed:
            landed.append(self.buffer(_entry(tenant.id, "tool:during")))
        await real(self, entries)

    monkeypatch.setattr(AuditWriter, "_write_batch", meanwhile_a_call_lands)
    async with writer.running():
        writer.buffer(_entry(tenant.id, "tool:a"))
    assert landed == [True]
    assert writer.pending == 0
    assert await _actions(sqlite_db) == ["tool:a", "tool:during"]


async def test_sqlite_batches_store_empty_columns_as_the_async_engine_does(
    sqlite_db: Database,
) -> None:
    """Optional columns left empty (and a system row without a tenant) are stored alike by
    the worker-thread path and `record_audits`: a JSON None as JSON null, not SQL NULL."""
    when = datetime(2026, 11, 27, 1, 2, 3, tzinfo=UTC)

    def entry(action: str) -> AuditEntry:
        return AuditEntry(
            tenant_id=None, actor="cli", action=action, outcome="ok", occurred_at=when
        )

    path = await _written_both_ways(sqlite_db, entry)
    with sqlite3.connect(path) as conn:
        cursor = conn.execute("SELECT *, typeof(details) AS kind FROM audit_log ORDER BY action")
        columns = [d[0] for d in cursor.description]
        by_async, by_thread = (dict(zip(columns, row, strict=True)) for row in cursor.fetchall())
    assert (by_async.pop("action"), by_thread.pop("action")) == ("tool:async", "tool:thread")
    assert by_async.pop("id") != by_thread.pop("id")
    assert by_async == by_thread
    assert by_thread["occurred_at"] == "2026-11-27 01:02:03.000000"


async def _written_both_ways(sqlite_db: Database, entry: Callable[[str], AuditEntry]) -> Path:
    """entry("tool:async") stored by the async engine, entry("tool:thread") by the batch
    writer's sqlite3 path, in the same file (returned)."""
    await shared.audit.record_audits(sqlite_db, [entry("tool:async")])
    path = sqlite_db.target.sqlite_path
    assert path is not None
    rows = shared.audit.SqliteAuditRows(path)
    try:
        await rows.write([entry("tool:thread")])
    finally:
        rows.close()
    return path
