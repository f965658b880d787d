"""Writing the demo book of business into a store, all or nothing.

The whole run is one transaction: every tenant, account and child row is committed together
or not at all, so an error, Ctrl-C or a killed process never leaves a partial tenant (SQLite
spills uncommitted pages to its WAL file and Postgres to its heap, so memory stays flat
however large the run). Rows are streamed: the generator runs one batch ahead (in a worker
thread, or a child process for big runs: see `batches.py`), turning rows into driver
parameters there, while the previous batch is inserted with one `executemany` per table.
Parameters are converted as a Core insert would (see `encoding.py`), so the stored values
are the same.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Callable
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.db.database import Database
from shared.db.schema import accounts, metadata, tenants
from shared.demo.batches import SEEDED_TABLES, encoded_batches
from shared.demo.generator import TABLE_ORDER
from shared.demo.plan import MAX_ACCOUNTS, MAX_TENANTS, DemoParams, TenantPlan, plan_tenants
from shared.errors import SwitchboardError, ValidationFailedError

__all__ = [
    "DemoDataExistsError",
    "DemoParams",
    "SeedProgress",
    "SeedReport",
    "default_batch_accounts",
    "seed_demo",
    "validate_sizes",
]

_SQLITE_SEED_CACHE_KIB = 40_960  # a bigger page cache while seeding, within the RSS budget
# From this size on, a seed into a store with no accounts at all drops the CRM tables'
# secondary indexes and rebuilds them after the load, inside the same transaction: building
# an index from sorted data is several times cheaper than a million random inserts into it.
BULK_LOAD_MIN_ACCOUNTS = 20_000


class DemoDataExistsError(SwitchboardError):
    """The tenants a seed run would create already exist."""


@dataclass(frozen=True)
class SeedProgress:
    tenant: str
    accounts_done: int
    accounts_total: int
    rows_written: int


@dataclass
class SeedReport:
    tenants: list[TenantPlan]
    rows: Counter[str] = field(default_factory=Counter[str])
    replaced: list[str] = field(default_factory=list[str])
    elapsed_s: float = 0.0

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())


def validate_sizes(accounts: int, tenants: int) -> None:
    """Raise ValidationFailedError naming the allowed range of a bad count."""
    if not 1 <= tenants <= MAX_TENANTS:
        raise ValidationFailedError(f"--tenants must be between 1 and {MAX_TENANTS}, not {tenants}")
    if not tenants <= accounts <= MAX_ACCOUNTS:
        raise ValidationFailedError(
            f"--accounts must be between the number of tenants ({tenants}) and "
            f"{MAX_ACCOUNTS:,}, not {accounts}"
        )


def default_batch_accounts(db: Database) -> int:
    # Postgres pays a round trip per executemany page, so it gets bigger batches.
    return 1_000 if db.target.is_sqlite else 5_000


async def _existing_tenants(conn: AsyncConnection, names: list[str]) -> dict[str, dict[str, Any]]:
    rows = await conn.execute(
        sa.select(tenants.c.id, tenants.c.name, tenants.c.settings).where(tenants.c.name.in_(names))
    )
    return {row.name: {"id": row.id, "settings": row.settings or {}} for row in rows}


async def _delete_seeded(conn: AsyncConnection, tenant_id: uuid.UUID) -> None:
    """Delete a tenant and everything it owns (scores, workflows, audit too), children first.

    Child-first deletes by tenant_id keep each cascade's foreign-key lookup on an empty set.
    """
    for table in reversed(metadata.sorted_tables):
        if table is not tenants and "tenant_id" in table.c:
            await conn.execute(sa.delete(table).where(table.c.tenant_id == tenant_id))
    await conn.execute(sa.delete(tenants).where(tenants.c.id == tenant_id))


async def _make_room(conn: AsyncConnection, plans: list[TenantPlan], replace: bool) -> list[str]:
    """Refuse, or (with `replace`) delete earlier demo tenants; returns the names deleted."""
    existing = await _existing_tenants(conn, [p.name for p in plans])
    if not existing:
        return []
    names = ", ".join(sorted(existing))
    foreign = sorted(n for n, t in existing.items() if "demo" not in t["settings"])
    if foreign:
        raise DemoDataExistsError(
            f"tenant(s) {', '.join(foreign)} already exist and were not made by `db seed`; "
            "seeding would mix demo rows into them: use another store, or fewer --tenants"
        )
    if not replace:
        raise DemoDataExistsError(
            f"demo data is already seeded (tenant(s) {names}); nothing was written. Pass "
            "--replace to delete those tenants' data and seed again"
        )
    for name in sorted(existing):
        await _delete_seeded(conn, existing[name]["id"])
    return sorted(existing)


def _index_names(conn: sa.Connection) -> set[str]:
    inspector = sa.inspect(conn)
    return {str(ix["name"]) for name in TABLE_ORDER for ix in inspector.get_indexes(name)}


async def _drop_indexes_for_bulk_load(conn: AsyncConnection, params: DemoParams) -> list[sa.Index]:
    """Drop the secondary indexes of the seeded tables when that pays off; return them.

    Only when the store holds no accounts: nobody can be reading CRM data then, so Postgres'
    exclusive lock on the tables until commit blocks no one. Unique constraints stay.
    """
    if params.accounts < BULK_LOAD_MIN_ACCOUNTS:
        return []
    if (await conn.execute(sa.select(accounts.c.id).limit(1))).first() is not None:
        return []
    existing = await conn.run_sync(_index_names)
    indexes = [
        ix
        for name in TABLE_ORDER
        for ix in sorted(SEEDED_TABLES[name].indexes, key=str)
        if ix.name in existing  # only what the migrations made, so we rebuild nothing new
    ]
    for index in indexes:
        await conn.execute(sa.schema.DropIndex(index))
    return indexes


async def seed_demo(
    db: Database,
    params: DemoParams,
    *,
    replace: bool = False,
    batch_accounts: int | None = None,
    on_progress: Callable[[SeedProgress], None] | None = None,
) -> SeedReport:
    """Create the demo tenants and their data in one transaction.

    Raises ValidationFailedError for bad sizes and DemoDataExistsError when the tenants exist
    (unless `replace`, which deletes tenants earlier seed runs made, never others). Anything
    raised, including by `on_progress`, rolls the whole run back.
    """
    validate_sizes(params.accounts, params.tenants)
    plans = plan_tenants(params)
    batch_accounts = batch_accounts or default_batch_accounts(db)
    report = SeedReport(tenants=plans)
    started = time.perf_counter()
    async with db.transaction() as conn:
        report.replaced = await _make_room(conn, plans, replace)
        if db.target.is_sqlite:
            await conn.exec_driver_sql(f"PRAGMA cache_size=-{_SQLITE_SEED_CACHE_KIB}")
        try:
            deferred = await _drop_indexes_for_bulk_load(conn, params)
            await _insert_all(conn, params, plans, batch_accounts, report, on_progress)
            for index in deferred:
                await conn.execute(sa.schema.CreateIndex(index))
            await _refresh_planner_statistics(conn)
        finally:
            if db.target.is_sqlite:  # the connection returns to the pool: restore the default
                await conn.exec_driver_sql("PRAGMA cache_size=-2000")
    report.elapsed_s = time.perf_counter() - started
    return report


async def _refresh_planner_statistics(conn: AsyncConnection) -> None:
    """ANALYZE what was seeded: with stale or no statistics the planners can pick an index
    that matches a search's sort instead of its filters, many times slower."""
    tables = ", ".join(TABLE_ORDER) if conn.dialect.name == "postgresql" else ""
    await conn.exec_driver_sql(f"ANALYZE {tables}".strip())


async def _insert_all(
    conn: AsyncConnection,
    params: DemoParams,
    plans: list[TenantPlan],
    batch_accounts: int,
    report: SeedReport,
    on_progress: Callable[[SeedProgress], None] | None,
) -> None:
    totals = {plan.name: plan.accounts for plan in plans}
    current = plans[0].name
    done = 0
    source = encoded_batches(params, plans, conn.dialect, batch_accounts)
    async with aclosing(source):  # on an error, stop the generator thread or process now
        async for encoded in source:
            for table, sql, parameters in encoded:
                await conn.exec_driver_sql(sql, parameters)
                report.rows[table] += len(parameters)
                if table == "tenants":
                    current, done = plans[report.rows["tenants"] - 1].name, 0
                elif table == "accounts":
                    done += len(parameters)
            if on_progress is not None:
                on_progress(SeedProgress(current, done, totals[current], report.total_rows))
