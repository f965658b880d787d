"""The claim statements: the hot path of the queue, one per dialect.

Both pick due pending events best-first: by priority, then round-robin across tenants
(every tenant's first event comes before any tenant's second of the same priority), then
due time, with at most `per_tenant` events of one tenant per batch. So a tenant's
10,000-event burst cannot push another tenant's critical event out of the next batch.

On Postgres the claim runs as asyncpg's own prepared statement on the SQLAlchemy
connection, returning only what a ClaimedEvent holds: a worker claims hundreds of times a
second, and SQLAlchemy's per-row result processing of every column cost the worker as much
CPU per event as the rest of the queue's work (45 us of 93 with the acknowledgement).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from orchestration.queue.rows import to_claimed
from orchestration.queue.types import ClaimedEvent
from shared.db.schema import event_queue

__all__ = [
    "CLAIM_POSTGRES",
    "QUEUE_PLANNER_SETTINGS",
    "asyncpg_of",
    "claim_postgres",
    "claim_sqlite",
]

# What a ClaimedEvent is made of, in the order the Postgres claim returns it.
_CLAIMED = (
    "id",
    "tenant_id",
    "event_id",
    "event_type",
    "event_data",
    "event_source",
    "customer_id",
    "priority",
    "attempts",
    "max_retries",
    "chain_depth",
    "workflow_triggers",
    "created_at",
    "scheduled_for",
    "occurred_at",
)
_RETURNED = ", ".join(f"q.{name}" for name in _CLAIMED)


# Both claims also say whether a workflow execution may already name the event as its
# trigger (a redelivery, a replay, a release after a run began), so that on a first
# delivery the workflow handler skips a round trip looking for one. Postgres answers from
# the row itself: an event never claimed before (last_attempt was NULL) cannot have one.
# A lookup in the claim would be planned against the executions table's statistics, which
# are stale (a plan that scans the table) while a new table grows. SQLite, one worker and
# no cached plans, probes the trigger_event_id index.

# Postgres ($1 now, $2 worker id, $3 batch size, $4 per tenant): list the tenants with
# pending work by skipping through the pending index (a loose index scan: one probe per
# tenant, not a scan of a burst), lock each tenant's best `per_tenant` due rows with SKIP
# LOCKED so concurrent workers take disjoint rows, then keep the best `batch` of those. The
# rows to update are found by their ids (`= ANY(ARRAY(...))`): joined to `picked` alone, a
# plan made while the table looked empty scanned the whole table once per claim.
CLAIM_POSTGRES = f"""
WITH RECURSIVE due_tenants(tenant_id) AS (
    (SELECT tenant_id FROM event_queue
      WHERE status = 'pending' ORDER BY tenant_id LIMIT 1)
    UNION ALL
    SELECT (SELECT e.tenant_id FROM event_queue e
             WHERE e.status = 'pending' AND e.tenant_id > d.tenant_id
             ORDER BY e.tenant_id LIMIT 1)
      FROM due_tenants d
     WHERE d.tenant_id IS NOT NULL
),
candidates AS (
    SELECT c.id, c.tenant_id, c.priority, c.scheduled_for, c.last_attempt
      FROM due_tenants d
     CROSS JOIN LATERAL (
        SELECT e.id, e.tenant_id, e.priority, e.scheduled_for, e.last_attempt
          FROM event_queue e
         WHERE e.status = 'pending' AND e.tenant_id = d.tenant_id
           AND e.scheduled_for <= $1
         ORDER BY e.priority, e.scheduled_for
         LIMIT $4
           FOR UPDATE SKIP LOCKED
     ) c
     WHERE d.tenant_id IS NOT NULL
),
picked AS (
    SELECT id, last_attempt FROM (
        SELECT id, priority, scheduled_for, last_attempt,
               row_number() OVER (PARTITION BY tenant_id
                                  ORDER BY priority, scheduled_for) AS turn
          FROM candidates
    ) ranked
    ORDER BY priority, turn, scheduled_for
    LIMIT $3
)
UPDATE event_queue q
   SET status = 'processing', attempts = q.attempts + 1, last_attempt = $1,
       heartbeat_at = $1, worker_id = $2, updated_at = $1
  FROM picked
 WHERE q.id = ANY(ARRAY(SELECT id FROM picked)) AND q.id = picked.id
