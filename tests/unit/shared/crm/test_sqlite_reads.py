"""How the `sql` data source's small SQLite reads run (sqlite_reads): on the event loop,
read-only, and in a worker thread when the file is locked or a read runs past its budget."""

from __future__ import annotations

import asyncio
import sqlite3

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import OperationalError

from shared.crm import sqlite_reads
from shared.crm.models import ProspectSearch, ProspectSort
from shared.crm.sql import SqlCrmRepository
from shared.crm.sql_reads import search_statements
from shared.crm.sqlite_reads import sqlite_reader
from shared.db.crm_tables import accounts
from shared.db.database import Database
from tests.contract.crm.builders import CrmBuilder


async def test_a_locked_file_is_waited_for_in_a_thread_not_on_the_loop(
    copied_sqlite_db: Database,
) -> None:
    build = CrmBuilder(copied_sqlite_db)
    tenant = await build.tenant()
    acme = await build.account(tenant, "Acme")
    await copied_sqlite_db.engine.dispose()  # the lock below needs the file to itself
    path = copied_sqlite_db.target.sqlite_path
    assert path is not None
    holder = sqlite3.connect(path, isolation_level=None)
    # In exclusive locking mode a WAL connection keeps its lock until it closes: readers
    # get SQLITE_BUSY meanwhile.
    holder.execute("PRAGMA locking_mode=EXCLUSIVE")
    holder.execute("BEGIN EXCLUSIVE")
    holder.execute("COMMIT")
    reader = sqlite_reader(copied_sqlite_db)
    try:
        # not a moment's wait on the loop: busy goes straight to the thread
        busy_timeout = await reader.run(lambda c: c.exec_driver_sql("PRAGMA busy_timeout").scalar())
        assert busy_timeout == 0
        read = asyncio.create_task(SqlCrmRepository(copied_sqlite_db, tenant).get_account(acme))
        await asyncio.sleep(0)  # the task's first step: busy on the loop, so off to a thread
        assert reader.handed_off == 1
        assert not read.done()  # it waits for the lock in its thread; the loop runs on
    finally:
        holder.close()
    assert (await read).name == "Acme"


async def test_reads_cannot_write(copied_sqlite_db: Database) -> None:
    build = CrmBuilder(copied_sqlite_db)
    tenant = await build.tenant()
    await build.account(tenant, "Acme")

    def delete_everything(conn: sa.Connection) -> None:
        conn.execute(sa.delete(accounts))

    with pytest.raises(OperationalError, match="readonly"):
        await sqlite_reader(copied_sqlite_db).run(delete_everything)
    assert await build.scalar(sa.select(sa.func.count()).select_from(accounts)) == 1


async def test_errors_other_than_busy_or_interrupted_are_raised_not_retried(
    copied_sqlite_db: Database,
) -> None:
    reader = sqlite_reader(copied_sqlite_db)

    def broken(conn: sa.Connection) -> None:
        conn.exec_driver_sql("SELECT * FROM no_such_table")

    with pytest.raises(OperationalError, match="no such table"):
        await reader.run(broken)
    assert reader.handed_off == 0


async def test_a_read_past_its_budget_runs_again_in_a_thread(
    copied_sqlite_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_reads, "INLINE_BUDGET_SECONDS", -1.0)  # spent at the first check
    monkeypatch.setattr(sqlite_reads, "_CHECK_EVERY_STEPS", 1)
    build = CrmBuilder(copied_sqlite_db)
    tenant = await build.tenant()
    for name in ("Acme", "Globex"):
        await build.account(tenant, name, industry="hvac")
    page = await SqlCrmRepository(copied_sqlite_db, tenant).search_accounts(
        ProspectSearch(industry=["hvac"], sort=ProspectSort.NAME, descending=False)
    )
    assert [a.name for a in page.items] == ["Acme", "Globex"] and page.total == 2
    assert sqlite_reader(copied_sqlite_db).handed_off == 1


def test_searches_of_one_shape_share_their_statements() -> None:
    """A shape is which filters a search has (and how many items each list filter has: one
    parameter per item), its sort, direction and where its page starts; not the values."""
    dentists = ProspectSearch(industry=["dentist"], city="Austin", rating_min=4.0)
    plumbers = ProspectSearch(industry=["plumber"], city="Dallas", rating_min=3.0)
    two_trades = ProspectSearch(industry=["plumber", "hvac"], city="Dallas", rating_min=3.0)
    by_name = ProspectSearch(
        industry=["dentist"], city="Austin", rating_min=4.0, sort=ProspectSort.NAME
    )

    first = search_statements(dentists, None, sqlite=True)
    assert search_statements(plumbers, None, sqlite=True) is first
    assert search_statements(two_trades, None, sqlite=True) is not first
    assert search_statements(by_name, None, sqlite=True) is not first
    assert search_statements(dentists, None, sqlite=False) is not first
