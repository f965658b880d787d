"""Bulk analytics inputs for one tenant, read straight from the SQL store.

The repository protocol serves one account at a time; ranking every customer's churn risk
or fitting lifetime-value models needs all of a tenant's customers at once. These queries
read the `sql` data source (SQLite or Postgres, the same store `SqlCrmRepository` uses) and
filter every statement by tenant. The `supabase` (REST) data source has no equivalent yet:
callers check `Settings.crm_source` and say so.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

import sqlalchemy as sa

from shared.analytics.health_features import HealthFeatures, health_features_from_history
from shared.analytics.models import AccountActivity
from shared.analytics.models import Review as ReviewInput
from shared.analytics.models import Transaction as TransactionInput
from shared.crm.analytics_inputs import HISTORY_DAYS, as_utc
from shared.db.crm_tables import (
    accounts,
    activities,
    customer_health_scores,
    reviews,
    tenants,
    transactions,
)
from shared.db.database import Database

__all__ = [
    "ACTIVE_CUSTOMER_STAGES",
    "CustomerFeatures",
    "StoredHealth",
    "customer_health_features",
    "latest_health_scores",
    "tenant_settings",
    "tenant_transactions",
]

ACTIVE_CUSTOMER_STAGES = ("customer", "at_risk")


@dataclass(frozen=True)
class CustomerFeatures:
    account_id: uuid.UUID
    name: str
    lifecycle_stage: str
    features: HealthFeatures


@dataclass(frozen=True)
class StoredHealth:
    account_id: uuid.UUID
    name: str
    lifecycle_stage: str
    score: float
    churn_probability: float
    method: str | None
    drivers: list[dict[str, Any]]
    computed_at: datetime


async def tenant_settings(db: Database, tenant_id: uuid.UUID) -> dict[str, Any]:
    """The tenant's `settings` JSON ({} when unset or not an object)."""
    async with db.engine.connect() as conn:
        value = await conn.scalar(sa.select(tenants.c.settings).where(tenants.c.id == tenant_id))
    return cast("dict[str, Any]", value) if isinstance(value, dict) else {}


async def customer_health_features(
    db: Database,
    tenant_id: uuid.UUID,
    *,
    as_of: datetime,
    stages: Sequence[str] = ACTIVE_CUSTOMER_STAGES,
    account_ids: Sequence[uuid.UUID] | None = None,
) -> list[CustomerFeatures]:
    """Health features of every account of the tenant in `stages` (or of `account_ids`),
    from its last HISTORY_DAYS of transactions, done activities and reviews up to `as_of`."""
    since = as_of - timedelta(days=HISTORY_DAYS)
    where: list[sa.ColumnElement[bool]] = [
        accounts.c.tenant_id == tenant_id,
        accounts.c.lifecycle_stage.in_(list(stages)),
    ]
    if account_ids is not None:
        where.append(accounts.c.id.in_(list(account_ids)))
    chosen = sa.select(accounts.c.id).where(*where).scalar_subquery()
    txs: dict[uuid.UUID, list[TransactionInput]] = defaultdict(list)
    acts: dict[uuid.UUID, list[AccountActivity]] = defaultdict(list)
    revs: dict[uuid.UUID, list[ReviewInput]] = defaultdict(list)
    async with db.engine.connect() as conn:
        people = (
            await conn.execute(
                sa.select(accounts.c.id, accounts.c.name, accounts.c.lifecycle_stage)
                .where(*where)
                .order_by(accounts.c.id)
            )
        ).all()
        for row in await conn.execute(
            sa.select(
                transactions.c.account_id, transactions.c.occurred_at, transactions.c.amount
            ).where(
                transactions.c.tenant_id == tenant_id,
                transactions.c.account_id.in_(chosen),
                transactions.c.occurred_at >= since,
                transactions.c.occurred_at <= as_of,
            )
        ):
            txs[row.account_id].append(
                TransactionInput(
                    customer_id=str(row.account_id),
                    occurred_at=as_utc(row.occurred_at),
                    amount=max(0.0, float(row.amount)),
                )
            )
        for row in await conn.execute(
            sa.select(activities.c.account_id, activities.c.kind, activities.c.done_at).where(
                activities.c.tenant_id == tenant_id,
                activities.c.account_id.in_(chosen),
                activities.c.done_at >= since,
                activities.c.done_at <= as_of,
            )
        ):
            acts[row.account_id].append(
                AccountActivity(kind=row.kind, occurred_at=as_utc(row.done_at))
            )
        for row in await conn.execute(
            sa.select(
                reviews.c.account_id, reviews.c.rating, reviews.c.text, reviews.c.reviewed_at
            ).where(
                reviews.c.tenant_id == tenant_id,
                reviews.c.account_id.in_(chosen),
                reviews.c.reviewed_at <= as_of,
            )
        ):
            revs[row.account_id].append(
                ReviewInput(
                    rating=row.rating, text=row.text or "", reviewed_at=as_utc(row.reviewed_at)
                )
            )
    return [
        CustomerFeatures(
            account_id=person.id,
            name=person.name,
            lifecycle_stage=person.lifecycle_stage,
            features=health_features_from_history(
                str(person.id),
                transactions=txs[person.id],
                activities=acts[person.id],
                reviews=revs[person.id],
                as_of=as_of,
            ),
        )
        for person in people
    ]


async def latest_health_scores(db: Database, tenant_id: uuid.UUID) -> list[StoredHealth]:
    """Each account's most recent stored health score (accounts never scored are absent)."""
    ranked = (
        sa.select(
            customer_health_scores,
            sa.func.row_number()
            .over(
                partition_by=customer_health_scores.c.account_id,
                order_by=(
                    customer_health_scores.c.computed_at.desc(),
                    customer_health_scores.c.id.desc(),
                ),
            )
            .label("position"),
        )
        .where(customer_health_scores.c.tenant_id == tenant_id)
        .subquery()
    )
    stmt = (
        sa.select(
            ranked.c.account_id,
            accounts.c.name,
            accounts.c.lifecycle_stage,
            ranked.c.score,
            ranked.c.churn_probability,
            ranked.c.method,
            ranked.c.drivers,
            ranked.c.computed_at,
        )
        .join(accounts, accounts.c.id == ranked.c.account_id)
        .where(ranked.c.position == 1, accounts.c.tenant_id == tenant_id)
    )
    async with db.engine.connect() as conn:
        rows = (await conn.execute(stmt)).all()
    return [
        StoredHealth(
            account_id=row.account_id,
            name=row.name,
            lifecycle_stage=row.lifecycle_stage,
            score=float(row.score),
            churn_probability=float(row.churn_probability),
            method=row.method,
            drivers=list(row.drivers or []),
            computed_at=as_utc(row.computed_at),
        )
        for row in rows
    ]


async def tenant_transactions(
    db: Database, tenant_id: uuid.UUID, *, until: datetime
) -> list[TransactionInput]:
    """Every transaction of the tenant up to `until` (customer_id = the account id)."""
    stmt = sa.select(
        transactions.c.account_id, transactions.c.occurred_at, transactions.c.amount
    ).where(transactions.c.tenant_id == tenant_id, transactions.c.occurred_at <= until)
    async with db.engine.connect() as conn:
        rows = (await conn.execute(stmt)).all()
    return [
        TransactionInput(
            customer_id=str(row.account_id),
            occurred_at=as_utc(row.occurred_at),
            amount=max(0.0, float(row.amount)),
        )
        for row in rows
    ]
