"""event_queue: one partial index per stage of an event's life

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27 03:00:00

The queue table swings from empty to a burst of thousands of pending events in seconds,
and back, so the planner's statistics about it are usually stale. Measured on the claim
with statistics from an empty table (what VACUUM leaves after retention empties it, or a
fresh install): the full `(status, tenant_id, priority, scheduled_for)` index was read as a
bitmap of every pending row, sorted, for each batch (15-40 ms a claim at 20,000 pending),
and the final join scanned the whole table (600 ms a claim). Worker throughput swung 20x
between identical runs, depending on when autovacuum had last looked.

With one partial index per stage the right plan no longer depends on the statistics:

- `ix_event_queue_pending (tenant_id, priority, scheduled_for) WHERE status = 'pending'`
  is the claim's order exactly (the tenants by skipping through it, then each tenant's best
  events), so no sort and no scan of rows that are not pending;
- `ix_event_queue_processing (heartbeat_at) WHERE status = 'processing'` serves the reaper
  and lease renewals;
- `ix_event_queue_finished (status, updated_at) WHERE status IN ('completed', 'failed')`
  serves retention and dead-letter listings and replays.

Each index holds only its stage, so the claim's index stays as small as the pending work
however many finished events are kept, and each status change adds one entry, where the two
full indexes it replaces took two. The worker's queue connections also rule out the plan
shapes that go wrong on stale statistics (orchestration/queue/claim.py).

Plain CREATE INDEX: it locks the table against writes while it builds, which is brief on
a queue that retention keeps small. For a large existing table, create the new indexes
CONCURRENTLY by hand first; this migration then only drops the old ones.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_STAGE_INDEXES: list[tuple[str, list[str], str]] = [
    ("ix_event_queue_pending", ["tenant_id", "priority", "scheduled_for"], "status = 'pending'"),
    ("ix_event_queue_processing", ["heartbeat_at"], "status = 'processing'"),
    ("ix_event_queue_finished", ["status", "updated_at"], "status IN ('completed', 'failed')"),
]


def upgrade() -> None:
    for name, columns, where in _STAGE_INDEXES:
        op.create_index(
            name,
            "event_queue",
            columns,
            postgresql_where=sa.text(where),
            sqlite_where=sa.text(where),
        )
    op.drop_index("ix_event_queue_claim", table_name="event_queue")
    op.drop_index("ix_event_queue_status_heartbeat_at", table_name="event_queue")


def downgrade() -> None:
    op.create_index(
        "ix_event_queue_claim",
        "event_queue",
        ["status", "tenant_id", "priority", "scheduled_for"],
    )
    op.create_index("ix_event_queue_status_heartbeat_at", "event_queue", ["status", "heartbeat_at"])
    for name, _, _ in _STAGE_INDEXES:
        op.drop_index(name, table_name="event_queue")
