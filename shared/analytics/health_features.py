"""The per-account features the health score and churn model read, and their risk scale.

Each feature maps to a risk in 0 (healthy) .. 1 (alarming) on a fixed, documented scale, so
the prior-weight score and the fitted logistic model see the same inputs:

- recency: days since the last touch (purchase or activity); 90+ days is full risk.
- frequency: touches in the last 90 days; risk exp(-n/4) (none = 1, 4 = 0.37, 10 = 0.08).
- spend_trend: drop of spend in the last 90 days against the 90 before; a 100% drop is 1.
- support_load: support tickets and complaints in 90 days; risk 1 - exp(-n/2).
- sentiment: the customer's mean review compound c; risk (1 - c) / 2.
- payment_gap: days since the last payment over the usual interval r; risk (r - 1) / 2,
  capped to 0..1 (a payment three intervals late is full risk).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise
from statistics import median
from typing import Literal, get_args

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from shared.analytics._scientific import FloatArray
from shared.analytics.models import AccountActivity, Review, Transaction, resolve_as_of
from shared.analytics.sentiment import compound_score

__all__ = [
    "HEALTH_FACTORS",
    "HealthColumns",
    "HealthFactor",
    "HealthFeatures",
    "health_features_from_history",
    "risk_matrix",
]

HealthFactor = Literal[
    "recency", "frequency", "spend_trend", "support_load", "sentiment", "payment_gap"
]
HEALTH_FACTORS: tuple[HealthFactor, ...] = get_args(HealthFactor)
WINDOW = timedelta(days=90)
FRICTION_KINDS = frozenset({"support_ticket", "complaint"})


class HealthFeatures(BaseModel):
    """One account's recent behaviour; None where there is no data."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    customer_id: str = Field(min_length=1)
    days_since_last_activity: float | None = Field(default=None, ge=0.0)
    activities_last_90_days: int = Field(default=0, ge=0)
    spend_last_90_days: float = Field(default=0.0, ge=0.0)
    spend_previous_90_days: float = Field(default=0.0, ge=0.0)
    complaints_last_90_days: int = Field(default=0, ge=0)
    mean_review_sentiment: float | None = Field(default=None, ge=-1.0, le=1.0)
    days_since_last_payment: float | None = Field(default=None, ge=0.0)
    typical_days_between_payments: float | None = Field(default=None, gt=0.0)


def health_features_from_history(
    customer_id: str,
    *,
    transactions: Sequence[Transaction] = (),
    activities: Sequence[AccountActivity] = (),
    reviews: Sequence[Review] = (),
    as_of: datetime | None = None,
) -> HealthFeatures:
    """Features of one account from its CRM history up to `as_of` (aware; default now)."""
    when = resolve_as_of(as_of)
    txs = sorted((t for t in transactions if t.occurred_at <= when), key=lambda t: t.occurred_at)
    acts = [a for a in activities if a.occurred_at <= when]
    touches = [t.occurred_at for t in txs] + [a.occurred_at for a in acts]
    recent_start, previous_start = when - WINDOW, when - 2 * WINDOW
    payment_days = sorted({t.occurred_at.date() for t in txs})
    gaps = [(b - a).days for a, b in pairwise(payment_days)]
    texts = [r.text for r in reviews if r.text.strip() and r.reviewed_at <= when]
    return HealthFeatures(
        customer_id=customer_id,
        days_since_last_activity=(when - max(touches)).total_seconds() / 86400 if touches else None,
        activities_last_90_days=sum(1 for t in touches if t > recent_start),
        spend_last_90_days=sum(t.amount for t in txs if t.occurred_at > recent_start),
        spend_previous_90_days=sum(
            t.amount for t in txs if previous_start < t.occurred_at <= recent_start
        ),
        complaints_last_90_days=sum(
            1 for a in acts if a.kind in FRICTION_KINDS and a.occurred_at > recent_start
        ),
        mean_review_sentiment=(
            float(np.mean([compound_score(t) for t in texts])) if texts else None
        ),
        # Two gaps at least (three payments) before we call anything "the usual interval".
        days_since_last_payment=(
            (when - txs[-1].occurred_at).total_seconds() / 86400 if len(gaps) >= 2 else None
        ),
        typical_days_between_payments=float(max(1.0, median(gaps))) if len(gaps) >= 2 else None,
    )


@dataclass(frozen=True)
class HealthColumns:
    """Many accounts' features as arrays (NaN = no data), for vectorised scoring."""

    customer_ids: tuple[str, ...]
    days_since_last_activity: FloatArray
    activities_last_90_days: FloatArray
    spend_last_90_days: FloatArray
    spend_previous_90_days: FloatArray
    complaints_last_90_days: FloatArray
    mean_review_sentiment: FloatArray
    days_since_last_payment: FloatArray
    typical_days_between_payments: FloatArray

    def __len__(self) -> int:
        return len(self.customer_ids)

    @classmethod
    def from_features(cls, rows: Sequence[HealthFeatures]) -> HealthColumns:
        def column(name: str) -> FloatArray:
            values = [getattr(r, name) for r in rows]
            return np.array([np.nan if v is None else v for v in values], dtype=np.float64)

        return cls(
            customer_ids=tuple(r.customer_id for r in rows),
            days_since_last_activity=column("days_since_last_activity"),
            activities_last_90_days=column("activities_last_90_days"),
            spend_last_90_days=column("spend_last_90_days"),
            spend_previous_90_days=column("spend_previous_90_days"),
            complaints_last_90_days=column("complaints_last_90_days"),
            mean_review_sentiment=column("mean_review_sentiment"),
            days_since_last_payment=column("days_since_last_payment"),
            typical_days_between_payments=column("typical_days_between_payments"),
        )


def risk_matrix(c: HealthColumns) -> FloatArray:
    """(n, 6) risks in 0..1, columns in HEALTH_FACTORS order; NaN where the data are missing."""
    with np.errstate(divide="ignore", invalid="ignore"):
        recent, previous = c.spend_last_90_days, c.spend_previous_90_days
        drop = np.where(previous > 0, (previous - recent) / previous, 0.0)
        spend_trend = np.where((recent == 0) & (previous == 0), np.nan, np.clip(drop, 0.0, 1.0))
        lateness = c.days_since_last_payment / c.typical_days_between_payments
        columns = [
            np.clip(c.days_since_last_activity / 90.0, 0.0, 1.0),
            np.exp(-c.activities_last_90_days / 4.0),
            spend_trend,
            1.0 - np.exp(-c.complaints_last_90_days / 2.0),
            (1.0 - c.mean_review_sentiment) / 2.0,
            np.clip((lateness - 1.0) / 2.0, 0.0, 1.0),
        ]
    return np.column_stack(columns)