RETURNING {_RETURNED}, picked.last_attempt IS NOT NULL AS may_have_executions
"""

# How the worker's queue connections plan (session settings of their own engine). The
# queue's statistics are stale by nature: the table goes from empty to thousands of pending
# rows and back within seconds, and a plan cached while it looked empty was then used for a
# burst (sequential or bitmap scans of every pending row, sorted, for each batch of 50:
# 15-600 ms a claim). Every statement these connections run finds its rows through an index
# (the stage indexes of migration 0006, or ids), so the plan shapes that only pay on a
# large share of the table are ruled out and a plan stays right whatever the statistics say.
QUEUE_PLANNER_SETTINGS: dict[str, str] = {"enable_seqscan": "off", "enable_bitmapscan": "off"}


async def asyncpg_of(conn: AsyncConnection) -> Any:
    """The asyncpg connection under a SQLAlchemy one (with the engine's JSON codecs)."""
    raw = await conn.get_raw_connection()
    return raw.driver_connection


async def claim_postgres(
    conn: AsyncConnection, *, worker_id: str, now: datetime, batch: int, per_tenant: int
) -> list[ClaimedEvent]:
    driver = await asyncpg_of(conn)
    records = await driver.fetch(CLAIM_POSTGRES, now, worker_id, batch, per_tenant)
    return [_claimed(record) for record in records]


def _claimed(r: Any) -> ClaimedEvent:
    """A claimed row as to_claimed() reads it (the JSON columns arrive decoded)."""
    return ClaimedEvent(
        id=r[0],
        tenant_id=r[1],
        event_id=r[2] or str(r[0]),
        event_type=r[3],
        event_data=dict(r[4] or {}),
        event_source=r[5],
        customer_id=r[6],
        priority=r[7] if r[7] is not None else 5,
        attempts=r[8] or 0,
        max_retries=r[9] if r[9] is not None else 3,
        chain_depth=r[10] or 0,
        workflow_triggers=r[11],
        created_at=r[12],
        scheduled_for=r[13],
        occurred_at=r[14],
        may_have_executions=r[15],
    )


async def claim_sqlite(
    conn: AsyncConnection, *, worker_id: str, now: datetime, batch: int, per_tenant: int
) -> list[ClaimedEvent]:
    """SQLite has one writer at a time (the caller holds BEGIN IMMEDIATE), so no row locks:
    rank each tenant's due events with a window function and update the best in place."""
    q = event_queue.c
    turn = (
        sa.func.row_number()
        .over(partition_by=q.tenant_id, order_by=(q.priority, q.scheduled_for))
        .label("turn")
    )
    ranked = (
        sa.select(q.id, q.priority, q.scheduled_for, turn)
        .where(q.status == "pending", q.scheduled_for <= now)
        .subquery()
    )
    picked = (
        sa.select(ranked.c.id)
        .where(ranked.c.turn <= per_tenant)
        .order_by(ranked.c.priority, ranked.c.turn, ranked.c.scheduled_for)
        .limit(batch)
    )
    values: dict[str, Any] = {
        "status": "processing",
        "attempts": q.attempts + 1,
        "last_attempt": now,
        "heartbeat_at": now,
        "worker_id": worker_id,
        "updated_at": now,
    }
    stmt = (
        sa.update(event_queue)
        .where(q.id.in_(picked.scalar_subquery()))
        .values(values)
        .returning(
            *event_queue.c,
            # Spelled out: SQLite's RETURNING names columns unqualified, which inside a
            # subquery would mean workflow_executions.id.
            sa.literal_column(
                "EXISTS (SELECT 1 FROM workflow_executions x "
                "WHERE x.trigger_event_id = event_queue.id)",
                sa.Boolean,
            ).label("may_have_executions"),
        )
    )
    return [to_claimed(row) for row in (await conn.execute(stmt)).mappings()]
