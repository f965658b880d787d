"""Turning generated rows into driver parameters fast, exactly as a Core insert would.

A Core `insert(table), rows` runs every value through its type's bind processor, and that
Python work, not the database, bounds how fast a million accounts can be written. This
encoder asks SQLAlchemy for the same processors once per statement and applies them a column
at a time; three hot cases get equivalent shortcuts, which the unit tests check against
SQLAlchemy's own processors:

- UtcDateTime on SQLite: the `YYYY-MM-DD HH:MM:SS.ffffff` text SQLAlchemy stores, built by C
  `isoformat` instead of a `%` format;
- JSON: values the generator shares between rows (opening hours, categories) are serialised
  once per batch (memoised by object identity, valid because the batch keeps them alive);
- foreign-key uuids (`tenant_id`, `account_id`, `contact_id`): the same memo.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

from shared.db.types import UtcDateTime

__all__ = ["RowEncoder"]

Processor = Callable[[Any], Any]

_REPEATED_UUIDS = frozenset({"tenant_id", "account_id", "contact_id"})


def _sqlite_utc_text(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("naive datetime given to a timestamptz column; use UTC-aware values")
    if value.tzinfo is not UTC:  # the generator's values are UTC already: skip the conversion
        value = value.astimezone(UTC)
    return value.replace(tzinfo=None).isoformat(" ", "microseconds")


@dataclass(frozen=True)
class _Statement:
    sql: str
    columns: tuple[str, ...]
    processors: tuple[Processor | None, ...]
    memoised: tuple[bool, ...]  # apply the processor once per distinct object in a batch


class RowEncoder:
    """Rows (dicts keyed by column) to an INSERT and positional parameters, for one dialect."""

    def __init__(self, dialect: Dialect, tables: dict[str, sa.Table]) -> None:
        self._dialect = dialect
        self._tables = tables
        self._statements: dict[tuple[str, frozenset[str]], _Statement] = {}

    def processor(self, column: sa.Column[Any]) -> Processor | None:
        """The bind processor used for `column` (SQLAlchemy's, or an equivalent shortcut)."""
        if isinstance(column.type, UtcDateTime) and self._dialect.name == "sqlite":
            return _sqlite_utc_text
        impl = column.type.dialect_impl(self._dialect)
        return impl.bind_processor(self._dialect)  # pyright: ignore[reportUnknownMemberType]

    def _statement(self, table_name: str, columns: frozenset[str]) -> _Statement:
        key = (table_name, columns)
        found = self._statements.get(key)
        if found is not None:
            return found
        table = self._tables[table_name]
        compiled = table.insert().compile(dialect=self._dialect, column_keys=sorted(columns))
        order = tuple(compiled.positiontup or ())
        if frozenset(order) != columns:  # a column with a Python-side default the rows left out
            missing = ", ".join(sorted(set(order) - columns))
            raise ValueError(f"{table_name} rows must set every column with a default: {missing}")
        statement = _Statement(
            sql=compiled.string,
            columns=order,
            processors=tuple(self.processor(table.c[name]) for name in order),
            memoised=tuple(
                name in _REPEATED_UUIDS or isinstance(table.c[name].type, sa.JSON) for name in order
            ),
        )
        self._statements[key] = statement
        return statement

    def encode(self, table_name: str, rows: list[dict[str, Any]]) -> tuple[str, list[Any]]:
        """(SQL, one parameter tuple per row). Every row of one call must have the same keys."""
        statement = self._statement(table_name, frozenset(rows[0]))
        columns: list[list[Any]] = []
        for name, process, memoised in zip(
            statement.columns, statement.processors, statement.memoised, strict=True
        ):
            values = [row[name] for row in rows]
            if process is None:
                columns.append(values)
            elif memoised:
                columns.append(_memoised_map(process, values))
            else:
                columns.append(list(map(process, values)))
        return statement.sql, list(zip(*columns, strict=True))


def _memoised_map(process: Processor, values: list[Any]) -> list[Any]:
    done: dict[int, Any] = {}
    out: list[Any] = []
    for value in values:
        key = id(value)
        if key not in done:
            done[key] = process(value)
        out.append(done[key])
    return out
