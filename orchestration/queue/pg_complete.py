"""Completed events acknowledged on Postgres: one statement for a whole batch.

The worker's settler acknowledges what finished since its last write. Through SQLAlchemy's
executemany that was one UPDATE per event, each a parameter set SQLAlchemy processed and a
statement the server planned and ran (48 us of worker CPU per event). Here the batch is
three arrays and one statement, run as asyncpg's prepared statement on the SQLAlchemy
connection. Each row is still matched on its lease (processing, this worker, this
attempt), so an event reaped and claimed again meanwhile is left to its new holder.

The workflow executions a completed event ran (HandlerOutcome.executions) are inserted by
the same statement: a data-modifying CTE acknowledges the events, and the INSERT keeps only
the rows whose triggering event it acknowledged. So an event is completed exactly when its
executions are on record, in one round trip and one commit rather than two of each; and a
worker that lost its lease writes neither (the new holder runs the workflow itself).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pydantic_core
from sqlalchemy.engine import Dialect

from orchestration.journal_statements import insert_defaults
from shared.db.orchestration_tables import workflow_executions

__all__ = ["COMPLETE_POSTGRES", "CompletionStatements", "complete_postgres"]

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

_Shape = frozenset[str]  # the columns an execution row sets


@dataclass(frozen=True)
class _RowsInsert:
    columns: tuple[str, ...]  # the shape's, then the Python-side defaults it leaves out
    defaults: tuple[tuple[str, Callable[[], Any]], ...]
    uuids: tuple[str, ...]  # the shape's uuid columns

    def rows(self, values: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """The rows as the JSON document holds them. Ids go as text: asyncpg's own UUID
        type (the ids of claimed events and loaded definitions) costs the serializer a
        slow path, several times the rest of a row's ids together."""
        rows: list[dict[str, Any]] = []
        for row in values:
            shaped = {**{n: make() for n, make in self.defaults}, **row}
            for name in self.uuids:
                value = shaped[name]
                if value is not None:
                    shaped[name] = str(value)
            rows.append(shaped)
        return rows


class CompletionStatements:
    """The acknowledgement with the executions' INSERTs, one statement per combination of
    row shapes (usually one: every run of a workflow ends with the same columns set),
    built on first use for the engine's dialect.

    Each shape's rows travel as one JSON array ($6 onwards, one per shape), serialized in
    one call by the engine's own JSON serializer and unpacked by `jsonb_to_recordset` into
    typed columns: sending them as one array parameter per column cost the worker more
    (the driver inspects every element of every array). A JSON column's None is written
    as JSON 'null', as SQLAlchemy writes it; a timestamp travels as its ISO text."""

    def __init__(self, dialect: Dialect) -> None:
        self._dialect = dialect
        self._statements: dict[tuple[_Shape, ...], tuple[str, tuple[_RowsInsert, ...]]] = {}

    def statement(self, shapes: tuple[_Shape, ...]) -> tuple[str, tuple[_RowsInsert, ...]]:
        """The SQL for rows of `shapes` (in that order) and how to shape each's rows."""
        found = self._statements.get(shapes)
        if found is None:
            found = self._statements[shapes] = self._build(shapes)
        return found

    def _build(self, shapes: tuple[_Shape, ...]) -> tuple[str, tuple[_RowsInsert, ...]]:
        inserts: list[str] = []
        plans: list[_RowsInsert] = []
        for number, shape in enumerate(shapes, start=6):
            if "trigger_event_id" not in shape:
                raise ValueError("an execution recorded with its event must name the event")
            defaults = insert_defaults(shape)
            # Plain str names: a column's own key is SQLAlchemy's str subclass, which the
            # JSON serializer takes a slow path for as a dict key.
            names = [str(c.key) for c in workflow_executions.c if c.key in shape]
            names += [name for name, _ in defaults]
            sql_types = {
                name: workflow_executions.c[name].type.compile(dialect=self._dialect)
                for name in names
            }
            uuids = tuple(name for name in names if sql_types[name] == "UUID")
            plans.append(_RowsInsert(tuple(names), defaults, uuids))
            typed = [f"{name} {sql_types[name]}" for name in names]
            # A JSON column's None is JSON null, as SQLAlchemy writes it (not SQL NULL).
            selected = [
                f"coalesce(x.{name}, 'null'::jsonb)" if sql_types[name] == "JSONB" else f"x.{name}"
                for name in names
            ]
            inserts.append(
                f"INSERT INTO workflow_executions ({', '.join(names)})\n"
                f"SELECT {', '.join(selected)}\n"
                f"  FROM jsonb_to_recordset(${number}::jsonb) AS x({', '.join(typed)})\n"
                " WHERE x.trigger_event_id IN (SELECT id FROM acked)"
            )
        ack = COMPLETE_POSTGRES.strip() + "\nRETURNING q.id"
        ctes = [f"acked AS ({ack})"]
        ctes += [f"written_{i} AS ({sql})" for i, sql in enumerate(inserts[:-1])]
        return "WITH " + ",\n".join(ctes) + "\n" + inserts[-1], tuple(plans)


async def complete_postgres(
    driver: Any,
    *,
    worker_id: str,
    now: datetime,
    done: Sequence[tuple[uuid.UUID, int, Any]],
    executions: Sequence[Mapping[str, Any]] = (),
    statements: CompletionStatements | None = None,
) -> None:
    """Mark each (event id, attempt, result) completed with its result, if still leased,
    and insert the `executions` of the events it marked (`statements` required then).
    `driver`: an asyncpg connection (the SQLAlchemy one's: queue.claim.asyncpg_of)."""
    ids = [event_id for event_id, _, _ in done]
    attempts = [attempt for _, attempt, _ in done]
    # Written as the JSON column type writes them (a None result is JSON null).
    results = [pydantic_core.to_json(result).decode() for _, _, result in done]
    if not executions:
        await driver.execute(COMPLETE_POSTGRES, now, ids, attempts, results, worker_id)
        return
    if statements is None:
        raise ValueError("executions to record need the dialect's CompletionStatements")
    by_shape: dict[_Shape, list[Mapping[str, Any]]] = {}
    for row in executions:
        by_shape.setdefault(frozenset(row), []).append(row)
    shapes = tuple(sorted(by_shape, key=sorted))  # one statement per set of shapes
    sql, plans = statements.statement(shapes)
    documents = [
        pydantic_core.to_json(plan.rows(by_shape[shape])).decode()
        for shape, plan in zip(shapes, plans, strict=True)
    ]
    await driver.execute(sql, now, ids, attempts, results, worker_id, *documents)
