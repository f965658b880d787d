"""Seeding a migrated SQLite store: every row fits the schema, and a run is all or nothing."""

from __future__ import annotations

import multiprocessing
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from shared.db.database import Database
from shared.db.schema import accounts, customer_health_scores, tenants, transactions
from shared.demo import batches as batches_module
from shared.demo import seed as seed_module
from shared.demo.generator import iter_tenant_batches
from shared.demo.plan import DemoParams, plan_tenants
from shared.demo.seed import DemoDataExistsError, SeedProgress, seed_demo
from shared.errors import ValidationFailedError
from shared.tenants import create_tenant

AS_OF = datetime(2026, 11, 26, tzinfo=UTC)
TABLES = ("tenants", "accounts", "contacts", "deals", "activities", "campaigns", "reviews")
ALL_TABLES = (*TABLES, "transactions")


def params(accounts: int = 300, tenants: int = 2, seed: int = 5) -> DemoParams:
    return DemoParams(seed=seed, accounts=accounts, tenants=tenants, as_of=AS_OF)


async def counts(db: Database) -> dict[str, int]:
    async with db.engine.connect() as conn:
        return {
            t: (await conn.execute(sa.text(f"SELECT count(*) FROM {t}"))).scalar_one()
            for t in ALL_TABLES
        }


async def test_seed_writes_every_generated_row_and_reads_back_equal(sqlite_db: Database) -> None:
    report = await seed_demo(sqlite_db, params())
    assert await counts(sqlite_db) == {t: report.rows[t] for t in ALL_TABLES}
    assert report.rows["accounts"] == 300 and report.rows["transactions"] > 0
    async with sqlite_db.engine.connect() as conn:
        violations = (await conn.exec_driver_sql("PRAGMA foreign_key_check")).fetchall()
        assert violations == []
        stored = {r.id: r._asdict() for r in await conn.execute(sa.select(accounts))}
        demo = (await conn.execute(sa.select(tenants).where(tenants.c.name == "demo"))).one()
    assert demo.settings["demo"]["seed"] == 5
    tenant = plan_tenants(params())[0]
    generated = [a for b in iter_tenant_batches(params(), tenant) for a in b["accounts"]]
    for row in generated:
        assert stored[row["id"]] == row  # uuids, JSON, floats and aware datetimes round-trip


async def test_seeding_again_refuses_and_writes_nothing(sqlite_db: Database) -> None:
    await seed_demo(sqlite_db, params())
    before = await counts(sqlite_db)
    with pytest.raises(DemoDataExistsError, match="--replace"):
        await seed_demo(sqlite_db, params(seed=6))
    assert await counts(sqlite_db) == before


async def test_replace_deletes_the_earlier_seed_and_seeds_again(sqlite_db: Database) -> None:
    await seed_demo(sqlite_db, params(accounts=200, seed=1))
    report = await seed_demo(sqlite_db, params(accounts=100, tenants=1, seed=2), replace=True)
    assert report.replaced == ["demo"]
    after = await counts(sqlite_db)
    # The second tenant of the first run stays: --replace only touches the tenants it seeds.
    assert after["tenants"] == 2
    async with sqlite_db.engine.connect() as conn:
        demo_id = (
            await conn.execute(sa.select(tenants.c.id).where(tenants.c.name == "demo"))
        ).scalar_one()
        demo_accounts = (
            await conn.execute(sa.select(sa.func.count()).where(accounts.c.tenant_id == demo_id))
        ).scalar_one()
    assert demo_accounts == 100


async def test_a_tenant_not_made_by_seed_is_never_replaced(sqlite_db: Database) -> None:
    await create_tenant(sqlite_db, "demo")
    with pytest.raises(DemoDataExistsError, match="not made by `db seed`"):
        await seed_demo(sqlite_db, params(), replace=True)
    assert (await counts(sqlite_db))["accounts"] == 0


async def test_a_failure_mid_seed_leaves_nothing(sqlite_db: Database) -> None:
    seen: list[SeedProgress] = []

    def fail_on_third_batch(progress: SeedProgress) -> None:
        seen.append(progress)
        if len(seen) == 3:
            raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError, match="disk on fire"):
        await seed_demo(sqlite_db, params(), batch_accounts=40, on_progress=fail_on_third_batch)
    assert seen[-1].rows_written > 0  # rows had been inserted before the failure
    assert await counts(sqlite_db) == dict.fromkeys(ALL_TABLES, 0)
    report = await seed_demo(sqlite_db, params())  # and the store is usable afterwards
    assert report.rows["tenants"] == 2


async def test_progress_counts_accounts_per_tenant(sqlite_db: Database) -> None:
    seen: list[SeedProgress] = []
    await seed_demo(sqlite_db, params(accounts=200), batch_accounts=30, on_progress=seen.append)
    finals = {p.tenant: p for p in seen}
    assert {n: (p.accounts_done, p.accounts_total) for n, p in finals.items()} == {
        "demo": (100, 100),
        "Summit Growth Partners": (100, 100),
    }


