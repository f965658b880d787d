"""The `sql` CRM data source: SQLAlchemy Core on SQLite or Postgres, scoped to one tenant.

Every statement carries `tenant_id = :tenant`, so an id from another tenant behaves exactly
like an id that does not exist. Writes run in `Database.transaction()` and tell the change
sink inside that transaction (outbox pattern): if the sink raises, the write is rolled back.
The statements of get_account and search_accounts are built and compiled once
(`account_reads`, `sql_reads`, `raw_statements`) and run on the driver's own connection,
without SQLAlchemy's per-statement work: on SQLite on the event loop within a time budget
(`sqlite_reads`), on Postgres on connections leased from the pool (`pg_reads`). Structured
queries and the pipeline summary are compiled in `sql_queries`, writes live in `sql_writes`.
"""

from __future__ import annotations

import sqlite3
import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from pydantic import TypeAdapter
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.crm import account_reads, sql_queries, sql_reads, sql_writes
from shared.crm.cursor import KeysetPosition, decode_cursor, encode_cursor, search_fingerprint
from shared.crm.models import (
    AccountDetail,
    AccountPage,
    AccountSummary,
    Activity,
    Campaign,
    HealthScore,
    LeadQualification,
    LifecycleStage,
    NewActivity,
    NewCampaign,
    NewHealthScore,
    NewLeadQualification,
    Page,
    PipelineSummary,
    ProspectSearch,
    Review,
    StageChange,
    Transaction,
)
from shared.crm.query import CrmQuery, CrmQueryResult
from shared.crm.repository import CrmChange, CrmChangeSink, account_not_found
from shared.crm.sqlite_reads import sqlite_reader
from shared.db.crm_tables import accounts, reviews, transactions
from shared.db.database import Database
from shared.db.pg_reads import PostgresReader, postgres_reader
from shared.db.raw_statements import RawStatement

__all__ = ["RECENT_ITEMS", "TOTAL_COUNT_CAP", "SqlCrmRepository"]

_SUMMARIES = TypeAdapter(list[AccountSummary])

RECENT_ITEMS = account_reads.RECENT_ITEMS
# search_accounts counts matches exactly up to this many, then reports "at least" this many.
TOTAL_COUNT_CAP = 1000


