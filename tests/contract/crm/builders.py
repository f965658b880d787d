"""Small builders for CRM rows, inserted with SQLAlchemy Core on a Database.

Every contract test makes its own tenants and rows with these, so tests need no shared
fixtures data and can be read top to bottom. Usable by any suite that has a Database on
the store a repository reads (SQLite, Postgres, or the Postgres behind PostgREST).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from shared.db.crm_tables import (
    accounts,
    activities,
    ai_lead_qualification,
    campaigns,
    contacts,
    customer_health_scores,
    deals,
    reviews,
    tenants,
    transactions,
)
from shared.db.database import Database

__all__ = ["PROSPECT_BOOK", "CrmBuilder", "at", "days_ago", "seed_prospect_book"]


def at(year: int, month: int, day: int, hour: int = 12) -> datetime:
    """A fixed UTC instant (noon by default, so no time zone shifts its date)."""
    return datetime(year, month, day, hour, tzinfo=UTC)


def days_ago(days: float) -> datetime:
    return datetime.now(UTC) - timedelta(days=days)


class CrmBuilder:
    """Inserts one row per call and returns its id; unspecified columns get plain defaults."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def _insert(self, table: sa.Table, values: dict[str, Any]) -> uuid.UUID:
        row_id = values.setdefault("id", uuid.uuid4())
        async with self.db.transaction() as conn:
            await conn.execute(sa.insert(table).values(**values))
        assert isinstance(row_id, uuid.UUID)
        return row_id

    async def tenant(self, name: str | None = None) -> uuid.UUID:
        return await self._insert(tenants, {"name": name or f"tenant-{uuid.uuid4().hex[:8]}"})

    async def account(self, tenant_id: uuid.UUID, name: str, **values: Any) -> uuid.UUID:
        return await self._insert(
            accounts, {"tenant_id": tenant_id, "name": name, "lifecycle_stage": "prospect"} | values
        )

    async def contact(
        self, tenant_id: uuid.UUID, account_id: uuid.UUID, **values: Any
    ) -> uuid.UUID:
        return await self._insert(
            contacts,
            {"tenant_id": tenant_id, "account_id": account_id, "first_name": "Pat"} | values,
        )

    async def deal(
        self,
        tenant_id: uuid.UUID,
        account_id: uuid.UUID,
        *,
        stage: str = "new",
        amount: float = 1000.0,
        **values: Any,
    ) -> uuid.UUID:
        return await self._insert(
            deals,
            {
                "tenant_id": tenant_id,
                "account_id": account_id,
                "title": f"{stage} deal",
                "stage": stage,
                "amount": amount,
            }
            | values,
        )

    async def activity(
        self, tenant_id: uuid.UUID, account_id: uuid.UUID, *, kind: str = "call", **values: Any
    ) -> uuid.UUID:
        return await self._insert(
            activities,
            {"tenant_id": tenant_id, "account_id": account_id, "kind": kind, "subject": kind}
            | values,
        )

    async def review(
        self,
        tenant_id: uuid.UUID,
        account_id: uuid.UUID,
        *,
        rating: int = 5,
        reviewed_at: datetime | None = None,
        **values: Any,
    ) -> uuid.UUID:
        return await self._insert(
            reviews,
            {
                "tenant_id": tenant_id,
                "account_id": account_id,
                "rating": rating,
                "reviewed_at": reviewed_at or datetime.now(UTC),
            }
            | values,
        )

    async def transaction(
        self, tenant_id: uuid.UUID, account_id: uuid.UUID, amount: float, occurred_at: datetime
    ) -> uuid.UUID:
        return await self._insert(
            transactions,
            {
                "tenant_id": tenant_id,
                "account_id": account_id,
                "amount": amount,
                "occurred_at": occurred_at,
            },
        )

    async def campaign(self, tenant_id: uuid.UUID, name: str, **values: Any) -> uuid.UUID:
        return await self._insert(
            campaigns,
            {"tenant_id": tenant_id, "name": name, "kind": "retention", "channel": "email"}
            | values,
        )

    async def health(
        self, tenant_id: uuid.UUID, account_id: uuid.UUID, score: float, **values: Any
    ) -> uuid.UUID:
        return await self._insert(
            customer_health_scores,
            {
                "tenant_id": tenant_id,
                "account_id": account_id,
                "score": score,
                "churn_probability": 1 - score / 100,
            }
            | values,
        )

    async def qualification(
        self, tenant_id: uuid.UUID, account_id: uuid.UUID, score: float, **values: Any
    ) -> uuid.UUID:
        return await self._insert(
            ai_lead_qualification,
            {
                "tenant_id": tenant_id,
                "account_id": account_id,
                "score": score,
                "grade": "B",
                "model_version": "test-1",
            }
            | values,
        )

    async def scalar(self, stmt: sa.Executable) -> Any:
        """One value read straight from the store (to check what a write left behind)."""
        async with self.db.engine.connect() as conn:
            return await conn.scalar(stmt)


PROSPECT_BOOK: dict[str, dict[str, Any]] = {
    # Distinct first letters, so name order is the same under every collation.
    "Alpha Dental": {
        "industry": "dentist", "city": "Austin", "region": "TX", "gmb_rating": 4.8,
        "gmb_review_count": 120, "lifecycle_stage": "prospect", "lead_score": 80.0,
        "website": "https://alpha.example", "notes": "Family practice near downtown",
    },
    "Bravo Dental": {
        "industry": "dentist", "city": "austin", "region": "tx", "gmb_rating": 3.9,
        "gmb_review_count": 15, "lifecycle_stage": "lead", "lead_score": 55.0,
        "website": None, "notes": "Wants 100% coverage_plan details",
    },
    "Charlie HVAC": {
        "industry": "hvac", "city": "Dallas", "region": "TX", "gmb_rating": 4.5,
        "gmb_review_count": 60, "lifecycle_stage": "qualified", "lead_score": 70.0,
        "website": "",
    },
    "Delta Consulting": {
        "industry": "business_consultant", "city": "Portland", "region": "OR",
        "lifecycle_stage": "customer", "website": "https://delta.example",
    },
    "Echo HVAC": {
        "industry": "hvac", "city": "Austin", "region": "TX", "gmb_rating": 4.1,
        "gmb_review_count": 8, "lifecycle_stage": "prospect", "lead_score": 30.0,
        "website": "https://echo.example",
    },
    "Foxtrot Dental": {
        "industry": "dentist", "city": "Houston", "region": "TX", "gmb_rating": 5.0,
        "gmb_review_count": 300, "lifecycle_stage": "at_risk", "lead_score": 90.0,
        "website": "https://foxtrot.example",
    },
}  # fmt: skip


async def seed_prospect_book(build: CrmBuilder, tenant_id: uuid.UUID) -> dict[str, uuid.UUID]:
    """Six accounts with known values (see PROSPECT_BOOK); Echo HVAC had a call 5 days ago,
    Foxtrot Dental one 100 days ago, the others none. Returns name -> id."""
    ids = {
        name: await build.account(tenant_id, name, **values)
        for name, values in PROSPECT_BOOK.items()
    }
    await build.activity(tenant_id, ids["Echo HVAC"], created_at=days_ago(5))
    await build.activity(tenant_id, ids["Foxtrot Dental"], created_at=days_ago(100))
    return ids
