"""Industry benchmarks: quartiles of rating, review count, conversion, churn and deal size.

Privacy rule: a figure aggregated across tenants is shown only when at least MIN_TENANTS
distinct tenants contribute to it; otherwise the requesting tenant's own figures are shown,
labelled `own_tenant`, and no other tenant's data influences the result. A city-level figure
is used when the city alone meets the rule; else the industry-wide figure.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from shared.analytics.lead_weights import normalize_industry
from shared.analytics.models import AnalysisResult, Rating

__all__ = [
    "MIN_TENANTS",
    "BenchmarkRow",
    "IndustryBenchmarks",
    "MetricBenchmark",
    "industry_benchmarks",
]

MIN_TENANTS = 5
Scope = Literal["all_tenants", "own_tenant", "unavailable"]
Level = Literal["city", "industry"]
METRICS = ("rating", "review_count", "conversion_rate", "churn_rate", "deal_size")


class BenchmarkRow(BaseModel):
    """One account's figures, tagged with the tenant it comes from."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    tenant_id: str = Field(min_length=1)
    industry: str = Field(min_length=1)
    city: str | None = None
    rating: Rating | None = None
    review_count: int | None = Field(default=None, ge=0)
    conversion_rate: float | None = Field(default=None, ge=0.0, le=1.0)
    churn_rate: float | None = Field(default=None, ge=0.0, le=1.0)
    deal_size: float | None = Field(default=None, ge=0.0)


class MetricBenchmark(BaseModel):
    model_config = ConfigDict(frozen=True)

    metric: str
    p25: float | None
    p50: float | None
    p75: float | None
    rows: int
    tenants: int
    scope: Scope
    level: Level


class IndustryBenchmarks(AnalysisResult):
    industry: str
    city: str | None
    metrics: list[MetricBenchmark]


def _value(metric: str) -> Callable[[BenchmarkRow], float | None]:
    def get(row: BenchmarkRow) -> float | None:
        value = getattr(row, metric)
        return None if value is None else float(value)

    return get


def _benchmark(
    metric: str,
    pools: list[tuple[Level, list[BenchmarkRow]]],
    own_tenant: str,
    min_tenants: int,
) -> MetricBenchmark:
    get = _value(metric)
    for level, pool in pools:
        rows = [r for r in pool if get(r) is not None]
        tenants = {r.tenant_id for r in rows}
        if len(tenants) >= min_tenants:
            return _quartiles(metric, rows, len(tenants), "all_tenants", level)
    level, industry_pool = pools[-1]
    own = [r for r in industry_pool if r.tenant_id == own_tenant and get(r) is not None]
    if own:
        return _quartiles(metric, own, 1, "own_tenant", level)
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


def _quartiles(
    metric: str, rows: list[BenchmarkRow], tenants: int, scope: Scope, level: Level
) -> MetricBenchmark:
    values = np.array([_value(metric)(r) for r in rows], dtype=np.float64)
    p25, p50, p75 = (float(v) for v in np.percentile(values, [25, 50, 75]))
    return MetricBenchmark(
        metric=metric,
        p25=p25,
        p50=p50,
        p75=p75,
        rows=len(rows),
        tenants=tenants,
        scope=scope,
        level=level,
    )


def industry_benchmarks(
    rows: Sequence[BenchmarkRow],
    *,
    industry: str,
    requesting_tenant: str,
    city: str | None = None,
    min_tenants: int = MIN_TENANTS,
) -> IndustryBenchmarks:
    """Quartiles per metric for an industry (and city when it has enough tenants)."""
    key = normalize_industry(industry) or industry
    in_industry = [r for r in rows if normalize_industry(r.industry) == key]
    pools: list[tuple[Level, list[BenchmarkRow]]] = []
    if city:
        wanted = city.strip().lower()
        pools.append(("city", [r for r in in_industry if (r.city or "").strip().lower() == wanted]))
    pools.append(("industry", in_industry))
    metrics = [_benchmark(m, pools, requesting_tenant, min_tenants) for m in METRICS]
    shared_scope = [m.metric for m in metrics if m.scope == "all_tenants"]
    own_scope = [m.metric for m in metrics if m.scope == "own_tenant"]
    missing = [m.metric for m in metrics if m.scope == "unavailable"]
    parts: list[str] = []
    if shared_scope:
        parts.append(f"across tenants: {', '.join(shared_scope)}")
    if own_scope:
        parts.append(
            f"your own accounts only (fewer than {min_tenants} tenants): {', '.join(own_scope)}"
        )
    if missing:
        parts.append(f"no data: {', '.join(missing)}")
    return IndustryBenchmarks(
        industry=key,
        city=city,
        metrics=metrics,
        method=(
            "25th/50th/75th percentiles (linear interpolation) of each metric; cross-tenant "
            f"figures only when >= {min_tenants} tenants contribute, else the requesting "
            "tenant's own figures, labelled own_tenant"
        ),
        inputs_used=[m.metric for m in metrics if m.scope != "unavailable"],
        confidence=(
            "high" if len(shared_scope) == len(METRICS) else "medium" if shared_scope else "low"
        ),
        explanation=f"Benchmarks for {key}"
        + (f" in {city}" if city else "")
        + ": "
        + "; ".join(parts)
        + ".",
    )
