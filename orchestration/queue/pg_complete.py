"""Completed events acknowledged on Postgres: one statement for a whole batch.

The worker's settler acknowledges what finished since its last write. Through SQLAlchemy's
executemany that was one UPDATE per event, each a parameter set SQLAlchemy processed and a
statement the server planned and ran (48 us of worker CPU per event). Here the batch is
three arrays and one statement, run as asyncpg's prepared statement on the SQLAlchemy
connection. Each row is still matched on its lease (processing, this worker, this
attempt), so an event reaped and claimed again meanwhile is left to its new holder.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import pydantic_core
from sqlalchemy.ext.asyncio import AsyncConnection

from orchestration.queue.claim import asyncpg_of

__all__ = ["COMPLETE_POSTGRES", "complete_postgres"]

# $1 now, $2 ids, $3 attempts, $4 results (JSON text), $5 worker id. The rows are found by
# id (`= ANY($2)`, the primary key) whatever the planner thinks of the table's size.
COMPLETE_POSTGRES = """
UPDATE event_queue q
   SET status = 'completed', processing_result = r.result, worker_id = NULL,
       heartbeat_at = NULL, updated_at = $1
  FROM unnest($2::uuid[], $3::int[], $4::jsonb[]) AS r(id, attempts, result)
 WHERE q.id = ANY($2::uuid[]) AND q.id = r.id
   AND q.status = 'processing' AND q.worker_id = $5 AND q.attempts = r.attempts
"""


async def complete_postgres(
    conn: AsyncConnection,
    *,
    worker_id: str,
    now: datetime,
    done: Sequence[tuple[uuid.UUID, int, Any]],
) -> None:
    """Mark each (event id, attempt, result) completed with its result, if still leased."""
    driver = await asyncpg_of(conn)
    ids = [event_id for event_id, _, _ in done]
    attempts = [attempt for _, attempt, _ in done]
    # Written as the JSON column type writes them (a None result is JSON null).
    results = [pydantic_core.to_json(result).decode() for _, _, result in done]
    await driver.execute(COMPLETE_POSTGRES, now, ids, attempts, results, worker_id)
