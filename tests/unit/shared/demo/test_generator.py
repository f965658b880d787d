"""The demo generator: deterministic, believable, and with a churn ground truth that holds."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from shared.db.crm_tables import ACTIVITY_KINDS, DEAL_STAGES, LIFECYCLE_STAGES
from shared.demo.generator import Batch, iter_tenant_batches
from shared.demo.plan import (
    DemoParams,
    accounts_per_tenant,
    churn_ground_truth,
    plan_tenants,
    tenant_names,
)
from shared.demo.vocabulary import INDUSTRIES, NEGATIVE_REVIEWS, NEUTRAL_REVIEWS, POSITIVE_REVIEWS

AS_OF = datetime(2026, 11, 26, tzinfo=UTC)


def params(seed: int = 7, accounts: int = 400, tenants: int = 2) -> DemoParams:
    return DemoParams(seed=seed, accounts=accounts, tenants=tenants, as_of=AS_OF)


def all_rows(p: DemoParams, batch_accounts: int = 2_000) -> dict[str, list[dict[str, Any]]]:
    rows: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for tenant in plan_tenants(p):
        batch: Batch
        for batch in iter_tenant_batches(p, tenant, batch_accounts):
            for table, table_rows in batch.items():
                rows[table].extend(table_rows)
    return rows


@pytest.fixture(scope="module")
def big() -> dict[str, list[dict[str, Any]]]:
    return all_rows(params(seed=3, accounts=4_000, tenants=3))


def test_same_seed_gives_identical_rows_including_ids() -> None:
    first = all_rows(params())
    assert first == all_rows(params())
    assert plan_tenants(params()) == plan_tenants(params())


def test_batch_size_does_not_change_the_data() -> None:
    assert all_rows(params(), batch_accounts=7) == all_rows(params(), batch_accounts=1_000)


def test_another_seed_gives_different_data() -> None:
    one, other = all_rows(params(seed=1)), all_rows(params(seed=2))
    assert {r["id"] for r in one["accounts"]}.isdisjoint({r["id"] for r in other["accounts"]})
    assert [r["name"] for r in one["accounts"]] != [r["name"] for r in other["accounts"]]


def test_first_tenant_is_demo_and_holds_half_the_accounts() -> None:
    plans = plan_tenants(params(accounts=1_001, tenants=3))
    assert plans[0].name == "demo"
    assert [p.accounts for p in plans] == [501, 250, 250]
    assert len({p.name for p in plan_tenants(params(accounts=100, tenants=25))}) == 25
    assert accounts_per_tenant(10, 1) == [10]
    assert sum(accounts_per_tenant(1_000_003, 7)) == 1_000_003
    assert tenant_names(12)[-1] == "Summit Growth Partners 2"


def test_every_industry_stage_and_activity_kind_appears(big: dict[str, list[Any]]) -> None:
    accounts = big["accounts"]
    assert {a["industry"] for a in accounts} == {i.key for i in INDUSTRIES}
    assert {a["lifecycle_stage"] for a in accounts} == set(LIFECYCLE_STAGES)
    assert {d["stage"] for d in big["deals"]} == set(DEAL_STAGES)
    kinds = {a["kind"] for a in big["activities"]}
    assert {"call", "email", "meeting", "task", "follow_up_call"} <= kinds <= set(ACTIVITY_KINDS)
    assert {a["created_by"] for a in big["activities"]} == {"manual", "automation"}
    assert {a["city"] for a in accounts} >= {"Austin", "Denver", "Phoenix"}
    assert {c["kind"] for c in big["campaigns"]} == {"acquisition", "retention"}
    stages = Counter(a["lifecycle_stage"] for a in accounts)
    assert stages["prospect"] > len(accounts) / 2  # most of a book is prospects


def test_prospects_carry_google_business_data(big: dict[str, list[Any]]) -> None:
    prospects = [a for a in big["accounts"] if a["lifecycle_stage"] == "prospect"]
    assert all(a["google_place_id"] and 1 <= a["gmb_rating"] <= 5 for a in prospects)
    assert all(a["gmb_review_count"] >= 1 and a["gmb_categories"] for a in prospects)
    with_site = sum(a["website"] is not None for a in prospects) / len(prospects)
    assert 0.4 < with_site < 0.8  # some have no website: a selling point for the agency
    assert any(a["gmb_hours"] is None for a in prospects)
    assert any(a["gmb_hours"] and a["gmb_hours"]["sunday"] is None for a in prospects)
    place_ids = [a["google_place_id"] for a in big["accounts"] if a["google_place_id"]]
    assert len(place_ids) == len(set(place_ids))


def test_review_templates_score_with_vader_in_the_direction_of_their_rating() -> None:
    analyzer = SentimentIntensityAnalyzer()

    def compounds(templates: tuple[str, ...]) -> list[float]:
        return [
            analyzer.polarity_scores(
                t.format(service=s, kind=i.categories[0].lower(), city="Austin")
            )["compound"]
            for t in templates
            for i in INDUSTRIES
            for s in i.services
        ]

    assert min(compounds(POSITIVE_REVIEWS)) > 0.5
    assert max(compounds(NEGATIVE_REVIEWS)) < -0.5
    assert max(abs(c) for c in compounds(NEUTRAL_REVIEWS)) < 0.05


def test_reviews_are_mixed_and_match_their_rating(big: dict[str, list[Any]]) -> None:
    ratings = Counter(r["rating"] for r in big["reviews"])
    assert set(ratings) == {1, 2, 3, 4, 5}
    assert ratings[5] + ratings[4] > ratings[1] + ratings[2] > 0
    analyzer = SentimentIntensityAnalyzer()
    sentiment = Counter[str]()
    for review in big["reviews"][:1_500]:
        compound = analyzer.polarity_scores(review["text"])["compound"]
        sign = "positive" if compound > 0.05 else "negative" if compound < -0.05 else "neutral"
        expected = {1: "negative", 2: "negative", 3: "neutral"}.get(review["rating"], "positive")
        assert sign == expected, review
        sentiment[sign] += 1
    assert min(sentiment.values()) > 50, sentiment


def _monthly_purchases(transactions: list[dict[str, Any]], start: int, end: int) -> float:
    """Purchases per month between `start` and `end` months before AS_OF."""
    low, high = AS_OF - timedelta(days=30 * end), AS_OF - timedelta(days=30 * start)
    return sum(low <= t["occurred_at"] < high for t in transactions) / (end - start)


def test_churn_drifters_buy_engage_and_review_less_lately(big: dict[str, list[Any]]) -> None:
    labels = {label.account_id: label for label in churn_ground_truth(params(3, 4_000, 3))}
    by_account: dict[Any, list[dict[str, Any]]] = defaultdict(list)
    for row in big["transactions"]:
        by_account[row["account_id"]].append(row)
    drifters = [a for a, label in labels.items() if label.churn_drifter]
    healthy = [a for a, label in labels.items() if not label.churn_drifter]
    assert len(drifters) > 50 and len(healthy) > 100

    def mean(values: list[float]) -> float:
        return sum(values) / len(values)

    recent = {a: _monthly_purchases(by_account[a], 0, 2) for a in labels}
    earlier = {a: _monthly_purchases(by_account[a], 7, 12) for a in labels}
    assert mean([recent[a] for a in drifters]) < 0.5 * mean([earlier[a] for a in drifters])
    assert mean([recent[a] for a in healthy]) > 0.8 * mean([earlier[a] for a in healthy])
    churned = [a for a, label in labels.items() if label.lifecycle_stage == "churned"]
    assert churned and all(recent[a] == 0 for a in churned)

    last_touch: dict[Any, datetime] = {}
    for act in big["activities"]:
        if act["done_at"] is not None:
            previous = last_touch.get(act["account_id"], act["done_at"])
            last_touch[act["account_id"]] = max(previous, act["done_at"])
    days = {a: (AS_OF - last_touch[a]).days for a in labels if a in last_touch}
    assert mean([days[a] for a in drifters if a in days]) > 2 * mean(
        [days[a] for a in healthy if a in days]
    )
    recent_ratings: dict[bool, list[int]] = defaultdict(list)
    for review in big["reviews"]:
        label = labels.get(review["account_id"])
        if label is not None and review["reviewed_at"] > AS_OF - timedelta(days=60):
            recent_ratings[label.churn_drifter].append(review["rating"])
    assert (
        mean([float(r) for r in recent_ratings[True]])
        < mean([float(r) for r in recent_ratings[False]]) - 1
    )


def test_ground_truth_agrees_with_the_generated_lifecycle(big: dict[str, list[Any]]) -> None:
    labels = {label.account_id: label for label in churn_ground_truth(params(3, 4_000, 3))}
    customers = {
        a["id"]: a["lifecycle_stage"]
        for a in big["accounts"]
        if a["lifecycle_stage"] in ("customer", "at_risk", "churned")
    }
    assert customers == {a: label.lifecycle_stage for a, label in labels.items()}
    assert all(labels[a].churn_drifter for a, s in customers.items() if s != "customer")
    silent = [a for a, s in customers.items() if s == "customer" and labels[a].churn_drifter]
    assert silent  # some drifters have not been noticed by the CRM yet: what analytics must find


def test_settings_record_gives_back_the_parameters() -> None:
    p = params(seed=11, accounts=123, tenants=4)
    assert DemoParams.from_settings_record(p.settings_record(2)) == p


def test_every_row_has_the_as_of_clock_not_the_wall_clock(big: dict[str, list[Any]]) -> None:
    for table in ("accounts", "contacts", "deals", "reviews", "transactions"):
        assert all(r["created_at"] <= AS_OF + timedelta(days=1) for r in big[table]), table
    assert all(t["occurred_at"] < AS_OF for t in big["transactions"])
