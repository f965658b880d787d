"""Competitive analysis: percentile ranks, strengths, gaps and the competitor to watch."""

from __future__ import annotations

import pytest

from shared.analytics.competitive import competitive_analysis
from shared.errors import ValidationFailedError
from tests.unit.shared.analytics.factories import AS_OF, business, review


def test_ranks_strengths_and_gaps_against_competitors() -> None:
    me = business(name="Me", rating=4.9, review_count=40, website="https://me.example")
    rivals = [
        business(name=f"R{i}", rating=4.0 + i / 10, review_count=100 + 50 * i) for i in range(4)
    ]
    result = competitive_analysis(me, rivals, as_of=AS_OF)
    ranks = {r.metric: r for r in result.ranks}
    assert ranks["rating"].percentile == 100.0
    assert ranks["review_count"].percentile == 0.0
    assert ranks["review_count"].best_competitor == "R3"
    assert ranks["review_count"].competitor_median == 175.0
    assert ranks["website"].percentile == 100.0
    assert ranks["photos_count"].percentile == 50.0  # all tied at 0
    assert result.strengths[0].startswith("rating: 4.90 beats 100% of competitors")
    assert result.gaps == ["review_count: 40 vs competitor median 175 (best: R3, 250)"]
    assert "reviews_last_90_days" not in ranks  # nobody has a review list


def test_the_competitor_with_momentum_is_the_one_to_watch() -> None:
    me = business(name="Me", rating=4.5, review_count=200, reviews=[review(5, days_ago=200)])
    steady = business(
        name="Steady", rating=4.6, review_count=210, reviews=[review(5, days_ago=150)]
    )
    rising = business(
        name="Rising",
        rating=4.6,
        review_count=150,
        reviews=[review(5, "Great", days_ago=d) for d in range(1, 60, 3)],
    )
    result = competitive_analysis(me, [steady, rising], as_of=AS_OF)
    assert result.competitor_to_watch == "Rising"
    assert result.watch_reason is not None
    assert "reviews_last_90_days (20 vs 0)" in result.watch_reason


def test_competitive_analysis_needs_competitors() -> None:
    with pytest.raises(ValidationFailedError, match="at least one competitor"):
        competitive_analysis(business(), [], as_of=AS_OF)
