"""A SQLAlchemy Core statement compiled once, then run on the driver's connection directly.

For the hot reads (`get_account`, `search_accounts`) SQLAlchemy's per-execute work (an
execution context, parameter processing, a cursor result and its row objects: 0.1-0.3 ms of
CPU per statement here) cost more than the database did. A `RawStatement` keeps what that
work derives from the statement, computed once: the SQL text, the order of its positional
parameters with their bind processors, and the result columns with their result
processors. A call then only converts its values, runs the SQL on the sqlite3 or asyncpg
connection and converts the row values as SQLAlchemy would have (on Postgres asyncpg decodes
every column type these reads use, as it does for SQLAlchemy; on SQLite a timestamp is
parsed in one step, and a UUID is left for the pydantic model the row goes into).
The worker's execution writes are compiled here too (orchestration/journal_statements.py).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import asyncpg as postgresql_asyncpg
from sqlalchemy.dialects.sqlite import pysqlite
from sqlalchemy.engine import Dialect

from shared.db.types import UtcDateTime

__all__ = ["RawStatement"]

_Processor = Callable[[Any], Any] | None

_DIALECTS: dict[str, Dialect] = {
    "sqlite": pysqlite.dialect(),
    "postgresql": postgresql_asyncpg.dialect(),
}


@dataclass(frozen=True)
class _Parameter:
    name: str
    processor: _Processor
    literal: Any  # the processed value of a literal in the statement; None for a bound name
    bound: bool  # True: the caller supplies it by `name`


@dataclass(frozen=True)
class RawStatement:
    """`sql` with positional parameters (`?` on SQLite, `$n` on Postgres)."""

    sql: str
    parameters: tuple[_Parameter, ...]
    columns: tuple[str, ...]
    processors: tuple[_Processor, ...]  # one per column; empty when no column needs one

    @classmethod
    def compile(
        cls, stmt: sa.Select[Any] | sa.Insert | sa.Update, dialect: str | Dialect
    ) -> RawStatement:
        """`dialect`: a name (a plain dialect of that kind) or an engine's own dialect, whose
        bind processors (its JSON serializer, say) a write must use."""
        if isinstance(dialect, str):
            dialect = _DIALECTS[dialect]
        dialect_name = dialect.name
        compiled = stmt.compile(dialect=dialect)
        if "__[POSTCOMPILE_" in compiled.string:  # an expanding IN: text that varies per call
            raise ValueError("an IN list needs one bound parameter per item here")
        parameters: list[_Parameter] = []
        for name in compiled.positiontup or ():
            bind = compiled.binds[name]
            process = bind.type._cached_bind_processor(dialect)  # pyright: ignore[reportPrivateUsage]
            if bind.required:
                parameters.append(_Parameter(name, process, None, bound=True))
            else:
                value = process(bind.effective_value) if process else bind.effective_value
                parameters.append(_Parameter(name, None, value, bound=False))
        columns = tuple(entry.keyname for entry in compiled._result_columns)  # pyright: ignore[reportPrivateUsage]
        processors: tuple[_Processor, ...] = ()
        if dialect_name == "sqlite":  # asyncpg already hands back the Python types
            found = tuple(
                _sqlite_result_processor(entry.type, dialect)
                for entry in compiled._result_columns  # pyright: ignore[reportPrivateUsage]
            )
            processors = found if any(found) else ()
        return cls(compiled.string, tuple(parameters), columns, processors)

    def arguments(self, values: Mapping[str, Any]) -> list[Any]:
        """The positional arguments for `values` (by bind name); KeyError if one is missing."""
        out: list[Any] = []
        for p in self.parameters:
            if not p.bound:
                out.append(p.literal)
                continue
            value = values[p.name]
            if p.processor is not None and value is not None:
                value = p.processor(value)
            out.append(value)
        return out

    def dicts(self, rows: Sequence[Sequence[Any]]) -> list[dict[str, Any]]:
        """Rows as {column: value}, values converted as SQLAlchemy would convert them."""
        columns = self.columns
        if not self.processors:
            return [dict(zip(columns, row, strict=True)) for row in rows]
        processors = self.processors
        return [
            {
                column: value if process is None or value is None else process(value)
                for column, process, value in zip(columns, processors, row, strict=True)
            }
            for row in rows
        ]


def _sqlite_result_processor(type_: sa.types.TypeEngine[Any], dialect: Dialect) -> _Processor:
    if isinstance(type_, UtcDateTime):
        return _utc_datetime
    if isinstance(type_, sa.Uuid):
        # Left as its 32 hex characters: every row these reads return is validated into a
        # pydantic model, which parses them (several times faster than uuid.UUID()).
        return None
    return type_._cached_result_processor(dialect, None)  # pyright: ignore[reportPrivateUsage]


def _utc_datetime(value: str) -> datetime:
    """What SQLite's DATETIME and then UtcDateTime make of a stored timestamp, in one step."""
    parsed = datetime.fromisoformat(value)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