@pytest.mark.parametrize(
    ("accounts", "tenants", "message"),
    [(-1, 1, "--accounts"), (10**9, 1, "--accounts"), (5, 0, "--tenants"), (5, 500, "--tenants")],
)
async def test_bad_sizes_are_refused_before_writing(
    sqlite_db: Database, accounts: int, tenants: int, message: str
) -> None:
    with pytest.raises(ValidationFailedError, match=message):
        await seed_demo(sqlite_db, params(accounts=accounts, tenants=tenants))
    assert (await counts(sqlite_db))["tenants"] == 0


async def test_churned_customers_have_no_recent_purchases_in_the_store(
    sqlite_db: Database,
) -> None:
    await seed_demo(sqlite_db, params(accounts=600, tenants=1))
    cutoff = datetime(2026, 10, 27, tzinfo=UTC)
    query = (
        sa.select(accounts.c.lifecycle_stage, sa.func.count(transactions.c.id))
        .join(transactions, transactions.c.account_id == accounts.c.id)
        .where(transactions.c.occurred_at >= cutoff)
        .group_by(accounts.c.lifecycle_stage)
    )
    async with sqlite_db.engine.connect() as conn:
        recent = dict((await conn.execute(query)).all())
    assert recent.get("customer", 0) > 0 and recent.get("churned", 0) == 0


async def index_names(db: Database) -> set[str]:
    def names(conn: sa.Connection) -> set[str]:
        inspector = sa.inspect(conn)
        return {str(ix["name"]) for t in ALL_TABLES for ix in inspector.get_indexes(t)}

    async with db.engine.connect() as conn:
        return await conn.run_sync(names)


async def test_a_bulk_load_rebuilds_every_index_it_dropped(
    sqlite_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(seed_module, "BULK_LOAD_MIN_ACCOUNTS", 1)
    before = await index_names(sqlite_db)
    assert "ix_accounts_tenant_id_industry_city" in before
    await seed_demo(sqlite_db, params())
    assert await index_names(sqlite_db) == before
    async with sqlite_db.engine.connect() as conn:
        plan = (
            await conn.exec_driver_sql(
                "EXPLAIN QUERY PLAN SELECT id FROM accounts WHERE tenant_id = 'x' "
                "AND industry = 'dentist' AND city = 'Austin'"
            )
        ).fetchall()
    assert "ix_accounts_tenant_id_industry_city" in str(plan)


async def test_a_failed_bulk_load_keeps_the_indexes(
    sqlite_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(seed_module, "BULK_LOAD_MIN_ACCOUNTS", 1)
    before = await index_names(sqlite_db)

    def fail(progress: SeedProgress) -> None:
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError):
        await seed_demo(sqlite_db, params(), on_progress=fail)
    assert await index_names(sqlite_db) == before
    assert (await counts(sqlite_db))["accounts"] == 0


async def test_a_child_process_generator_writes_the_same_rows(
    sqlite_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(batches_module, "PROCESS_MIN_ACCOUNTS", 1)
    report = await seed_demo(sqlite_db, params(accounts=120))
    assert await counts(sqlite_db) == {t: report.rows[t] for t in ALL_TABLES}
    tenant = plan_tenants(params(accounts=120))[0]
    generated = [
        a for b in iter_tenant_batches(params(accounts=120), tenant) for a in b["accounts"]
    ]
    async with sqlite_db.engine.connect() as conn:
        stored = {r.id: r._asdict() for r in await conn.execute(sa.select(accounts))}
    assert all(stored[row["id"]] == row for row in generated)


async def test_a_failure_mid_seed_stops_the_child_process(
    sqlite_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(batches_module, "PROCESS_MIN_ACCOUNTS", 1)

    def fail(progress: SeedProgress) -> None:
        if progress.accounts_done:
            raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError, match="interrupted"):
        await seed_demo(sqlite_db, params(accounts=300), batch_accounts=20, on_progress=fail)
    assert multiprocessing.active_children() == []
    assert await counts(sqlite_db) == dict.fromkeys(ALL_TABLES, 0)


async def test_replace_also_deletes_what_others_wrote_for_the_demo_tenant(
    sqlite_db: Database,
) -> None:
    await seed_demo(sqlite_db, params(accounts=50, tenants=1))
    async with sqlite_db.transaction() as conn:
        account = (await conn.execute(sa.select(accounts.c.id, accounts.c.tenant_id))).first()
        assert account is not None
        await conn.execute(
            sa.insert(customer_health_scores).values(
                tenant_id=account.tenant_id, account_id=account.id, score=40, churn_probability=0.6
            )
        )
    await seed_demo(sqlite_db, params(accounts=50, tenants=1), replace=True)
    async with sqlite_db.engine.connect() as conn:
        left = (await conn.execute(sa.select(sa.func.count(customer_health_scores.c.id)))).scalar()
    assert left == 0
    assert (await counts(sqlite_db))["accounts"] == 50
