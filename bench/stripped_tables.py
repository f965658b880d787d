"""The queue and executions tables with everything optional taken off, for one floor run.

What a worker on these tables cannot do without stays: the primary keys, the (tenant,
event_id) key that deduplicates publish(), and the two partial indexes the claim and the
heartbeat read. What goes: the finished-events index (retention and listings), the
executions' secondary indexes (listings, the dashboard, finding a redelivered event's
execution) and the executions' foreign keys, which the spec itself asks for. The floor on
these tables is therefore below anything the spec allows: if it still cannot match
pgqueuer, no worker on the spec's tables can. Everything is put back on exit.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg  # pyright: ignore[reportMissingTypeStubs]

_OPTIONAL = """
SELECT format('DROP INDEX %s', i.indexrelid::regclass) AS strip,
       pg_get_indexdef(i.indexrelid) AS restore
  FROM pg_index i
 WHERE (i.indrelid = 'workflow_executions'::regclass AND NOT i.indisprimary)
    OR i.indexrelid = 'ix_event_queue_finished'::regclass
UNION ALL
SELECT format('ALTER TABLE workflow_executions DROP CONSTRAINT %I', c.conname),
       format('ALTER TABLE workflow_executions ADD CONSTRAINT %I %s',
              c.conname, pg_get_constraintdef(c.oid))
  FROM pg_constraint c
 WHERE c.conrelid = 'workflow_executions'::regclass AND c.contype = 'f'
"""


@asynccontextmanager
async def stripped_tables(conn: asyncpg.Connection) -> AsyncIterator[None]:
    rows: list[Any] = await conn.fetch(_OPTIONAL)
    if not rows:
        raise RuntimeError("nothing to strip: has the schema changed?")
    async with conn.transaction():
        for row in rows:
            await conn.execute(row["strip"])
    try:
        yield
    finally:
        async with conn.transaction():
            for row in rows:
                await conn.execute(row["restore"])
