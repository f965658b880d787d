"""workflow_executions writes for the worker: written once where possible, and grouped.

Two things make an execution cost few statements:

- **Pending values.** `start()` makes a row in memory only, and `update(..., wait=False)`
  adds values to it without writing; the next `update()` that waits, or `commit()`, writes
  them all in one statement (an INSERT if the row was never written). Anything that must
  find the row in the database first (a platform's callback, a parked `wait`, a side
  effect's checkpoint) commits it before. When a run ends, the workflow handler takes a
  row that was never written out of the journal (`hand_over`) and returns it with its
  outcome: the queue inserts it in the statement that acknowledges the event
  (orchestration.queue.pg_complete). A crash before a commit loses only what a rerun
  recomputes: the event was not acknowledged, and a step that runs again carries the same
  idempotency key.
- **Group commit.** Every statement waits in a queue; one flusher task runs what has
  queued in a single transaction, the same kind of statement as one executemany (reads as
  one `IN` query), then answers each caller. Statements that arrive while a flush is in
  flight go in the next one, so a lone write is not delayed and a burst batches itself.
  Written one transaction each, these statements cost more than everything else an event
  does (a pool checkout, BEGIN, the statement and COMMIT are four round trips).

A caller's awaited write returns only after the transaction that holds it committed. When
a grouped transaction fails, each of its statements is tried again in a transaction of its
own, so one bad write fails only its own caller.

On Postgres the writes skip SQLAlchemy's per-execute work: each shape's statement is
compiled once (orchestration.journal_statements) and run with asyncpg's executemany on a
connection leased from the engine's pool (shared.db.pg_reads), one round trip for a batch
of one shape (asyncpg runs an executemany as one transaction), BEGIN/COMMIT around several.
The values written are the ones SQLAlchemy would have sent (its own bind processors).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from orchestration.executions import ExecutionRecord, execution_select, record_from_row
from orchestration.journal_statements import CompiledWrite, ExecutionWrites
from shared.db.database import Database
from shared.db.orchestration_tables import workflow_executions
from shared.db.pg_reads import postgres_reader

__all__ = ["ExecutionJournal"]

log = logging.getLogger(__name__)

_x = workflow_executions


@dataclass
class _Op:
    kind: str  # "find" | "insert" | "update"
    params: dict[str, Any]
    done: asyncio.Future[Any] = field(repr=False)

    @property
    def shape(self) -> tuple[str, frozenset[str]]:
        """Ops of one shape run as one statement (executemany needs the same keys)."""
        return self.kind, frozenset(self.params)


@dataclass
class _Row:
    values: dict[str, Any]
    written: bool  # the row exists in the database (else its first write inserts it)


class ExecutionJournal:
    """The execution reads and writes of the workflow handler, its engine and its router
    (one journal shared by all three groups the most)."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._rows: dict[uuid.UUID, _Row] = {}  # executions with values not yet written
        self._pending: list[_Op] = []
        self._flusher: asyncio.Task[None] | None = None
        # Postgres: writes compiled once and run on asyncpg; SQLite: through SQLAlchemy.
        self._writes = None if db.target.is_sqlite else ExecutionWrites(db.engine.dialect)
        self.transactions = 0  # write transactions committed (tests read this)

    async def find(
        self, trigger_event_id: uuid.UUID, workflow_definition_id: uuid.UUID
    ) -> ExecutionRecord | None:
        """The execution an event already started for a workflow (a redelivery resumes it)."""
        return await self._submit(
            "find", {"event": trigger_event_id, "definition": workflow_definition_id}
        )

    def start(self, **values: Any) -> ExecutionRecord:
        """A new execution, written with its first waited update or commit. `values` are
        workflow_executions columns (tenant_id, started_at, step_state with the workflow's
        name, ...); its id is made here."""
        values = {"id": uuid.uuid4(), **values}
        self._rows[values["id"]] = _Row(values, written=False)
        return record_from_row(values)  # not written yet: unset columns read as NULL

    async def update(self, execution_id: uuid.UUID, *, wait: bool = True, **values: Any) -> None:
        """Set columns of an execution: written now (with any pending values), or with
        `wait=False` kept for its next written update or commit."""
        row = self._rows.get(execution_id)
        if row is None:
            if wait:
                await self._submit("update", {"id": execution_id, **values})
                return
            row = self._rows[execution_id] = _Row({}, written=True)
        row.values.update(values)
        if wait:
            await self.commit(execution_id)

    async def commit(self, execution_id: uuid.UUID) -> None:
        """Write the execution's pending values, if any (an INSERT if it was never written)."""
        row = self._rows.pop(execution_id, None)
        if row is None or (row.written and not row.values):
            return
        if row.written:
            await self._submit("update", {"id": execution_id, **row.values})
        else:
            await self._submit("insert", row.values)

    def holds_unwritten(self, execution_id: uuid.UUID) -> bool:
        """The execution was started here and never written: whoever started it commits it
        or hands it over, so values added to it need not wait."""
        row = self._rows.get(execution_id)
        return row is not None and not row.written

    async def hand_over(self, execution_id: uuid.UUID) -> dict[str, Any] | None:
        """For an execution never written: its row, taken out of the journal, for the
        queue to insert with its event's acknowledgement (HandlerOutcome.executions).
        Otherwise its pending values are written now, as by commit(), and None returned."""
        row = self._rows.get(execution_id)
        if row is not None and not row.written and "trigger_event_id" in row.values:
            del self._rows[execution_id]
            return row.values
        await self.commit(execution_id)
        return None

    async def insert(self, rows: Sequence[dict[str, Any]]) -> None:
        """Write rows handed over that will not go with an acknowledgement after all."""
        await asyncio.gather(*(self._submit("insert", row) for row in rows))

    def discard(self, execution_id: uuid.UUID) -> None:
        """Forget pending values (the run was cut short; a redelivery starts again)."""
        self._rows.pop(execution_id, None)

    async def _submit(self, kind: str, params: dict[str, Any]) -> Any:
        op = _Op(kind, params, asyncio.get_running_loop().create_future())
        self._pending.append(op)
        if self._flusher is None or self._flusher.done():
            # Its own task, not the caller's: a caller cancelled meanwhile (a handler
            # timeout) must not leave the others' writes unanswered.
            self._flusher = asyncio.create_task(self._flush())
        return await op.done

    async def _flush(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, []
            try:
                await self._run_together(batch)
            except Exception as exc:
                if len(batch) == 1:
                    _answer_error(batch[0], exc)
                    continue
                log.warning("a grouped execution write failed (%s); writing each alone", exc)
                for op in batch:
                    try:
                        await self._run_together([op])
                    except Exception as alone:
                        _answer_error(op, alone)

    async def _run_together(self, batch: Sequence[_Op]) -> None:
        groups: dict[tuple[str, frozenset[str]], list[_Op]] = {}
        for op in batch:
            groups.setdefault(op.shape, []).append(op)
        if self._writes is not None:
            answers = await self._run_on_asyncpg(self._writes, groups)
        else:
            answers = await self._run_on_sqlalchemy(groups)
        for op, answer in answers:  # after the commit: only committed writes are answered
            if not op.done.done():
                op.done.set_result(answer)

    async def _run_on_sqlalchemy(
        self, groups: dict[tuple[str, frozenset[str]], list[_Op]]
    ) -> list[tuple[_Op, Any]]:
        answers: list[tuple[_Op, Any]] = []
        async with self._db.transaction() as conn:
            for (kind, _), ops in groups.items():
                if kind == "find":
                    answers += await _find_all(conn, ops)
                elif kind == "insert":
                    await conn.execute(_insert(), [op.params for op in ops])
                    answers += [(op, None) for op in ops]
                else:
                    params = [_update_params(op.params) for op in ops]
                    await conn.execute(_update(params[0]), params)
                    answers += [(op, None) for op in ops]
        self.transactions += 1
        return answers

    async def _run_on_asyncpg(
        self, writes: ExecutionWrites, groups: dict[tuple[str, frozenset[str]], list[_Op]]
    ) -> list[tuple[_Op, Any]]:
        answers: list[tuple[_Op, Any]] = []
        statements: list[tuple[CompiledWrite, list[list[Any]]]] = []
        for (kind, columns), ops in groups.items():
            if kind == "find":  # a redelivery's read (rare): through SQLAlchemy, no transaction
                async with self._db.engine.connect() as conn:
                    answers += await _find_all(conn, ops)
                continue
            statement = writes.insert(columns) if kind == "insert" else writes.update(columns)
            statements.append((statement, [statement.arguments(op.params) for op in ops]))
            answers += [(op, None) for op in ops]
        if statements:
            await postgres_reader(self._db).run(lambda conn: _write_all(conn, statements))
            self.transactions += 1
        return answers


async def _write_all(conn: Any, statements: list[tuple[CompiledWrite, list[list[Any]]]]) -> None:
    """Run the statements on an asyncpg connection, in one transaction."""
    if len(statements) == 1:  # an executemany is one transaction of its own
        statement, rows = statements[0]
        await conn.executemany(statement.sql, rows)
        return
    async with conn.transaction():
        for statement, rows in statements:
            await conn.executemany(statement.sql, rows)


def _answer_error(op: _Op, exc: Exception) -> None:
    if not op.done.done():
        op.done.set_exception(exc)


def _insert() -> sa.Insert:
    return sa.insert(_x)


def _update(params: dict[str, Any]) -> sa.Update:
    columns = {
        key[2:]: sa.bindparam(key, type_=_x.c[key[2:]].type) for key in params if key != "b_id"
    }
    return sa.update(_x).where(_x.c.id == sa.bindparam("b_id")).values(columns)


async def _find_all(conn: AsyncConnection, ops: list[_Op]) -> list[tuple[_Op, Any]]:
    events = {op.params["event"] for op in ops}
    rows = await conn.execute(execution_select().where(_x.c.trigger_event_id.in_(events)))
    found = {
        (record.trigger_event_id, record.workflow_definition_id): record
        for record in map(record_from_row, rows.mappings())
    }
    return [(op, found.get((op.params["event"], op.params["definition"]))) for op in ops]


def _update_params(params: dict[str, Any]) -> dict[str, Any]:
    """An update op's {id, column: value} as SQLAlchemy binds it: SQLAlchemy reserves the
    column names themselves in SET, so values are bound as v_<column>."""
    return {"b_id": params["id"], **{f"v_{k}": v for k, v in params.items() if k != "id"}}
