"""workflow_executions writes compiled once, run on the asyncpg connection directly.

The execution journal (orchestration.execution_journal) writes one row per event. Through
SQLAlchemy's executemany each row paid for an execution context, parameter construction
and per-value type processing, and each grouped write for a pool checkout with its ping,
BEGIN and COMMIT: more CPU than everything else the row costs. A `CompiledWrite` keeps what
SQLAlchemy derives from one statement shape (which columns are set), computed once
(shared.db.raw_statements): the SQL text with `$n` parameters and casts, the order of the
parameters, and each one's bind processor taken from the engine's own dialect (the same
JSON serializer, the same timestamp check). A call converts its values with those
processors, so the database receives what SQLAlchemy would have sent, and runs the SQL on
the asyncpg connection (which prepares each text once per connection).

Columns an INSERT leaves out get what SQLAlchemy's Core insert gives them: a Python-side
default (`created_at`) is computed here, a server default is left to the server.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

from shared.db.orchestration_tables import workflow_executions
from shared.db.raw_statements import RawStatement

__all__ = ["CompiledWrite", "ExecutionWrites", "insert_defaults"]

_x = workflow_executions

_Processor = Callable[[Any], Any] | None


@dataclass(frozen=True)
class CompiledWrite:
    """`sql` with positional parameters: one (value key, bind processor) per parameter."""

    sql: str
    parameters: tuple[tuple[str, _Processor], ...]
    defaults: tuple[tuple[str, Callable[[], Any]], ...]  # INSERT: Python-side defaults

    def arguments(self, values: Mapping[str, Any]) -> list[Any]:
        """The positional arguments for one row (`values` by column name)."""
        if self.defaults:
            values = {**{name: make() for name, make in self.defaults}, **values}
        # Every value goes through its processor, None too: SQLAlchemy does the same (a
        # JSON column's None is written as JSON 'null', not SQL NULL).
        return [
            values[name] if process is None else process(values[name])
            for name, process in self.parameters
        ]


def _compile(
    stmt: sa.Insert | sa.Update,
    dialect: Dialect,
    defaults: tuple[tuple[str, Callable[[], Any]], ...] = (),
) -> CompiledWrite:
    compiled = RawStatement.compile(stmt, dialect)
    unset = [p.name for p in compiled.parameters if not p.bound]
    if unset:  # a value SQLAlchemy would fill in itself: not expected here
        raise ValueError(f"workflow_executions write: no value given for {unset[0]}")
    parameters = tuple((p.name, p.processor) for p in compiled.parameters)
    return CompiledWrite(compiled.sql, parameters, defaults)


def _python_default(column: sa.Column[Any]) -> Callable[[], Any] | None:
    default = column.default
    if not isinstance(default, sa.ColumnDefault):
        return None
    if default.is_callable:
        make: Any = default.arg
        return lambda: make(None)  # SQLAlchemy wraps a no-argument callable to take a context
    value: Any = default.arg
    return lambda: value


def insert_defaults(columns: Iterable[str]) -> tuple[tuple[str, Callable[[], Any]], ...]:
    """The Python-side defaults (name, make) of the columns an INSERT of `columns` leaves
    out, as SQLAlchemy's Core insert fills them in (`created_at`)."""
    given = set(columns)
    return tuple(
        (str(column.key), make)
        for column in _x.c
        if column.key not in given and (make := _python_default(column)) is not None
    )


class ExecutionWrites:
    """The INSERT and UPDATE of each shape (set of columns), compiled on first use."""

    def __init__(self, dialect: Dialect) -> None:
        self._dialect = dialect
        self._inserts: dict[frozenset[str], CompiledWrite] = {}
        self._updates: dict[frozenset[str], CompiledWrite] = {}

    def insert(self, columns: Iterable[str]) -> CompiledWrite:
        key = frozenset(columns)
        found = self._inserts.get(key)
        if found is None:
            defaults = insert_defaults(key)
            binds = {name: sa.bindparam(name, type_=_x.c[name].type) for name in key}
            binds |= {name: sa.bindparam(name, type_=_x.c[name].type) for name, _ in defaults}
            found = self._inserts[key] = _compile(
                sa.insert(_x).values(binds), self._dialect, defaults
            )
        return found

    def update(self, columns: Iterable[str]) -> CompiledWrite:
        """SET `columns` (but `id`) WHERE id = the value named `id`."""
        key = frozenset(columns) - {"id"}
        found = self._updates.get(key)
        if found is None:
            # Bound as v_<column>: SQLAlchemy reserves the column names themselves in SET.
            stmt = (
                sa.update(_x)
                .where(_x.c.id == sa.bindparam("id", type_=_x.c.id.type))
                .values({name: sa.bindparam(f"v_{name}", type_=_x.c[name].type) for name in key})
            )
            compiled = _compile(stmt, self._dialect)
            parameters = tuple((n.removeprefix("v_"), p) for n, p in compiled.parameters)
            found = self._updates[key] = CompiledWrite(compiled.sql, parameters, ())
        return found