class SqlCrmRepository:
    def __init__(
        self, db: Database, tenant_id: uuid.UUID, change_sink: CrmChangeSink | None = None
    ) -> None:
        self._db = db
        self._tenant_id = tenant_id
        self._sink = change_sink

    @property
    def tenant_id(self) -> uuid.UUID:
        return self._tenant_id

    # -- reads -------------------------------------------------------------------------------

    async def search_accounts(self, search: ProspectSearch) -> Page[AccountSummary]:
        fingerprint = search_fingerprint(search, self._tenant_id)
        position = decode_cursor(search.cursor, search, fingerprint) if search.cursor else None
        sqlite = self._db.target.is_sqlite
        raw = sql_reads.search_statements(search, position, sqlite=sqlite).raw
        values = sql_reads.search_values(search, self._tenant_id, position, sqlite=sqlite)
        cap = TOTAL_COUNT_CAP + 1
        if sqlite:
            rows, counted = await sqlite_reader(self._db).run_raw(
                lambda conn: _search_sqlite(conn, raw, values, search.limit, cap, position)
            )
        else:
            rows, counted = await _search_postgres(
                postgres_reader(self._db), raw, values, search.limit, cap
            )
        total = len(rows) if position is None and len(rows) <= search.limit else counted
        assert total is not None
        items = _SUMMARIES.validate_python(rows[: search.limit])
        next_cursor = None
        if len(rows) > search.limit:
            last = items[-1]
            value = getattr(last, sql_reads.SORT_COLUMNS[search.sort].name)
            next_cursor = encode_cursor(fingerprint, KeysetPosition(value, last.id))
        return AccountPage(
            items=items,
            total=min(total, TOTAL_COUNT_CAP),
            total_at_least=total > TOTAL_COUNT_CAP,
            next_cursor=next_cursor,
        )

    async def get_account(self, account_id: uuid.UUID) -> AccountDetail:
        bound = {"tenant": self._tenant_id, "account": account_id}
        if self._db.target.is_sqlite:
            found = await sqlite_reader(self._db).run_raw(lambda conn: _account_sqlite(conn, bound))
        else:
            found = await postgres_reader(self._db).run(lambda conn: _account_postgres(conn, bound))
        if found is None:
            raise account_not_found(account_id)
        return found

    async def list_reviews(self, account_id: uuid.UUID, *, limit: int = 100) -> list[Review]:
        """Newest first; NotFoundError if the account is not this tenant's."""
        async with self._db.engine.connect() as conn:
            await self._require_account(conn, account_id)
            result = await conn.execute(
                sa.select(reviews)
                .where(reviews.c.tenant_id == self._tenant_id, reviews.c.account_id == account_id)
                .order_by(reviews.c.reviewed_at.desc(), reviews.c.id)
                .limit(max(1, min(limit, 1000)))
            )
            return [Review.model_validate(dict(r)) for r in result.mappings()]

    async def list_transactions(
        self, account_id: uuid.UUID, *, since: datetime | None = None
    ) -> list[Transaction]:
        """Oldest first (the order LTV models read them in)."""
        async with self._db.engine.connect() as conn:
            await self._require_account(conn, account_id)
            stmt = sa.select(transactions).where(
                transactions.c.tenant_id == self._tenant_id,
                transactions.c.account_id == account_id,
            )
            if since is not None:
                stmt = stmt.where(transactions.c.occurred_at >= since)
            result = await conn.execute(
                stmt.order_by(transactions.c.occurred_at, transactions.c.id)
            )
            return [Transaction.model_validate(dict(r)) for r in result.mappings()]

    async def _require_account(self, conn: AsyncConnection, account_id: uuid.UUID) -> None:
        found = await conn.scalar(
            sa.select(accounts.c.id).where(
                accounts.c.id == account_id, accounts.c.tenant_id == self._tenant_id
            )
        )
        if found is None:
            raise account_not_found(account_id)

    async def query(self, query: CrmQuery) -> CrmQueryResult:
        async with self._db.engine.connect() as conn:
            return await sql_queries.run_query(conn, self._tenant_id, query)

    async def pipeline_summary(self, start: datetime, end: datetime) -> PipelineSummary:
        async with self._db.engine.connect() as conn:
            return await sql_queries.pipeline_summary(conn, self._tenant_id, start, end)

    # -- writes ------------------------------------------------------------------------------

    async def _tell(self, conn: AsyncConnection, change: CrmChange | None) -> None:
        if change is not None and self._sink is not None:
            await self._sink(change, connection=conn)

    async def update_lifecycle_stage(
        self, account_id: uuid.UUID, stage: LifecycleStage
    ) -> StageChange:
        async with self._db.transaction() as conn:
            result, change = await sql_writes.update_lifecycle_stage(
                conn, self._tenant_id, account_id, stage
            )
            await self._tell(conn, change)
        return result

    async def log_activity(self, activity: NewActivity) -> Activity:
        async with self._db.transaction() as conn:
            result, change = await sql_writes.log_activity(conn, self._tenant_id, activity)
            await self._tell(conn, change)
        return result

    async def create_campaign(self, campaign: NewCampaign) -> Campaign:
        async with self._db.transaction() as conn:
            result, change = await sql_writes.create_campaign(conn, self._tenant_id, campaign)
            await self._tell(conn, change)
        return result

    async def record_lead_qualification(
        self, qualification: NewLeadQualification
    ) -> LeadQualification:
        async with self._db.transaction() as conn:
            result, change = await sql_writes.record_lead_qualification(
                conn, self._tenant_id, qualification
            )
            await self._tell(conn, change)
        return result

    async def record_health_score(self, health: NewHealthScore) -> HealthScore:
        async with self._db.transaction() as conn:
            result, change = await sql_writes.record_health_score(conn, self._tenant_id, health)
            await self._tell(conn, change)
        return result


