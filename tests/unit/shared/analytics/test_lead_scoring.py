"""Lead scores: strong businesses outrank weak ones, factors explain the score, weights merge."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from shared.analytics.lead_scoring import LeadColumns, qualify_lead, score_leads_batch
from shared.analytics.lead_weights import LEAD_FACTORS, LeadScoringConfig, LeadWeights
from tests.unit.shared.analytics.factories import AS_OF, business, review

HOURS = {"mon": "09:00-17:00", "tue": "09:00-17:00"}


def test_established_business_scores_above_a_weak_one() -> None:
    strong = business(
        rating=4.8, review_count=300, website="https://smile.example", hours=HOURS, photos_count=40
    )
    weak = business(rating=3.1, review_count=4, website=None)
    strong_result = qualify_lead(strong, as_of=AS_OF)
    weak_result = qualify_lead(weak, as_of=AS_OF)
    assert strong_result.score > weak_result.score + 30
    assert strong_result.grade in {"A", "B"}
    assert weak_result.grade == "D"
    assert "no website: lead with a website offer" in weak_result.talking_points


def test_factor_points_add_up_to_the_score_and_are_ranked() -> None:
    result = qualify_lead(
        business(rating=4.2, review_count=50, website="https://x.example"), as_of=AS_OF
    )
    assert {f.factor for f in result.factors} == set(LEAD_FACTORS)
    assert sum(f.points for f in result.factors) == pytest.approx(result.score, abs=0.1)
    points = [f.points for f in result.factors]
    assert points == sorted(points, reverse=True)
    assert sum(f.weight for f in result.factors) == pytest.approx(1.0)


def test_missing_data_is_scored_neutral_and_lowers_confidence() -> None:
    config = LeadScoringConfig(target_industries=["dentist"], target_cities=["Austin"])
    known = business(
        rating=4.5,
        review_count=20,
        industry="Dental clinic",
        city="austin",
        reviews=[review(5, "Great dentist, very gentle", days_ago=5)] * 3,
    )
    unknown = business(rating=4.5, review_count=20)
    known_result = qualify_lead(known, config, as_of=AS_OF)
    unknown_result = qualify_lead(unknown, as_of=AS_OF)
    by_factor = {f.factor: f for f in unknown_result.factors}
    assert not by_factor["sentiment"].available
    assert by_factor["sentiment"].value == 0.5
    assert {"industry_fit", "location_fit", "sentiment"} <= {
        f.factor for f in known_result.factors if f.available
    }
    assert known_result.confidence == "high"
    assert unknown_result.confidence in {"low", "medium"}
    assert "sentiment" not in unknown_result.inputs_used


def test_review_velocity_counts_reviews_of_the_last_90_days() -> None:
    busy = business(review_count=30, reviews=[review(5, days_ago=d) for d in range(1, 25)])
    quiet = business(review_count=30, reviews=[review(5, days_ago=200 + d) for d in range(24)])
    velocity = {
        name: next(f for f in qualify_lead(b, as_of=AS_OF).factors if f.factor == "review_velocity")
        for name, b in (("busy", busy), ("quiet", quiet))
    }
    assert velocity["busy"].value == 1.0
    assert velocity["quiet"].value == 0.0
    assert velocity["busy"].evidence == "24 reviews in the last 90 days"


def test_tenant_overrides_merge_over_industry_defaults() -> None:
    config = LeadScoringConfig(weight_overrides={"*": {"photos": 0}, "Dentists": {"website": 50}})
    weights, sources = config.weights_for("dental")
    assert weights.website == 50
    assert weights.photos == 0
    assert weights.rating == 25  # the dentist default survives
    assert sources == [
        "project defaults",
        "dentist defaults",
        "tenant overrides for all industries",
        "tenant overrides for dentist",
    ]
    no_site = business(industry="dentist", rating=4.9, review_count=200, photos_count=50)
    assert (
        qualify_lead(no_site, config, as_of=AS_OF).score < qualify_lead(no_site, as_of=AS_OF).score
    )
    assert "tenant overrides for dentist" in qualify_lead(no_site, config, as_of=AS_OF).method


def test_unknown_factor_names_are_rejected_with_the_allowed_list() -> None:
    with pytest.raises(ValidationError, match=r"unknown lead factor\(s\) stars.*allowed: rating"):
        LeadScoringConfig(weight_overrides={"dentist": {"stars": 10}})
    with pytest.raises(ValidationError, match="negative for rating"):
        LeadScoringConfig(weight_overrides={"*": {"rating": -1}})
    with pytest.raises(ValidationError, match="positive weight"):
        LeadWeights(**dict.fromkeys(LEAD_FACTORS, 0.0))


def test_batch_scores_equal_single_scores() -> None:
    leads = [
        business(rating=4.8, review_count=300, website="https://a.example", hours=HOURS),
        business(rating=3.1, review_count=4),
        business(review_count=0, photos_count=7),
    ]
    nan = float("nan")
    columns = LeadColumns(
        rating=np.array([4.8, 3.1, nan]),
        review_count=np.array([300.0, 4.0, 0.0]),
        reviews_last_90_days=np.array([nan, nan, 0.0]),
        has_website=np.array([True, False, False]),
        has_hours=np.array([True, False, False]),
        photos_count=np.array([0.0, 0.0, 7.0]),
        mean_sentiment=np.full(3, nan),
        industry_fit=np.full(3, nan),
        location_fit=np.full(3, nan),
    )
    batch = score_leads_batch(columns, LeadWeights())
    single = [qualify_lead(b, as_of=AS_OF).score for b in leads]
    assert batch == pytest.approx(single, abs=0.05)


def test_invalid_business_input_says_what_is_wrong() -> None:
    with pytest.raises(ValidationError, match="less than or equal to 5"):
        business(rating=6)
    with pytest.raises(ValidationError, match="greater than or equal to 0"):
        business(review_count=-3)
    with pytest.raises(ValidationError, match="timezone"):
        review(5).model_validate({"rating": 5, "reviewed_at": "2026-01-01T00:00:00"})
