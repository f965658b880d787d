"""Industry benchmarks across tenants on the SQL store: aggregates out, never rows.

The one place that reads other tenants' data, so the privacy rule lives in SQL order: for
each metric and pool (city, then the whole industry) a first query counts the distinct
tenants with a value; only when at least `min_tenants` contribute are that pool's bare
values read (no ids, no tenant, no names) and turned into quartiles here. Otherwise only the
requesting tenant's own values are read, and the figure is labelled `own_tenant`. Nothing
but the quartiles, a row count and a tenant count leaves this module.

Metrics: rating and review_count per account; deal_size per won deal; conversion_rate
(accounts that became customers / accounts past prospect) and churn_rate (churned /
customers ever) per tenant, so each tenant contributes one figure to their quartiles.
The `supabase` (REST) data source cannot run these queries: row-level security limits a
user's token to one tenant, so cross-tenant benchmarks there need a server-side function.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import numpy as np
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.analytics.benchmarks import (
    METRICS,
    MIN_TENANTS,
    IndustryBenchmarks,
    Level,
    MetricBenchmark,
)
from shared.analytics.lead_weights import normalize_industry
from shared.db.crm_tables import accounts, deals
from shared.db.database import Database

__all__ = ["industry_benchmarks_from_store"]

_CUSTOMERS_EVER = ("customer", "at_risk", "churned")


@dataclass(frozen=True)
class _Pool:
    level: Level
    where: list[sa.ColumnElement[bool]]  # account conditions (industry, maybe city)


def _values(metric: str, pool: _Pool) -> sa.Subquery:
    """(tenant_id, value) over the pool; per-tenant metrics are grouped by tenant."""
    c = accounts.c
    if metric == "rating":
        return (
            sa.select(c.tenant_id, c.gmb_rating.label("value"))
            .where(*pool.where, c.gmb_rating.is_not(None), c.gmb_rating >= 1)
            .subquery()
        )
    if metric == "review_count":
        return (
            sa.select(c.tenant_id, c.gmb_review_count.label("value"))
            .where(*pool.where, c.gmb_review_count.is_not(None))
            .subquery()
        )
    if metric == "deal_size":
        return (
            sa.select(deals.c.tenant_id, deals.c.amount.label("value"))
            .join(accounts, accounts.c.id == deals.c.account_id)
            .where(*pool.where, deals.c.stage == "won", deals.c.tenant_id == c.tenant_id)
            .subquery()
        )
    stage = c.lifecycle_stage
    customers = sa.func.sum(sa.case((stage.in_(_CUSTOMERS_EVER), 1), else_=0))
    if metric == "conversion_rate":
        past_prospect = sa.func.sum(sa.case((stage != "prospect", 1), else_=0))
        rate = sa.cast(customers, sa.Float) / sa.func.nullif(past_prospect, 0)
    else:  # churn_rate
        churned = sa.func.sum(sa.case((stage == "churned", 1), else_=0))
        rate = sa.cast(churned, sa.Float) / sa.func.nullif(customers, 0)
    return (
        sa.select(c.tenant_id, rate.label("value"))
        .where(*pool.where)
        .group_by(c.tenant_id)
        .subquery()
    )


async def _tenant_count(conn: AsyncConnection, values: sa.Subquery) -> int:
    counted = await conn.scalar(
        sa.select(sa.func.count(sa.distinct(values.c.tenant_id))).where(values.c.value.is_not(None))
    )
    return int(counted or 0)


async def _bare_values(
    conn: AsyncConnection, values: sa.Subquery, tenant_id: uuid.UUID | None
) -> list[float]:
    stmt = sa.select(values.c.value).where(values.c.value.is_not(None))
    if tenant_id is not None:
        stmt = stmt.where(values.c.tenant_id == tenant_id)
    return [float(v) for v in (await conn.scalars(stmt)).all()]


def _figure(
    metric: str, values: list[float], tenants: int, scope: str, level: Level
) -> MetricBenchmark:
    if not values:
        return MetricBenchmark(
            metric=metric,
            p25=None,
            p50=None,
            p75=None,
            rows=0,
            tenants=0,
            scope="unavailable",
            level=level,
        )
    p25, p50, p75 = (float(v) for v in np.percentile(np.array(values), [25, 50, 75]))
    return MetricBenchmark(
        metric=metric,
        p25=p25,
        p50=p50,
        p75=p75,
        rows=len(values),
        tenants=tenants,
        scope="all_tenants" if scope == "all_tenants" else "own_tenant",
        level=level,
    )


async def _industry_names(conn: AsyncConnection, key: str) -> list[str]:
    """The stored spellings of an industry ('Dentist', 'dental clinic' -> dentist)."""
    names = (await conn.scalars(sa.select(accounts.c.industry).distinct())).all()
    return [n for n in names if n is not None and normalize_industry(n) == key]


async def industry_benchmarks_from_store(
    db: Database,
    requesting_tenant: uuid.UUID,
    *,
    industry: str,
    city: str | None = None,
    min_tenants: int = MIN_TENANTS,
) -> IndustryBenchmarks:
    """Quartiles per metric for an industry (city-level where the city alone has enough
    tenants), under the five-tenant rule described in the module docstring."""
    key = normalize_industry(industry) or industry.strip().lower()
    async with db.engine.connect() as conn:
        spellings = await _industry_names(conn, key)
        in_industry = accounts.c.industry.in_(spellings)
        pools = [_Pool("industry", [in_industry])]
        if city:
            in_city = sa.func.lower(accounts.c.city) == city.strip().lower()
            pools.insert(0, _Pool("city", [in_industry, in_city]))
        metrics: list[MetricBenchmark] = []
        for metric in METRICS:
            figure: MetricBenchmark | None = None
            for pool in pools:
                values = _values(metric, pool)
                tenants = await _tenant_count(conn, values)
                if tenants >= min_tenants:
                    found = await _bare_values(conn, values, None)
                    figure = _figure(metric, found, tenants, "all_tenants", pool.level)
                    break
            if figure is None:
                own = _values(metric, pools[-1])
                found = await _bare_values(conn, own, requesting_tenant)
                figure = _figure(metric, found, 1, "own_tenant", "industry")
            metrics.append(figure)
    return _result(key, city, metrics, min_tenants)


def _result(
    key: str, city: str | None, metrics: list[MetricBenchmark], min_tenants: int
) -> IndustryBenchmarks:
    shared = [m.metric for m in metrics if m.scope == "all_tenants"]
    own = [m.metric for m in metrics if m.scope == "own_tenant"]
    missing = [m.metric for m in metrics if m.scope == "unavailable"]
    parts: list[str] = []
    if shared:
        parts.append(f"across tenants: {', '.join(shared)}")
    if own:
        parts.append(f"your own accounts only (fewer than {min_tenants} tenants): {', '.join(own)}")
    if missing:
        parts.append(f"no data: {', '.join(missing)}")
    return IndustryBenchmarks(
        industry=key,
        city=city,
        metrics=metrics,
        method=(
            "25th/50th/75th percentiles (linear interpolation) of each metric, computed in the "
            f"store; cross-tenant figures only when >= {min_tenants} tenants contribute (counted "
            "before any value is read), else the requesting tenant's own figures, labelled "
            "own_tenant; conversion and churn rates are one figure per tenant"
        ),
        inputs_used=[m.metric for m in metrics if m.scope != "unavailable"],
        confidence="high" if len(shared) == len(METRICS) else "medium" if shared else "low",
        explanation=f"Benchmarks for {key}"
        + (f" in {city}" if city else "")
        + ": "
        + ("; ".join(parts) or "no data")
        + ".",
    )
