"""What `get_account` and `search_accounts` must return, read the plain way: statements built
and run through the Database's async engine on every call (as the `sql` data source did
before its reads were built once and run on the driver's connection). The fast paths are
compared with this."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from shared.crm.models import (
    AccountDetail,
    AccountSummary,
    Activity,
    Contact,
    Deal,
    HealthScore,
    LeadQualification,
    ProspectSearch,
    ProspectSort,
    Review,
)
from shared.crm.sql_queries import like_pattern
from shared.db.crm_tables import (
    accounts,
    activities,
    ai_lead_qualification,
    contacts,
    customer_health_scores,
    deals,
    reviews,
)
from shared.db.database import Database
from shared.db.types import utcnow

__all__ = ["SORT_FIELDS", "reference_account", "reference_search"]

SORT_FIELDS = {
    ProspectSort.NAME: "name",
    ProspectSort.RATING: "gmb_rating",
    ProspectSort.REVIEW_COUNT: "gmb_review_count",
    ProspectSort.LEAD_SCORE: "lead_score",
    ProspectSort.UPDATED_AT: "updated_at",
}


async def reference_account(
    db: Database, tenant_id: uuid.UUID, account_id: uuid.UUID
) -> AccountDetail | None:
    """None when the account is not the tenant's."""

    def mine(table: sa.Table) -> list[sa.ColumnElement[bool]]:
        return [table.c.tenant_id == tenant_id, table.c.account_id == account_id]

    async with db.engine.connect() as conn:

        async def rows(stmt: sa.Select[Any]) -> list[dict[str, Any]]:
            return [dict(row) for row in (await conn.execute(stmt)).mappings()]

        found = await rows(
            sa.select(accounts).where(
                accounts.c.tenant_id == tenant_id, accounts.c.id == account_id
            )
        )
        if not found:
            return None
        people = await rows(
            sa.select(contacts)
            .where(*mine(contacts))
            .order_by(contacts.c.is_primary.desc(), contacts.c.last_name, contacts.c.id)
        )
        open_deals = await rows(
            sa.select(deals)
            .where(*mine(deals), deals.c.stage.in_(["new", "proposal", "negotiation"]))
            .order_by(deals.c.created_at.desc(), deals.c.id)
        )
        recent = await rows(
            sa.select(activities)
            .where(*mine(activities))
            .order_by(activities.c.created_at.desc(), activities.c.id)
            .limit(10)
        )
        said = await rows(
            sa.select(reviews)
            .where(*mine(reviews))
            .order_by(reviews.c.reviewed_at.desc(), reviews.c.id)
            .limit(10)
        )
        qualification = await rows(
            sa.select(ai_lead_qualification)
            .where(*mine(ai_lead_qualification))
            .order_by(ai_lead_qualification.c.created_at.desc())
            .limit(1)
        )
        health = await rows(
            sa.select(customer_health_scores)
            .where(*mine(customer_health_scores))
            .order_by(customer_health_scores.c.computed_at.desc())
            .limit(1)
        )
    return AccountDetail.model_validate(
        {
            **found[0],
            "contacts": [Contact.model_validate(r) for r in people],
            "open_deals": [Deal.model_validate(r) for r in open_deals],
            "recent_activities": [Activity.model_validate(r) for r in recent],
            "recent_reviews": [Review.model_validate(r) for r in said],
            "latest_qualification": (
                LeadQualification.model_validate(qualification[0]) if qualification else None
            ),
            "latest_health": HealthScore.model_validate(health[0]) if health else None,
        }
    )


async def reference_search(
    db: Database, tenant_id: uuid.UUID, search: ProspectSearch
) -> list[AccountSummary]:
    """Every match of `search` (its cursor and limit ignored), in the order its pages walk:
    by the sort column in the asked direction, rows without a value last, ties by id."""
    a = accounts.c
    where: list[sa.ColumnElement[bool]] = [a.tenant_id == tenant_id]
    if search.industry:
        where.append(a.industry.in_(search.industry))
    for column, place in ((a.city, search.city), (a.region, search.region)):
        if place:
            where.append(sa.func.lower(column) == sa.func.lower(place))
    for column, low, high in (
        (a.gmb_rating, search.rating_min, search.rating_max),
        (a.gmb_review_count, search.review_count_min, search.review_count_max),
        (a.lead_score, search.lead_score_min, search.lead_score_max),
    ):
        if low is not None:
            where.append(column >= low)
        if high is not None:
            where.append(column <= high)
    if search.lifecycle_stage:
        where.append(a.lifecycle_stage.in_([stage.value for stage in search.lifecycle_stage]))
    if search.has_website is True:
        where.append(sa.and_(a.website.is_not(None), a.website != ""))
    if search.has_website is False:
        where.append(sa.or_(a.website.is_(None), a.website == ""))
    if search.text:
        pattern = like_pattern(search.text)
        where.append(
            sa.or_(a.name.ilike(pattern, escape="\\"), a.notes.ilike(pattern, escape="\\"))
        )
    if search.not_contacted_since_days is not None:
        cutoff = utcnow() - timedelta(days=search.not_contacted_since_days)
        where.append(
            ~sa.exists().where(
                activities.c.tenant_id == tenant_id,
                activities.c.account_id == a.id,
                activities.c.created_at >= cutoff,
            )
        )
    column = a[SORT_FIELDS[search.sort]]
    direction = sa.desc if search.descending else sa.asc
    columns = [a[name] for name in AccountSummary.model_fields]
    stmt = (
        sa.select(*columns)
        .where(*where)
        .order_by(column.is_(None), direction(column), direction(a.id))
    )
    async with db.engine.connect() as conn:
        rows = (await conn.execute(stmt)).mappings().all()
    return [AccountSummary.model_validate(dict(row)) for row in rows]
