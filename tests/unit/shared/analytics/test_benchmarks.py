"""Industry benchmarks: quartiles, the five-tenant rule, and the city level."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from shared.analytics.benchmarks import BenchmarkRow, industry_benchmarks


def rows_for(tenants: int, *, city: str = "Austin", per_tenant: int = 4) -> list[BenchmarkRow]:
    return [
        BenchmarkRow(
            tenant_id=f"t{t}",
            industry="Dentist",
            city=city,
            rating=3.0 + (t * per_tenant + i) % 5 * 0.5,
            review_count=10 * (i + 1),
            conversion_rate=0.1 * (i + 1),
            deal_size=1000.0 * (t + 1),
        )
        for t in range(tenants)
        for i in range(per_tenant)
    ]


def test_cross_tenant_quartiles_need_five_tenants() -> None:
    result = industry_benchmarks(rows_for(5), industry="dental", requesting_tenant="t0")
    by_metric = {m.metric: m for m in result.metrics}
    review_count = by_metric["review_count"]
    assert (review_count.scope, review_count.tenants, review_count.rows) == ("all_tenants", 5, 20)
    assert (review_count.p25, review_count.p50, review_count.p75) == (17.5, 25.0, 32.5)
    assert by_metric["churn_rate"].scope == "unavailable"
    assert "across tenants" in result.explanation


def test_with_fewer_tenants_only_the_requesters_own_figures_are_shown() -> None:
    result = industry_benchmarks(rows_for(4), industry="dentist", requesting_tenant="t3")
    deal_size = next(m for m in result.metrics if m.metric == "deal_size")
    assert deal_size.scope == "own_tenant"
    assert deal_size.p25 == deal_size.p75 == 4000.0  # only t3's deals, none of t0..t2
    assert deal_size.tenants == 1
    assert "your own accounts only" in result.explanation
    assert result.confidence == "low"


def test_city_level_is_used_only_when_the_city_has_enough_tenants() -> None:
    rows = rows_for(5, city="Austin") + rows_for(5, city="Dallas", per_tenant=1)
    austin = industry_benchmarks(rows, industry="dentist", requesting_tenant="t0", city="austin")
    assert {m.level for m in austin.metrics if m.scope == "all_tenants"} == {"city"}
    assert next(m for m in austin.metrics if m.metric == "review_count").rows == 20
    few = rows_for(5, city="Austin") + rows_for(2, city="Waco")
    waco = industry_benchmarks(few, industry="dentist", requesting_tenant="t0", city="Waco")
    assert next(m for m in waco.metrics if m.metric == "rating").level == "industry"


def test_benchmark_rows_are_validated() -> None:
    with pytest.raises(ValidationError, match="less than or equal to 1"):
        BenchmarkRow(tenant_id="t", industry="dentist", churn_rate=1.5)
