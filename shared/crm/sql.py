"""The `sql` CRM data source: SQLAlchemy Core on SQLite or Postgres, scoped to one tenant.

Every statement carries `tenant_id = :tenant`, so an id from another tenant behaves exactly
like an id that does not exist. Writes run in `Database.transaction()` and tell the change
sink inside that transaction (outbox pattern): if the sink raises, the write is rolled back.
Structured queries and the pipeline summary are compiled in `sql_queries`, writes live in
`sql_writes`.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.crm import sql_queries, sql_writes
from shared.crm.cursor import KeysetPosition, decode_cursor, encode_cursor, search_fingerprint
from shared.crm.models import (
    AccountDetail,
    AccountSummary,
    Activity,
    Campaign,
    Contact,
    Deal,
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
    ProspectSort,
    Review,
    StageChange,
    Transaction,
)
from shared.crm.query import CrmQuery, CrmQueryResult
from shared.crm.repository import CrmChange, CrmChangeSink, account_not_found
from shared.crm.text_search import account_text_condition
from shared.db.crm_tables import (
    accounts,
    activities,
    ai_lead_qualification,
    contacts,
    customer_health_scores,
    deals,
    reviews,
    transactions,
)
from shared.db.database import Database
from shared.db.types import utcnow

__all__ = ["RECENT_ITEMS", "TOTAL_COUNT_CAP", "SqlCrmRepository"]

_T = TypeVar("_T")

RECENT_ITEMS = 10
# search_accounts counts matches exactly up to this many, then reports "at least" this many.
TOTAL_COUNT_CAP = 1000
OPEN_DEAL_STAGES = ("new", "proposal", "negotiation")

_SORT_COLUMNS: dict[ProspectSort, sa.Column[Any]] = {
    ProspectSort.NAME: accounts.c.name,
    ProspectSort.RATING: accounts.c.gmb_rating,
    ProspectSort.REVIEW_COUNT: accounts.c.gmb_review_count,
    ProspectSort.LEAD_SCORE: accounts.c.lead_score,
    ProspectSort.UPDATED_AT: accounts.c.updated_at,
}
_SUMMARY_COLUMNS = [accounts.c[name] for name in AccountSummary.model_fields]
_DETAIL_COLUMNS = [
    accounts.c[name]
    for name in AccountDetail.model_fields
    if name in accounts.c and name != "tenant_id"
]


_QUALIFICATION, _HEALTH = "qualification__", "health__"


def _prefixed(fields: dict[str, Any], prefix: str) -> dict[str, Any] | None:
    """Remove the `prefix`ed columns of an outer-joined row from `fields`; None when the
    join found no row (its id is NULL)."""
    joined = {
        name[len(prefix) :]: fields.pop(name) for name in list(fields) if name.startswith(prefix)
    }
    return joined if joined.get("id") is not None else None


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

    async def _on_own_connection(self, read: Callable[[AsyncConnection], Awaitable[_T]]) -> _T:
        async with self._db.engine.connect() as conn:
            return await read(conn)

    async def _read_all(self, *statements: sa.Select[Any]) -> list[list[sa.RowMapping]]:
        """Every row of each of several independent reads. On Postgres each read has its own
        connection and they run side by side (the call takes the slowest, not the sum; one
        snapshot is not needed to describe an account). On SQLite they run one after the
        other on one connection: through aiosqlite, parallel reads cost more in thread
        hand-offs than they save."""

        async def rows(conn: AsyncConnection, statement: sa.Select[Any]) -> list[sa.RowMapping]:
            return list((await conn.execute(statement)).mappings().all())

        if self._db.target.is_sqlite:
            async with self._db.engine.connect() as conn:
                return [await rows(conn, statement) for statement in statements]
        return list(
            await asyncio.gather(
                *(
                    self._on_own_connection(lambda conn, s=statement: rows(conn, s))
                    for statement in statements
                )
            )
        )

    # -- reads -------------------------------------------------------------------------------

    async def search_accounts(self, search: ProspectSearch) -> Page[AccountSummary]:
        fingerprint = search_fingerprint(search, self._tenant_id)
        position = decode_cursor(search.cursor, search, fingerprint) if search.cursor else None
        conditions = self._search_conditions(search)

        if self._db.target.is_sqlite:
            # One connection, one read after the other: through aiosqlite, parallel reads cost
            # more in thread hand-offs than they save.
            async with self._db.engine.connect() as conn:
                rows = await self._keyset_page(conn, search, conditions, position)
                if position is None and len(rows) <= search.limit:
                    total = len(rows)  # the first page holds every match: nothing to count
                else:
                    total = await self._count_up_to(conn, conditions, TOTAL_COUNT_CAP + 1)
        else:
            # Postgres: the page and the count on two connections, side by side, so a search
            # takes the slower of the two rather than their sum.
            rows, counted = await asyncio.gather(
                self._on_own_connection(
                    lambda conn: self._keyset_page(conn, search, conditions, position)
                ),
                self._on_own_connection(
                    lambda conn: self._count_up_to(conn, conditions, TOTAL_COUNT_CAP + 1)
                ),
            )
            total = len(rows) if position is None and len(rows) <= search.limit else counted
        items = [AccountSummary.model_validate(dict(row)) for row in rows[: search.limit]]
        next_cursor = None
        if len(rows) > search.limit:
            last = items[-1]
            value = getattr(last, _SORT_COLUMNS[search.sort].name)
            next_cursor = encode_cursor(fingerprint, KeysetPosition(value, last.id))
        return Page[AccountSummary](
            items=items,
            total=min(total, TOTAL_COUNT_CAP),
            total_at_least=total > TOTAL_COUNT_CAP,
            next_cursor=next_cursor,
        )

    @staticmethod
    async def _count_up_to(
        conn: AsyncConnection, conditions: list[sa.ColumnElement[bool]], cap: int
    ) -> int:
        """How many rows match, counting no further than `cap`: an exact count of a broad
        search is a second pass over every match, far dearer than the page itself."""
        matches = sa.select(sa.literal(1)).where(*conditions).limit(cap).subquery()
        return int(await conn.scalar(sa.select(sa.func.count()).select_from(matches)) or 0)

    def _search_conditions(self, search: ProspectSearch) -> list[sa.ColumnElement[bool]]:
        c = accounts.c
        where: list[sa.ColumnElement[bool]] = [c.tenant_id == self._tenant_id]
        if search.industry:
            where.append(c.industry.in_(search.industry))
        for column, place in ((c.city, search.city), (c.region, search.region)):
            if place:
                where.append(self._same_place(column, place))
        for column, low, high in (
            (c.gmb_rating, search.rating_min, search.rating_max),
            (c.gmb_review_count, search.review_count_min, search.review_count_max),
            (c.lead_score, search.lead_score_min, search.lead_score_max),
        ):
            if low is not None:
                where.append(self._unselective(column >= low))
            if high is not None:
                where.append(self._unselective(column <= high))
        if search.lifecycle_stage:
            where.append(c.lifecycle_stage.in_([s.value for s in search.lifecycle_stage]))
        if search.has_website is not None:
            has_one = sa.and_(c.website.is_not(None), c.website != "")
            where.append(has_one if search.has_website else sa.not_(has_one))
        if search.text:
            where.append(account_text_condition(search.text, sqlite=self._db.target.is_sqlite))
        if search.not_contacted_since_days is not None:
            cutoff = utcnow() - timedelta(days=search.not_contacted_since_days)
            recent = sa.select(activities.c.id).where(
                activities.c.tenant_id == self._tenant_id,
                activities.c.account_id == c.id,
                activities.c.created_at >= cutoff,
            )
            where.append(~recent.exists())
        return where

    def _unselective(self, term: sa.ColumnElement[bool]) -> sa.ColumnElement[bool]:
        """A range filter, marked likely true for SQLite's planner. Without ANALYZE statistics
        (a store filled by ordinary writes never gets them) SQLite rates `rating >= 4` as
        narrower than industry = ? AND city = ?, and scans most of the tenant through the
        (tenant_id, gmb_rating) index. likely() changes only that estimate, not the result."""
        if self._db.target.is_sqlite:
            return sa.func.likely(term, type_=sa.Boolean())
        return term

    def _same_place(self, column: sa.Column[Any], place: str) -> sa.ColumnElement[bool]:
        """Case-insensitive equality, spelled so an index serves it: SQLite's city and region
        columns are NOCASE, Postgres has an index on lower(city) (migration 0001)."""
        if self._db.target.is_sqlite:
            return column == place
        return sa.func.lower(column) == sa.func.lower(sa.literal(place, sa.Text()))

    async def _keyset_page(
        self,
        conn: AsyncConnection,
        search: ProspectSearch,
        conditions: list[sa.ColumnElement[bool]],
        position: KeysetPosition | None,
    ) -> list[sa.RowMapping]:
        """limit+1 rows after `position`. NULL sort values come last, so the page is read in
        two index-friendly parts: rows with a value (keyset on (value, id)), then rows
        without one (keyset on id)."""
        column, key = _SORT_COLUMNS[search.sort], accounts.c.id
        wanted = search.limit + 1
        order = (sa.desc, sa.desc) if search.descending else (sa.asc, sa.asc)
        rows: list[sa.RowMapping] = []
        if position is None or position.sort_value is not None:
            stmt = sa.select(*_SUMMARY_COLUMNS).where(*conditions, column.is_not(None))
            if position is not None:
                pair, after = sa.tuple_(column, key), (position.sort_value, position.id)
                stmt = stmt.where(pair < after if search.descending else pair > after)
            stmt = stmt.order_by(order[0](column), order[1](key)).limit(wanted)
            rows.extend((await conn.execute(stmt)).mappings().all())
        if len(rows) < wanted:
            stmt = sa.select(*_SUMMARY_COLUMNS).where(*conditions, column.is_(None))
            if position is not None and position.sort_value is None:
                stmt = stmt.where(key < position.id if search.descending else key > position.id)
            stmt = stmt.order_by(order[1](key)).limit(wanted - len(rows))
            rows.extend((await conn.execute(stmt)).mappings().all())
        return rows

    async def get_account(self, account_id: uuid.UUID) -> AccountDetail:
        tenant = self._tenant_id

        def of_account(table: sa.Table) -> list[sa.ColumnElement[bool]]:
            return [table.c.tenant_id == tenant, table.c.account_id == account_id]

        def latest(table: sa.Table, newest_first: sa.Column[Any]) -> sa.ScalarSelect[Any]:
            return (
                sa.select(table.c.id)
                .where(*of_account(table))
                .order_by(newest_first.desc())
                .limit(1)
                .scalar_subquery()
            )

        # The account row carries its latest qualification and health score (prefixed
        # columns of two outer joins): each statement is a round trip, and get_account is
        # called once per account an agent looks at.
        qualification, health = ai_lead_qualification, customer_health_scores
        with_latest = (
            sa.select(
                *_DETAIL_COLUMNS,
                *(c.label(f"{_QUALIFICATION}{c.name}") for c in qualification.c),
                *(c.label(f"{_HEALTH}{c.name}") for c in health.c),
            )
            .select_from(
                accounts.outerjoin(
                    qualification,
                    qualification.c.id == latest(qualification, qualification.c.created_at),
                ).outerjoin(health, health.c.id == latest(health, health.c.computed_at))
            )
            .where(accounts.c.id == account_id, accounts.c.tenant_id == tenant)
        )
        found, people, open_deals, recent_activities, recent_reviews = await self._read_all(
            with_latest,
            sa.select(contacts)
            .where(*of_account(contacts))
            .order_by(contacts.c.is_primary.desc(), contacts.c.last_name, contacts.c.id),
            sa.select(deals)
            .where(*of_account(deals), deals.c.stage.in_(OPEN_DEAL_STAGES))
            .order_by(deals.c.created_at.desc(), deals.c.id),
            sa.select(activities)
            .where(*of_account(activities))
            .order_by(activities.c.created_at.desc(), activities.c.id)
            .limit(RECENT_ITEMS),
            sa.select(reviews)
            .where(*of_account(reviews))
            .order_by(reviews.c.reviewed_at.desc(), reviews.c.id)
            .limit(RECENT_ITEMS),
        )
        if not found:
            raise account_not_found(account_id)
        row = found[0]
        fields = dict(row)
        latest_qualification = _prefixed(fields, _QUALIFICATION)
        latest_health = _prefixed(fields, _HEALTH)
        return AccountDetail.model_validate(
            {
                **fields,
                "contacts": [Contact.model_validate(dict(r)) for r in people],
                "open_deals": [Deal.model_validate(dict(r)) for r in open_deals],
                "recent_activities": [Activity.model_validate(dict(r)) for r in recent_activities],
                "recent_reviews": [Review.model_validate(dict(r)) for r in recent_reviews],
                "latest_qualification": (
                    LeadQualification.model_validate(latest_qualification)
                    if latest_qualification
                    else None
                ),
                "latest_health": HealthScore.model_validate(latest_health)
                if latest_health
                else None,
            }
        )

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
