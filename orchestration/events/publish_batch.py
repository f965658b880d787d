"""Publishing many events in one statement: the per-event cost of `publish_in`, paid once.

`publish_in` costs a type check, an INSERT and (for a group committer) a savepoint per
event: several round trips, each through SQLAlchemy's statement machinery and, on SQLite,
a hop to aiosqlite's thread and back. Here the event types are checked first (one settings
read per tenant and custom type, none for the standard types), then every event is written
with one multi-row `INSERT ... ON CONFLICT DO NOTHING RETURNING`, and the earlier rows of
duplicates are found with one SELECT per tenant. Same rows, same deduplication on (tenant,
eventId), same NOTIFY as `publish_in`; the caller's transaction makes them durable together.

`insert_batch` is synchronous on purpose: `publish_batch_in` runs it on an AsyncConnection
(`run_sync`), and a caller that owns a plain SQLAlchemy connection (the SQLite ingest writer,
which runs a whole batch on one thread) calls it directly.

If the store refuses a statement (say a tenant was deleted meanwhile), it is rolled back to
its savepoint and each of its events is inserted alone in its own savepoint, so one bad
event fails alone, as it would have with `publish_in`. In autocommit mode (the Postgres
ingest path) each statement is its own transaction: one round trip per batch, no BEGIN,
savepoint or COMMIT, and a row is committed when its statement returns.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from orchestration.events.custom_types import (
    PLATFORM_TYPE_RE,
    STANDARD_TYPES,
    SYSTEM_TYPES,
    check_event_type,
)
from orchestration.events.models import CustomerEvent
from orchestration.events.publish import DEFAULT_MAX_RETRIES, PublishResult, queue_row
from orchestration.wakeup import NOTIFY_CHANNEL
from shared.db.schema import event_queue
from shared.errors import SwitchboardError

__all__ = [
    "BatchOutcome",
    "insert_batch",
    "merge_outcomes",
    "needs_type_lookup",
    "publish_batch_in",
    "refused_event_types",
]

# What became of one event of a batch: its PublishResult, or the error that refused it alone.
BatchOutcome = PublishResult | SwitchboardError

_Key = tuple[uuid.UUID, str]  # (tenant_id, event_id): the queue's deduplication key

# Parameter sets per multi-row statement: 17 columns each stays far below SQLite's and
# asyncpg's limits on bound parameters (32,766 / 32,767).
_ROWS_PER_STATEMENT = 500


def _needs_lookup(event_type: str) -> bool:
    """Whether only the tenant's configured custom types can allow this type."""
    return not (
        event_type in STANDARD_TYPES
        or event_type in SYSTEM_TYPES
        or PLATFORM_TYPE_RE.match(event_type)
    )


async def refused_event_types(
    conn: AsyncConnection, events: Sequence[CustomerEvent]
) -> list[SwitchboardError | None]:
    """Per event, the error `check_event_type` raises for it, or None when its type is
    allowed. Standard types cost nothing; a custom type costs one read per tenant."""
    errors: list[SwitchboardError | None] = [None] * len(events)
    verdicts: dict[tuple[uuid.UUID, str], SwitchboardError | None] = {}
    for index, event in enumerate(events):
        if not _needs_lookup(event.event_type):
            continue
        key = (event.tenant_id, event.event_type)
        if key not in verdicts:
            try:
                await check_event_type(conn, event.tenant_id, event.event_type)
                verdicts[key] = None
            except SwitchboardError as exc:
                verdicts[key] = exc
        errors[index] = verdicts[key]
    return errors


def needs_type_lookup(events: Sequence[CustomerEvent]) -> bool:
    """Whether `refused_event_types` would read the store for any of these events."""
    return any(_needs_lookup(event.event_type) for event in events)


def _insert(dialect: str) -> sa.Insert:
    returned: list[sa.ColumnElement[Any]] = [
        event_queue.c.id,
        event_queue.c.tenant_id,
        event_queue.c.event_id,
    ]
    if dialect == "postgresql":
        # Delivered at commit, once per transaction however many rows ask (as publish_in).
        returned.append(sa.func.pg_notify(NOTIFY_CHANNEL, "").label("notified"))
        return (
            postgresql.insert(event_queue)
            .on_conflict_do_nothing(index_elements=["tenant_id", "event_id"])
            .returning(*returned)
        )
    return (
        sqlite.insert(event_queue)
        .on_conflict_do_nothing(index_elements=["tenant_id", "event_id"])
        .returning(*returned)
    )


def _insert_rows(conn: sa.Connection, rows: list[dict[str, Any]]) -> dict[_Key, uuid.UUID]:
    """Insert the rows (one key each, at most _ROWS_PER_STATEMENT) in one statement; the
    queue ids of those that were new."""
    # A list of parameter sets with RETURNING: SQLAlchemy sends it as one multi-row VALUES
    # statement ("insertmanyvalues").
    result = conn.execute(_insert(conn.dialect.name), rows)
    return {(row.tenant_id, row.event_id): row.id for row in result}


def _all_or_nothing(conn: sa.Connection, autocommit: bool) -> AbstractContextManager[Any]:
    """What makes one statement fail alone: a savepoint inside the caller's transaction;
    nothing in autocommit mode, where every statement is its own transaction."""
    return nullcontext() if autocommit else conn.begin_nested()


