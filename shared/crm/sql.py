"""The `sql` CRM data source: SQLAlchemy Core on SQLite or Postgres, scoped to one tenant.

Every statement carries `tenant_id = :tenant`, so an id from another tenant behaves exactly
like an id that does not exist. Writes run in `Database.transaction()` and tell the change
sink inside that transaction (outbox pattern): if the sink raises, the write is rolled back.
The statements of get_account and search_accounts are built once in `sql_reads` (on
SQLite they run on the event loop within a time budget, see `sqlite_reads`), structured
queries and the pipeline summary are compiled in `sql_queries`, writes live in `sql_writes`.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar

import sqlalchemy as sa
from pydantic import TypeAdapter
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.crm import sql_queries, sql_reads, sql_writes
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

__all__ = ["RECENT_ITEMS", "TOTAL_COUNT_CAP", "SqlCrmRepository"]

_T = TypeVar("_T")

_SUMMARIES = TypeAdapter(list[AccountSummary])

RECENT_ITEMS = sql_reads.RECENT_ITEMS
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
        statements = sql_reads.search_statements(search, position, sqlite=sqlite)
        values = sql_reads.search_values(search, self._tenant_id, position, sqlite=sqlite)
        cap = TOTAL_COUNT_CAP + 1
        if sqlite:
            rows, counted = await sqlite_reader(self._db).run(
                lambda conn: _search_sqlite(conn, statements, values, search.limit, cap, position)
            )
        else:
            rows, counted = await self._autocommit(
                lambda conn: _search_postgres(conn, statements, values, search.limit, cap)
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
            found = await sqlite_reader(self._db).run(lambda conn: _account_sqlite(conn, bound))
        else:
            found = await self._autocommit(lambda conn: _account_postgres(conn, bound))
        if found is None:
            raise account_not_found(account_id)
        return found

    async def _autocommit(self, read: Callable[[AsyncConnection], Awaitable[_T]]) -> _T:
        """`read` on a connection of its own that runs each statement on its own (a single
        read needs no transaction: no BEGIN and ROLLBACK round trips around it)."""
        async with self._db.engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            return await read(conn)

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


def _dicts(result: sa.CursorResult[Any]) -> list[dict[str, Any]]:
    keys = list(result.keys())
    return [dict(zip(keys, row, strict=True)) for row in result.all()]


def _search_sqlite(
    conn: sa.Connection,
    statements: sql_reads.SearchStatements,
    values: dict[str, Any],
    limit: int,
    cap: int,
    position: KeysetPosition | None,
) -> tuple[list[dict[str, Any]], int | None]:
    """The page (limit+1 rows) and, unless the first page holds every match, the count."""
    wanted = limit + 1
    rows: list[dict[str, Any]] = []
    if statements.valued is not None:
        rows += _dicts(conn.execute(statements.valued, {**values, "wanted": wanted}))
    if len(rows) < wanted:
        rows += _dicts(conn.execute(statements.unvalued, {**values, "rest": wanted - len(rows)}))
    if position is None and len(rows) <= limit:
        return rows, None  # the first page holds every match: nothing to count
    return rows, int(conn.execute(statements.count, {**values, "cap": cap}).scalar_one())


async def _search_postgres(
    conn: AsyncConnection,
    statements: sql_reads.SearchStatements,
    values: dict[str, Any],
    limit: int,
    cap: int,
) -> tuple[list[dict[str, Any]], int]:
    """The page (limit+1 rows) and the count: one round trip unless the rows with a sort
    value do not fill the page."""
    wanted = limit + 1
    bound = {**values, "wanted": wanted, "rest": wanted, "cap": cap}
    found = _dicts(await conn.execute(statements.first_counted, bound))
    total = int(found[0]["total"])  # every row carries it
    for row in found:
        del row["total"]
    rows = [row for row in found if row["id"] is not None]  # an empty part: one row of NULLs
    if statements.valued is not None and len(rows) < wanted:
        bound["rest"] = wanted - len(rows)
        rows += _dicts(await conn.execute(statements.unvalued, bound))
    return rows, total


def _account_sqlite(conn: sa.Connection, bound: dict[str, Any]) -> AccountDetail | None:
    account, *lists = sql_reads.ACCOUNT_READS_SQLITE
    found = conn.execute(account, bound).mappings().first()
    if found is None:
        return None
    return sql_reads.account_detail(found, [conn.execute(s, bound).mappings().all() for s in lists])


async def _account_postgres(conn: AsyncConnection, bound: dict[str, Any]) -> AccountDetail | None:
    found = (await conn.execute(sql_reads.ACCOUNT_READS_POSTGRES, bound)).mappings().first()
    return sql_reads.account_detail_from_json(found) if found is not None else None
