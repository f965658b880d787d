"""How the `sql` data source reads, on SQLite: search_accounts with a capped total count and
query plans that use the (tenant, industry, city, ...) index instead of scanning the tenant;
get_account with the latest qualification and health joined onto the account row."""

from __future__ import annotations

import gc
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event

from shared.crm import sql as sql_module
from shared.crm.models import AccountPage, AccountSummary, LifecycleStage, Page, ProspectSearch
from shared.crm.sql import SqlCrmRepository
from shared.crm.sqlite_reads import sqlite_reader
from shared.db.database import Database
from tests.contract.crm.builders import CrmBuilder

INDEX = "ix_accounts_tenant_id_industry_city"


async def dentists(db: Database, count: int, city: str = "Austin") -> uuid.UUID:
    build = CrmBuilder(db)
    tenant = await build.tenant()
    for i in range(count):
        await build.account(
            tenant, f"Dental {i}", industry="dentist", city=city, gmb_rating=4.5, lead_score=i
        )
    return tenant


@contextmanager
def statements(db: Database) -> Iterator[list[str]]:
    """The SQL sent while the block runs, with its values in place (sqlite3's trace), by the
    connections that read on the event loop or in a thread (sqlite_reads)."""
    sent: list[str] = []

    def trace(dbapi_connection: Any, *_: Any) -> None:
        dbapi_connection.set_trace_callback(sent.append)

    def untrace(dbapi_connection: Any, *_: Any) -> None:
        dbapi_connection.set_trace_callback(None)

    reader = sqlite_reader(db)
    engines = (reader.inline_engine, reader.thread_engine)
    for engine in engines:
        event.listen(engine, "checkout", trace)
        event.listen(engine, "checkin", untrace)
    try:
        yield sent
    finally:
        for engine in engines:
            event.remove(engine, "checkout", trace)
            event.remove(engine, "checkin", untrace)


async def test_total_is_exact_up_to_the_cap_and_a_lower_bound_beyond_it(
    sqlite_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sql_module, "TOTAL_COUNT_CAP", 3)
    tenant = await dentists(sqlite_db, 5)
    repo = SqlCrmRepository(sqlite_db, tenant)

    broad = await repo.search_accounts(ProspectSearch(industry=["dentist"], limit=2))
    assert (broad.total, broad.total_at_least) == (3, True)
    assert len(broad.items) == 2 and broad.next_cursor is not None

    exact = await repo.search_accounts(ProspectSearch(industry=["dentist"], lead_score_min=2))
    assert (exact.total, exact.total_at_least) == (3, False)

    second = await repo.search_accounts(
        ProspectSearch(industry=["dentist"], lead_score_min=2, limit=2)
    )
    follow = await repo.search_accounts(
        ProspectSearch(industry=["dentist"], lead_score_min=2, limit=2, cursor=second.next_cursor)
    )
    assert (follow.total, follow.total_at_least, len(follow.items)) == (3, False, 1)


async def test_a_page_holding_every_match_needs_no_count_query(sqlite_db: Database) -> None:
    tenant = await dentists(sqlite_db, 3)
    repo = SqlCrmRepository(sqlite_db, tenant)
    with statements(sqlite_db) as sent:
        page = await repo.search_accounts(ProspectSearch(industry=["dentist"]))
    assert page.total == 3 and not page.total_at_least
    assert any("FROM accounts" in sql for sql in sent)  # the page was seen being read
    assert not any("count(" in sql.lower() for sql in sent)


async def test_pages_are_one_class_held_for_the_process(sqlite_db: Database) -> None:
    """Subscripting Page[AccountSummary] per call rebuilt the class whenever the collector
    had freed pydantic's weakly cached copy: the page class is held once, and is the class
    that subscripting gives."""
    tenant = await dentists(sqlite_db, 2)
    page = await SqlCrmRepository(sqlite_db, tenant).search_accounts(ProspectSearch())
    gc.collect()
    assert type(page) is AccountPage
    assert Page[AccountSummary] is AccountPage


async def test_city_matches_any_case_through_the_industry_city_index(sqlite_db: Database) -> None:
    tenant = await dentists(sqlite_db, 4)
    await dentists(sqlite_db, 2, city="Dallas")
    repo = SqlCrmRepository(sqlite_db, tenant)
    search = ProspectSearch(
        industry=["dentist"],
        city="aUSTIN",
        rating_min=4.0,
        lifecycle_stage=[LifecycleStage.PROSPECT, LifecycleStage.LEAD],
        limit=2,
    )
    with statements(sqlite_db) as sent:
        page = await repo.search_accounts(search)
    assert page.total == 4 and [a.name for a in page.items] == ["Dental 3", "Dental 2"]

    searches = [sql for sql in sent if "FROM accounts" in sql]
    assert len(searches) == 2  # the page and the count
    async with sqlite_db.engine.connect() as conn:
        for sql in searches:
            plan = str((await conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}")).all())
            assert f"INDEX {INDEX} (tenant_id=? AND industry=? AND city=?" in plan, plan
            if "count(" in sql.lower():  # rating and stage are in the index: no row lookups
                assert f"COVERING INDEX {INDEX}" in plan, plan


async def test_an_account_never_scored_has_no_latest_qualification_or_health(
    sqlite_db: Database,
) -> None:
    build = CrmBuilder(sqlite_db)
    tenant = await build.tenant()
    scored_id = await build.account(tenant, "Scored")
    unscored_id = await build.account(tenant, "Unscored")
    await build.qualification(tenant, scored_id, 70)
    await build.health(tenant, scored_id, 55)
    repo = SqlCrmRepository(sqlite_db, tenant)

    detail = await repo.get_account(unscored_id)
    assert detail.name == "Unscored"
    assert detail.latest_qualification is None and detail.latest_health is None
    other = await repo.get_account(scored_id)
    assert other.latest_qualification is not None and other.latest_qualification.score == 70
    assert other.latest_health is not None and other.latest_health.score == 55