def _earlier_rows(conn: sa.Connection, keys: set[_Key]) -> dict[_Key, uuid.UUID]:
    """Queue ids of rows that already held these keys (the duplicates of this batch)."""
    by_tenant: dict[uuid.UUID, list[str]] = {}
    for tenant_id, event_id in keys:
        by_tenant.setdefault(tenant_id, []).append(event_id)
    found: dict[_Key, uuid.UUID] = {}
    for tenant_id, event_ids in by_tenant.items():
        for start in range(0, len(event_ids), _ROWS_PER_STATEMENT):
            rows = conn.execute(
                sa.select(event_queue.c.id, event_queue.c.event_id).where(
                    event_queue.c.tenant_id == tenant_id,
                    event_queue.c.event_id.in_(event_ids[start : start + _ROWS_PER_STATEMENT]),
                )
            )
            for queue_id, event_id in rows:
                found[(tenant_id, event_id)] = queue_id
    return found


def _one_by_one(
    conn: sa.Connection, rows: list[dict[str, Any]], autocommit: bool
) -> dict[_Key, BatchOutcome]:
    """The slow path after the store refused a statement: each of its rows alone."""
    settled: dict[_Key, BatchOutcome] = {}
    for row in rows:
        key: _Key = (row["tenant_id"], row["event_id"])
        try:
            with _all_or_nothing(conn, autocommit):
                inserted = _insert_rows(conn, [row])
                earlier = {} if inserted else _earlier_rows(conn, {key})
        except DBAPIError as exc:
            if exc.connection_invalidated:  # the connection is gone, not this event refused
                raise
            settled[key] = SwitchboardError("the store refused this event; retry later")
            continue
        if key in inserted:
            settled[key] = PublishResult(queue_id=inserted[key], accepted=True)
        elif key in earlier:
            settled[key] = PublishResult(queue_id=earlier[key], accepted=False)
    return settled


def insert_batch(
    conn: sa.Connection, events: Sequence[CustomerEvent], *, autocommit: bool = False
) -> list[BatchOutcome]:
    """Queue `events` (types already checked) in the caller's open transaction, or, with
    `autocommit` on a connection in AUTOCOMMIT mode, each statement committed as it returns
    (one round trip for up to _ROWS_PER_STATEMENT events, no BEGIN, savepoint or COMMIT).

    One outcome per event, in order: accepted, a duplicate (of an earlier row, or of an
    earlier event of this batch: same queue id, accepted False), or the error that refused
    that event alone. Defaults as `publish_in`: due now, DEFAULT_MAX_RETRIES, chain depth 0.
    """
    now = datetime.now(UTC)
    first_of: dict[_Key, int] = {}  # a key's first event in the batch; later ones repeat it
    rows: list[dict[str, Any]] = []
    for index, event in enumerate(events):
        key = (event.tenant_id, event.event_id)
        if key not in first_of:
            first_of[key] = index
            rows.append(queue_row(event, now, DEFAULT_MAX_RETRIES, 0, now))
    settled: dict[_Key, BatchOutcome] = {}
    for start in range(0, len(rows), _ROWS_PER_STATEMENT):
        chunk = rows[start : start + _ROWS_PER_STATEMENT]
        try:
            with _all_or_nothing(conn, autocommit):
                inserted = _insert_rows(conn, chunk)
        except DBAPIError as exc:
            if exc.connection_invalidated:  # the connection is gone: nothing to retry on it
                raise
            settled.update(_one_by_one(conn, chunk, autocommit))
            continue
        settled.update({key: PublishResult(qid, accepted=True) for key, qid in inserted.items()})
        missing = {(row["tenant_id"], row["event_id"]) for row in chunk} - set(inserted)
        if missing:
            earlier = _earlier_rows(conn, missing)
            settled.update(
                {key: PublishResult(qid, accepted=False) for key, qid in earlier.items()}
            )
    outcomes: list[BatchOutcome] = []
    for index, event in enumerate(events):
        key = (event.tenant_id, event.event_id)
        outcome = settled.get(key)
        if outcome is None:  # neither inserted nor found: the conflicting row vanished meanwhile
            outcome = SwitchboardError("the event could not be queued; retry later")
        elif isinstance(outcome, PublishResult) and first_of[key] != index:
            outcome = PublishResult(outcome.queue_id, accepted=False)  # a repeat within the batch
        outcomes.append(outcome)
    return outcomes


async def publish_batch_in(
    conn: AsyncConnection, events: Sequence[CustomerEvent], *, autocommit: bool = False
) -> list[BatchOutcome]:
    """Check and queue `events` in the caller's open transaction, visible once it commits
    (with `autocommit`: committed statement by statement, see `insert_batch`).

    One outcome per event, in order (see `insert_batch`); an event whose type is not
    allowed for its tenant, or whose tenant does not exist, gets the ValidationFailedError
    or NotFoundError `publish_in` would raise, and the others go on.
    """
    refused = await refused_event_types(conn, events)
    allowed = [event for event, error in zip(events, refused, strict=True) if error is None]
    written = await conn.run_sync(insert_batch, allowed, autocommit=autocommit) if allowed else []
    return merge_outcomes(refused, written)


def merge_outcomes(
    refused: Sequence[SwitchboardError | None], written: Sequence[BatchOutcome]
) -> list[BatchOutcome]:
    """One outcome per event: its refusal, or (in order) the outcome of writing it."""
    remaining = iter(written)
    return [error if error is not None else next(remaining) for error in refused]