# -- how the reads run: synchronously on SQLite (see sqlite_reads), awaited on Postgres ----------


def _sqlite_rows(
    conn: sqlite3.Connection, statement: RawStatement, values: dict[str, Any]
) -> list[dict[str, Any]]:
    return statement.dicts(conn.execute(statement.sql, statement.arguments(values)).fetchall())


def _search_sqlite(
    conn: sqlite3.Connection,
    raw: sql_reads.RawSearch,
    values: dict[str, Any],
    limit: int,
    cap: int,
    position: KeysetPosition | None,
) -> tuple[list[dict[str, Any]], int | None]:
    """The page (limit+1 rows) and, unless the first page holds every match, the count."""
    wanted = limit + 1
    rows: list[dict[str, Any]] = []
    if raw.valued is not None:
        rows += _sqlite_rows(conn, raw.valued, {**values, "wanted": wanted})
    if len(rows) < wanted:
        rows += _sqlite_rows(conn, raw.unvalued, {**values, "rest": wanted - len(rows)})
    if position is None and len(rows) <= limit:
        return rows, None  # the first page holds every match: nothing to count
    counted = conn.execute(raw.count.sql, raw.count.arguments({**values, "cap": cap})).fetchone()
    assert counted is not None
    return rows, int(counted[0])


async def _postgres_rows(
    conn: Any, statement: RawStatement, values: dict[str, Any]
) -> list[dict[str, Any]]:
    return statement.dicts(await conn.fetch(statement.sql, *statement.arguments(values)))


async def _search_postgres(
    reader: PostgresReader,
    raw: sql_reads.RawSearch,
    values: dict[str, Any],
    limit: int,
    cap: int,
) -> tuple[list[dict[str, Any]], int]:
    """The page (limit+1 rows) and the count. On two connections at once when the reader
    has them: the count's index scan and the page's then take the server's time of the
    longer one, not of both (a typical search's reads at 100k accounts: 0.86 ms of wall
    time instead of 1.20). Each is its own snapshot: a change committed between them can
    show in one only. Otherwise in one statement: one round trip, one snapshot."""
    wanted = limit + 1
    bound = {**values, "wanted": wanted, "rest": wanted, "cap": cap}

    async def page(conn: Any) -> list[dict[str, Any]]:
        rows = await _postgres_rows(conn, raw.valued or raw.unvalued, bound)
        return rows + await _rest_of_page(conn, raw, bound, rows)

    async def count(conn: Any) -> int:
        return int(await conn.fetchval(raw.count.sql, *raw.count.arguments(bound)))

    together = await reader.run_together(page, count)
    if together is not None:
        return together

    async def page_and_count(conn: Any) -> tuple[list[dict[str, Any]], int]:
        found = await _postgres_rows(conn, raw.first_counted, bound)
        total = int(found[0]["total"])  # every row carries it
        for row in found:
            del row["total"]
        rows = [row for row in found if row["id"] is not None]  # an empty part: one row of NULLs
        return rows + await _rest_of_page(conn, raw, bound, rows), total

    return await reader.run(page_and_count)


async def _rest_of_page(
    conn: Any, raw: sql_reads.RawSearch, bound: dict[str, Any], rows: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The rows without a sort value that complete a page the valued ones did not fill."""
    wanted = bound["wanted"]
    if raw.valued is None or len(rows) >= wanted:
        return []
    return await _postgres_rows(conn, raw.unvalued, {**bound, "rest": wanted - len(rows)})


def _account_sqlite(conn: sqlite3.Connection, bound: dict[str, Any]) -> AccountDetail | None:
    account, *lists = account_reads.RAW_ACCOUNT_READS_SQLITE
    found = _sqlite_rows(conn, account, bound)
    if not found:
        return None
    return account_reads.account_detail(found[0], [_sqlite_rows(conn, s, bound) for s in lists])


async def _account_postgres(conn: Any, bound: dict[str, Any]) -> AccountDetail | None:
    found = await _postgres_rows(conn, account_reads.RAW_ACCOUNT_READ_POSTGRES, bound)
    return account_reads.account_detail_from_json(found[0]) if found else None
