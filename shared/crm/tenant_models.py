"""Models fitted on one tenant's own history, cached for a few minutes per tenant.

- Lifetime value: BG/NBD + Gamma-Gamma on every transaction of the tenant.
- Churn: a logistic model on the tenant's labelled history: health features as of
  CHURN_LOOKBACK ago for accounts that are customers, at risk or churned today, labelled
  churned or not by today's stage (so the model predicts churn over the next ~90 days from
  what was visible then). Used only when `fit_churn_model` finds enough labels and its
  cross-validated AUC reaches MIN_USEFUL_AUC; otherwise callers use the prior weights.

Fitting reads the SQL store in bulk (see `analytics_data`); it runs in a worker thread so the
event loop keeps serving. One lock per process keeps concurrent first requests of a tenant
from fitting the same model twice.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Generic, TypeVar

import anyio

from shared.analytics.health import ChurnModel, fit_churn_model
from shared.analytics.ltv import LtvModels, fit_ltv_models
from shared.analytics.purchase_summary import summarize_transactions
from shared.crm.analytics_data import customer_health_features, tenant_transactions
from shared.db.database import Database
from shared.errors import ValidationFailedError

__all__ = [
    "CHURN_LOOKBACK",
    "FIT_TTL_SECONDS",
    "MIN_USEFUL_AUC",
    "TenantFit",
    "clear_fit_cache",
    "tenant_churn_model",
    "tenant_ltv_models",
]

FIT_TTL_SECONDS = 600.0
CHURN_LOOKBACK = timedelta(days=90)
MIN_USEFUL_AUC = 0.7

T = TypeVar("T")


@dataclass(frozen=True)
class TenantFit(Generic[T]):
    model: T
    fitted_at: datetime
    cached: bool  # True: this call reused an earlier fit


@dataclass(frozen=True)
class _Entry:
    model: object
    fitted_at: datetime
    expires: float


_fits: dict[tuple[str, int, uuid.UUID], _Entry] = {}
_lock = anyio.Lock()


def clear_fit_cache() -> None:
    """Forget every cached fit (tests; after a bulk import)."""
    _fits.clear()


async def tenant_ltv_models(db: Database, tenant_id: uuid.UUID) -> TenantFit[LtvModels]:
    """The tenant's lifetime-value models, fitted at most every FIT_TTL_SECONDS.
    Raises ValidationFailedError when there are too few (repeat) customers to fit."""
    key = ("ltv", id(db), tenant_id)
    async with _lock:
        entry = _fits.get(key)
        if entry is not None and entry.expires > time.monotonic():
            assert isinstance(entry.model, LtvModels)
            return TenantFit(entry.model, entry.fitted_at, cached=True)
        now = datetime.now(UTC)
        summary = summarize_transactions(await tenant_transactions(db, tenant_id, until=now), now)
        models = await anyio.to_thread.run_sync(fit_ltv_models, summary)
        _fits[key] = _Entry(models, now, time.monotonic() + FIT_TTL_SECONDS)
        return TenantFit(models, now, cached=False)


async def tenant_churn_model(db: Database, tenant_id: uuid.UUID) -> TenantFit[ChurnModel] | None:
    """The tenant's fitted churn model, or None (too little labelled history, or a model no
    better than MIN_USEFUL_AUC): then the documented prior weights apply. Cached like LTV,
    including the None answer."""
    key = ("churn", id(db), tenant_id)
    async with _lock:
        entry = _fits.get(key)
        if entry is not None and entry.expires > time.monotonic():
            model = entry.model
            return (
                TenantFit(model, entry.fitted_at, True) if isinstance(model, ChurnModel) else None
            )
        now = datetime.now(UTC)
        history = await customer_health_features(
            db, tenant_id, as_of=now - CHURN_LOOKBACK, stages=("customer", "at_risk", "churned")
        )
        features = [h.features for h in history]
        churned = [h.lifecycle_stage == "churned" for h in history]
        fitted: ChurnModel | None
        try:
            fitted = await anyio.to_thread.run_sync(fit_churn_model, features, churned)
        except ValidationFailedError:
            fitted = None
        if fitted is not None and fitted.cv_auc < MIN_USEFUL_AUC:
            fitted = None
        _fits[key] = _Entry(fitted, now, time.monotonic() + FIT_TTL_SECONDS)
        return TenantFit(fitted, now, cached=False) if fitted is not None else None
