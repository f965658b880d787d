"""The pipeline bench's own instruments: the stripped tables are put back exactly, and the
CPU split counts the work of the bench database's backends and of the given processes."""

from __future__ import annotations

import os
import re
import time
from typing import Any

import asyncpg  # pyright: ignore[reportMissingTypeStubs]
import pytest

from bench import pipeline_statements
from bench.drain_cpu import DrainMeter
from bench.stripped_tables import stripped_tables

_SCHEMA = """
SELECT pg_get_indexdef(indexrelid) AS ddl FROM pg_index
 WHERE indrelid IN ('event_queue'::regclass, 'workflow_executions'::regclass)
UNION ALL
SELECT conname || ' ' || pg_get_constraintdef(oid) FROM pg_constraint
 WHERE conrelid IN ('event_queue'::regclass, 'workflow_executions'::regclass)
"""


async def _schema(conn: asyncpg.Connection) -> set[str]:
    rows: list[Any] = await conn.fetch(_SCHEMA)
    return {str(row["ddl"]) for row in rows}


@pytest.fixture
async def raw(postgres_url: str) -> Any:
    conn = await asyncpg.connect(postgres_url.replace("postgresql+asyncpg://", "postgresql://"))
    yield conn
    await conn.close()


async def test_stripped_tables_keep_the_keys_and_put_everything_back(raw: Any) -> None:
    before = await _schema(raw)
    async with stripped_tables(raw):
        during = await _schema(raw)
    assert await _schema(raw) == before
    gone = before - during
    assert any("ix_event_queue_finished" in ddl for ddl in gone)
    assert any("FOREIGN KEY (workflow_definition_id)" in ddl for ddl in gone)
    assert any("ix_workflow_executions_trigger_event_id" in ddl for ddl in gone)
    kept = " ".join(during)
    for needed in ("pk_event_queue", "pk_workflow_executions", "ix_event_queue_pending",
                   "uq_event_queue_tenant_id_event_id", "ix_event_queue_processing"):  # fmt: skip
        assert needed in kept


async def test_the_schema_is_put_back_when_the_run_fails(raw: Any) -> None:
    before = await _schema(raw)
    with pytest.raises(RuntimeError, match="drain failed"):
        async with stripped_tables(raw):
            raise RuntimeError("drain failed")
    assert await _schema(raw) == before


def _spin(seconds: float) -> None:
    deadline = time.process_time() + seconds
    while time.process_time() < deadline:
        pass


async def test_the_meter_splits_cpu_between_backends_and_workers(
    raw: Any, postgres_url: str
) -> None:
    url = postgres_url.replace("postgresql+asyncpg://", "postgresql://")
    busy: Any = await asyncpg.connect(url)  # a "worker's" backend in the bench database
    try:
        meter = DrainMeter(raw, [os.getpid()])  # this process stands in for a worker
        await meter.start()
        await busy.execute("SELECT count(*) FROM generate_series(1, 3000000)")
        _spin(0.2)
        drain = await meter.drained(1000, 1.0)
    finally:
        await busy.close()
    assert drain.rate == 1000
    assert drain.postgres_us > 50  # the series took the backend well over 50 ms
    assert drain.workers_us >= 180  # 0.2 s over 1,000 events, read in 10 ms clock ticks
    assert drain.cpu_us >= drain.workers_us  # the machine ran at least this process


async def test_the_statement_bench_runs_every_event_through_both_queues(
    postgres_url: str, postgres_db: Any
) -> None:
    plain = postgres_url.replace("postgresql+asyncpg://", "postgresql://")
    ours_line = await pipeline_statements.ours(postgres_db, plain, 120, with_executions=True)
    theirs_line = await pipeline_statements.pgqueuer(plain, 120)
    assert re.search(r"claim +[\d.]+ \+ acknowledgement with executions +[\d.]+ = ", ours_line)
    assert re.search(r"dequeue +[\d.]+ \+ log_jobs +[\d.]+ = ", theirs_line)


async def test_backend_cpu_is_charged_to_the_statement_that_spent_it(raw: Any) -> None:
    cpu = pipeline_statements.BackendCpu(await raw.fetchval("SELECT pg_backend_pid()"))
    await cpu.timed("heavy", lambda: raw.execute("SELECT sum(g) FROM generate_series(1, 3e6) g"))
    await cpu.timed("light", lambda: raw.execute("SELECT 1"))
    assert cpu.spent["heavy"] > 0.05 > cpu.spent["light"]
