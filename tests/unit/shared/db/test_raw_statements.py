"""Statements compiled once for the driver (raw_statements): positional arguments in the
SQL's order with SQLAlchemy's bind conversions, literals filled in, rows converted as
SQLAlchemy converts them; a statement whose text would vary per call is refused."""

from __future__ import annotations

import sqlite3
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from shared.db.raw_statements import RawStatement
from shared.db.types import UUID, UtcDateTime

things = sa.Table(
    "things",
    sa.MetaData(),
    sa.Column("id", UUID, primary_key=True),
    sa.Column("seen_at", UtcDateTime()),
    sa.Column("name", sa.Text()),
)


def test_arguments_and_rows_are_converted_as_sqlalchemy_converts_them() -> None:
    stmt = (
        sa.select(things)
        .where(
            things.c.seen_at >= sa.bindparam("since", type_=UtcDateTime()),
            things.c.name.in_([sa.literal("a"), sa.literal("b")]),
            things.c.id != sa.bindparam("not_id", type_=UUID),
        )
        .order_by(things.c.name)
        .limit(5)
    )
    raw = RawStatement.compile(stmt, "sqlite")
    one, two = uuid.uuid4(), uuid.uuid4()
    plus_two = timezone(timedelta(hours=2))
    since = datetime(2026, 1, 1, 14, tzinfo=plus_two)  # 12:00 UTC

    args = raw.arguments({"since": since, "not_id": two})
    # SQLite's LIMIT comes with an OFFSET: 0
    assert args == ["2026-01-01 12:00:00.000000", "a", "b", two.hex, 5, 0]

    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE things (id CHAR(32), seen_at DATETIME, name TEXT)")
    db.executemany(
        "INSERT INTO things VALUES (?, ?, ?)",
        [(one.hex, "2026-01-02 08:30:00.000000", "a"), (two.hex, "2026-01-03 00:00:00", "b")],
    )
    rows = raw.dicts(db.execute(raw.sql, args).fetchall())
    # the id stays hex (the pydantic model a row goes into parses it); the time is UTC
    seen = datetime(2026, 1, 2, 8, 30, tzinfo=UTC)
    assert rows == [{"id": one.hex, "seen_at": seen, "name": "a"}]
    assert rows[0]["seen_at"].tzinfo is UTC


def test_postgres_parameters_are_numbered_and_named_once() -> None:
    stmt = sa.select(things.c.name).where(
        things.c.id == sa.bindparam("id", type_=UUID),
        sa.or_(things.c.name == sa.bindparam("name"), things.c.id != sa.bindparam("id")),
    )
    raw = RawStatement.compile(stmt, "postgresql")
    assert "$1" in raw.sql and "$2" in raw.sql and "$3" not in raw.sql
    an_id = uuid.uuid4()
    assert raw.arguments({"id": an_id, "name": "x"}) == [an_id, "x"]
    assert raw.columns == ("name",)


def test_an_expanding_in_list_is_refused() -> None:
    stmt = sa.select(things.c.id).where(things.c.name.in_(sa.bindparam("names", expanding=True)))
    with pytest.raises(ValueError, match="one bound parameter per item"):
        RawStatement.compile(stmt, "sqlite")
