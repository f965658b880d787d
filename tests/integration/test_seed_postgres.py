"""Seeding real Postgres: the schema's checks accept every row, and SQLite holds the same data."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa

from shared.db.database import Database
from shared.db.schema import accounts, activities, deals, reviews, transactions
from shared.demo import batches as batches_module
from shared.demo import seed as seed_module
from shared.demo.plan import DemoParams
from shared.demo.seed import DemoDataExistsError, SeedProgress, seed_demo

pytestmark = pytest.mark.postgres

PARAMS = DemoParams(seed=9, accounts=400, tenants=2, as_of=datetime(2026, 11, 26, tzinfo=UTC))
ALL_TABLES = (
    "tenants",
    "accounts",
    "contacts",
    "deals",
    "activities",
    "campaigns",
    "reviews",
    "transactions",
)


async def counts(db: Database) -> dict[str, int]:
    async with db.engine.connect() as conn:
        return {
            t: (await conn.execute(sa.text(f"SELECT count(*) FROM {t}"))).scalar_one()
            for t in ALL_TABLES
        }


async def snapshot(db: Database, table: sa.Table) -> list[dict[str, Any]]:
    async with db.engine.connect() as conn:
        rows = await conn.execute(sa.select(table).order_by(table.c.id))
        return [r._asdict() for r in rows]


async def test_postgres_accepts_the_seed_and_stores_what_sqlite_stores(
    postgres_db: Database, sqlite_db: Database
) -> None:
    report = await seed_demo(postgres_db, PARAMS)
    await seed_demo(sqlite_db, PARAMS)
    assert await counts(postgres_db) == {t: report.rows[t] for t in ALL_TABLES}
    for table in (accounts, deals, activities, reviews, transactions):
        on_postgres = await snapshot(postgres_db, table)
        assert on_postgres == await snapshot(sqlite_db, table), table.name


async def test_a_failure_mid_seed_on_postgres_leaves_nothing(postgres_db: Database) -> None:
    calls = 0

    def fail_on_second_batch(_: SeedProgress) -> None:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise RuntimeError("connection reset")

    with pytest.raises(RuntimeError):
        await seed_demo(postgres_db, PARAMS, batch_accounts=50, on_progress=fail_on_second_batch)
    assert await counts(postgres_db) == dict.fromkeys(ALL_TABLES, 0)


async def test_reseeding_postgres_refuses_then_replaces(postgres_db: Database) -> None:
    await seed_demo(postgres_db, PARAMS)
    with pytest.raises(DemoDataExistsError):
        await seed_demo(postgres_db, PARAMS)
    before = await counts(postgres_db)
    report = await seed_demo(postgres_db, PARAMS, replace=True)
    assert sorted(report.replaced) == ["Summit Growth Partners", "demo"]
    assert await counts(postgres_db) == before


async def test_a_big_run_on_postgres_rebuilds_every_index(
    postgres_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(seed_module, "BULK_LOAD_MIN_ACCOUNTS", 1)
    monkeypatch.setattr(batches_module, "PROCESS_MIN_ACCOUNTS", 1)  # the big-run path

    async def index_names() -> set[str]:
        async with postgres_db.engine.connect() as conn:
            rows = await conn.execute(
                sa.text("SELECT indexname FROM pg_indexes WHERE schemaname = 'public'")
            )
            return {r[0] for r in rows}

    before = await index_names()
    with pytest.raises(RuntimeError):
        await seed_demo(postgres_db, PARAMS, on_progress=_raise)
    assert await index_names() == before
    report = await seed_demo(postgres_db, PARAMS)
    assert await index_names() == before
    assert await counts(postgres_db) == {t: report.rows[t] for t in ALL_TABLES}


def _raise(_: SeedProgress) -> None:
    raise RuntimeError("interrupted")
