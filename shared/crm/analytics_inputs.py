"""CRM records as analytics-engine inputs, for one account, through the repository protocol.

Works with every data source (sql and supabase), because it only calls `CrmRepository`
methods. Bulk inputs for a whole tenant are SQL-only: see `analytics_data`.

Conventions: a CRM review without text becomes an empty text (VADER skips it); a Google
rating outside 1..5 (0 means "no rating" in some scrapes) becomes None; an activity counts
as a touch when it was done, at its `done_at`. The CRM has no support-ticket or complaint
activity kind, so the health score's support_load factor only sees such activities once a
tenant's CRM records them (it is reported as "0 in 90 days" until then).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.analytics.health_features import HealthFeatures, health_features_from_history
from shared.analytics.models import AccountActivity, BusinessProfile
from shared.analytics.models import Review as ReviewInput
from shared.analytics.models import Transaction as TransactionInput
from shared.crm.models import AccountDetail, Review, Transaction
from shared.crm.query import MAX_QUERY_ROWS, CrmQuery, FilterOp, QueryFilter, QueryOrder
from shared.crm.repository import CrmRepository

__all__ = [
    "HISTORY_DAYS",
    "account_activities",
    "account_health_features",
    "as_utc",
    "business_profile",
    "review_inputs",
    "transaction_inputs",
]

HISTORY_DAYS = 365  # how far back health features look (payment intervals need a year)
REVIEWS_READ = 200


def as_utc(value: datetime) -> datetime:
    """Stores without time zones (SQLite) hand back naive UTC datetimes."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def review_inputs(reviews: Sequence[Review]) -> list[ReviewInput]:
    return [
        ReviewInput(
            rating=r.rating,
            text=r.text or "",
            reviewed_at=as_utc(r.reviewed_at),
            author=r.author,
            owner_response=r.owner_response,
        )
        for r in reviews
    ]


def transaction_inputs(transactions: Sequence[Transaction]) -> list[TransactionInput]:
    return [
        TransactionInput(
            customer_id=str(t.account_id),
            occurred_at=as_utc(t.occurred_at),
            amount=max(0.0, float(t.amount)),  # refunds carry no purchase signal
        )
        for t in transactions
    ]


def _hours(raw: dict[str, Any] | None) -> dict[str, str] | None:
    if not raw:
        return None
    return {str(day): str(value) for day, value in raw.items() if value not in (None, "")}


def business_profile(detail: AccountDetail, reviews: Sequence[Review]) -> BusinessProfile:
    """The account as the lead, growth and competitive analyses see a business."""
    rating = detail.gmb_rating
    return BusinessProfile(
        name=detail.name,
        industry=detail.industry,
        city=detail.city,
        region=detail.region,
        rating=rating if rating is not None and 1.0 <= rating <= 5.0 else None,
        review_count=max(detail.gmb_review_count or 0, len(reviews)),
        website=detail.website,
        hours=_hours(detail.gmb_hours),
        photos_count=detail.gmb_photos_count or 0,
        reviews=review_inputs(reviews),
    )


async def account_activities(
    repository: CrmRepository, account_id: uuid.UUID, since: datetime
) -> list[AccountActivity]:
    """Done activities of one account since `since` (the newest MAX_QUERY_ROWS)."""
    result = await repository.query(
        CrmQuery(
            entity="activities",
            filters=[
                QueryFilter(field="account_id", op=FilterOp.EQ, value=str(account_id)),
                QueryFilter(field="done_at", op=FilterOp.GTE, value=since.isoformat()),
            ],
            fields=["kind", "done_at"],
            order_by=[QueryOrder(by="done_at", descending=True)],
            limit=MAX_QUERY_ROWS,
        )
    )
    kind_at, done_at = result.columns.index("kind"), result.columns.index("done_at")
    return [
        AccountActivity(
            kind=str(row[kind_at]),
            occurred_at=as_utc(datetime.fromisoformat(str(row[done_at]))),
        )
        for row in result.rows
        if row[done_at] is not None
    ]


async def account_health_features(
    repository: CrmRepository, account_id: uuid.UUID, *, as_of: datetime
) -> HealthFeatures:
    """One account's health features from its transactions, done activities and reviews.
    Raises NotFoundError for an account outside the repository's tenant."""
    since = as_of - timedelta(days=HISTORY_DAYS)
    transactions = await repository.list_transactions(account_id, since=since)
    reviews = await repository.list_reviews(account_id, limit=REVIEWS_READ)
    activities = await account_activities(repository, account_id, since)
    return health_features_from_history(
        str(account_id),
        transactions=transaction_inputs(transactions),
        activities=activities,
        reviews=review_inputs(reviews),
        as_of=as_of,
    )
