"""What `get_account` must return, read the plain way: one statement per part, built and run
through the Database's async engine on every call (as the `sql` data source did before its
reads were built once and, on SQLite, run on the event loop). The fast paths are compared
with this."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa

from shared.crm.models import (
    AccountDetail,
    Activity,
    Contact,
    Deal,
    HealthScore,
    LeadQualification,
    Review,
)
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

__all__ = ["reference_account"]


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
