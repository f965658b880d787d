"""The `sql` data source's writes: each runs on a connection inside the caller's transaction
and returns the written record plus the change to tell the sink (None: nothing changed)."""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.crm.changes import (
    ActivityLogged,
    CampaignCreated,
    HealthScoreRecorded,
    LeadQualificationRecorded,
    LifecycleStageChanged,
)
from shared.crm.models import (
    Activity,
    Campaign,
    HealthScore,
    LeadQualification,
    LifecycleStage,
    NewActivity,
    NewCampaign,
    NewHealthScore,
    NewLeadQualification,
    StageChange,
)
from shared.crm.repository import account_not_found
from shared.db.crm_tables import (
    accounts,
    activities,
    ai_lead_qualification,
    campaigns,
    contacts,
    customer_health_scores,
)
from shared.db.types import utcnow
from shared.errors import ValidationFailedError

__all__ = [
    "create_campaign",
    "log_activity",
    "record_health_score",
    "record_lead_qualification",
    "update_lifecycle_stage",
]


def _this_account(tenant_id: uuid.UUID, account_id: uuid.UUID) -> list[sa.ColumnElement[bool]]:
    return [accounts.c.tenant_id == tenant_id, accounts.c.id == account_id]


async def _lock_account(
    conn: AsyncConnection, tenant_id: uuid.UUID, account_id: uuid.UUID, *columns: sa.Column[object]
) -> sa.Row[tuple[object, ...]]:
    """The account's row (FOR UPDATE on Postgres; SQLite's transaction already holds the
    write lock), or NotFoundError if it is not this tenant's."""
    stmt = sa.select(accounts.c.id, *columns).where(*_this_account(tenant_id, account_id))
    row = (await conn.execute(stmt.with_for_update())).first()
    if row is None:
        raise account_not_found(account_id)
    return row


async def update_lifecycle_stage(
    conn: AsyncConnection, tenant_id: uuid.UUID, account_id: uuid.UUID, stage: LifecycleStage
) -> tuple[StageChange, LifecycleStageChanged | None]:
    row = await _lock_account(conn, tenant_id, account_id, accounts.c.lifecycle_stage)
    previous = LifecycleStage(str(row.lifecycle_stage))
    result = StageChange(
        account_id=account_id, previous_stage=previous, new_stage=stage, changed=previous != stage
    )
    if not result.changed:
        return result, None
    await conn.execute(
        sa.update(accounts)
        .where(*_this_account(tenant_id, account_id))
        .values(lifecycle_stage=stage.value, updated_at=utcnow())
    )
    return result, LifecycleStageChanged(account_id, previous.value, stage.value)


async def log_activity(
    conn: AsyncConnection, tenant_id: uuid.UUID, new: NewActivity
) -> tuple[Activity, ActivityLogged]:
    """NotFoundError for another tenant's account; ValidationFailedError for a contact that
    is not one of the account's."""
    await _lock_account(conn, tenant_id, new.account_id)
    if new.contact_id is not None:
        found = await conn.scalar(
            sa.select(contacts.c.id).where(
                contacts.c.tenant_id == tenant_id,
                contacts.c.account_id == new.account_id,
                contacts.c.id == new.contact_id,
            )
        )
        if found is None:
            raise ValidationFailedError(
                f"contact {new.contact_id} is not a contact of account {new.account_id}; "
                "get_account lists its contacts (or leave contact_id out)"
            )
    record = Activity(
        id=uuid.uuid4(),
        account_id=new.account_id,
        contact_id=new.contact_id,
        kind=new.kind,
        subject=new.subject,
        body=new.body,
        due_at=new.due_at,
        done_at=new.done_at,
        created_by=new.created_by,
        created_at=utcnow(),
    )
    await conn.execute(
        sa.insert(activities).values(tenant_id=tenant_id, **record.model_dump(mode="python"))
    )
    return record, ActivityLogged.of(record)


async def create_campaign(
    conn: AsyncConnection, tenant_id: uuid.UUID, new: NewCampaign
) -> tuple[Campaign, CampaignCreated]:
    """Status `scheduled` when it has a send time, else `draft`."""
    if new.account_id is not None:
        await _lock_account(conn, tenant_id, new.account_id)
    record = Campaign(
        id=uuid.uuid4(),
        status="scheduled" if new.scheduled_at else "draft",
        created_at=utcnow(),
        **new.model_dump(mode="python"),
    )
    await conn.execute(
        sa.insert(campaigns).values(tenant_id=tenant_id, **record.model_dump(mode="python"))
    )
    return record, CampaignCreated.of(record)


async def record_lead_qualification(
    conn: AsyncConnection, tenant_id: uuid.UUID, new: NewLeadQualification
) -> tuple[LeadQualification, LeadQualificationRecorded]:
    """Also sets the account's lead_score to the qualification's score."""
    row = await _lock_account(conn, tenant_id, new.account_id, accounts.c.lead_score)
    previous_score = row.lead_score
    record = LeadQualification(id=uuid.uuid4(), created_at=utcnow(), **new.model_dump())
    await conn.execute(
        sa.insert(ai_lead_qualification).values(tenant_id=tenant_id, **record.model_dump())
    )
    await conn.execute(
        sa.update(accounts)
        .where(*_this_account(tenant_id, new.account_id))
        .values(lead_score=new.score, updated_at=record.created_at)
    )
    previous = float(previous_score) if isinstance(previous_score, float) else None
    return record, LeadQualificationRecorded.of(record, previous)


async def record_health_score(
    conn: AsyncConnection, tenant_id: uuid.UUID, new: NewHealthScore
) -> tuple[HealthScore, HealthScoreRecorded]:
    await _lock_account(conn, tenant_id, new.account_id)
    record = HealthScore(id=uuid.uuid4(), computed_at=utcnow(), **new.model_dump())
    await conn.execute(
        sa.insert(customer_health_scores).values(tenant_id=tenant_id, **record.model_dump())
    )
    return record, HealthScoreRecorded.of(record)
