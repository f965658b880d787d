"""The seed's row encoder writes exactly what a Core insert would."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy.dialects.postgresql import asyncpg
from sqlalchemy.dialects.sqlite import aiosqlite
from sqlalchemy.engine import Dialect

from shared.db.schema import accounts, activities
from shared.demo.encoding import RowEncoder

DIALECTS: list[Dialect] = [aiosqlite.dialect(), asyncpg.dialect()]  # pyright: ignore[reportUnknownMemberType]


def sqlalchemy_processor(dialect: Dialect, column: Any) -> Any:
    return column.type.dialect_impl(dialect).bind_processor(dialect)


@pytest.mark.parametrize("dialect", DIALECTS, ids=lambda d: d.name)
def test_datetimes_are_stored_as_sqlalchemy_stores_them(dialect: Dialect) -> None:
    encoder = RowEncoder(dialect, {"accounts": accounts})
    ours = encoder.processor(accounts.c.created_at)
    theirs = sqlalchemy_processor(dialect, accounts.c.created_at)
    assert ours is not None and theirs is not None
    values = [
        datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC),
        datetime(2026, 6, 30, 23, 59, 59, 999_999, tzinfo=timezone(timedelta(hours=-7))),
        None,
    ]
    assert [ours(v) for v in values] == [theirs(v) for v in values]


def test_a_naive_datetime_is_refused() -> None:
    encoder = RowEncoder(aiosqlite.dialect(), {"accounts": accounts})  # pyright: ignore[reportUnknownMemberType]
    process = encoder.processor(accounts.c.created_at)
    assert process is not None
    with pytest.raises(ValueError, match="naive"):
        process(datetime(2026, 1, 1))


@pytest.mark.parametrize("dialect", DIALECTS, ids=lambda d: d.name)
def test_encoded_rows_equal_per_value_processing(dialect: Dialect) -> None:
    tenant, account = uuid.uuid4(), uuid.uuid4()
    shared_hours = {"monday": "08:00-17:00", "sunday": None}
    rows = [
        {
            "id": uuid.uuid4(),
            "tenant_id": tenant,
            "account_id": account,
            "contact_id": None if n % 2 else uuid.uuid4(),
            "kind": "call",
            "subject": f"call {n}",
            "due_at": datetime(2026, 1, n + 1, tzinfo=UTC),
            "created_by": "manual",
            "created_at": datetime(2026, 1, 1, tzinfo=UTC),
        }
        for n in range(5)
    ]
    encoder = RowEncoder(dialect, {"activities": activities, "accounts": accounts})
    sql, params = encoder.encode("activities", rows)
    assert sql.startswith("INSERT INTO activities")
    compiled = activities.insert().compile(dialect=dialect, column_keys=sorted(rows[0]))
    order = compiled.positiontup or []
    expected = [
        tuple(
            (
                p(row[name])
                if (p := sqlalchemy_processor(dialect, activities.c[name]))
                else row[name]
            )
            for name in order
        )
        for row in rows
    ]
    assert params == expected
    when = datetime(2026, 1, 1, tzinfo=UTC)
    account_rows = [
        {"id": uuid.uuid4(), "tenant_id": tenant, "name": name, "gmb_hours": hours}
        | {"created_at": when, "updated_at": when}
        for name, hours in (("A", shared_hours), ("B", {"monday": None}), ("C", shared_hours))
    ]
    _, encoded = encoder.encode("accounts", account_rows)
    hours = sqlalchemy_processor(dialect, accounts.c.gmb_hours)
    assert {hours(shared_hours), hours({"monday": None})} <= {v for r in encoded for v in r}


def test_rows_missing_a_column_with_a_python_default_are_refused() -> None:
    encoder = RowEncoder(aiosqlite.dialect(), {"activities": activities})  # pyright: ignore[reportUnknownMemberType]
    row = {"id": uuid.uuid4(), "tenant_id": uuid.uuid4(), "account_id": uuid.uuid4()}
    with pytest.raises(ValueError, match="created_at"):
        encoder.encode("activities", [row | {"kind": "call", "subject": "x"}])
