"""VADER sentiment: labels, aggregate shares, monthly trend and recurring themes."""

from __future__ import annotations

import pytest

from shared.analytics import _scientific
from shared.analytics.sentiment import analyze_sentiment, compound_score, sentiment_label
from tests.unit.shared.analytics.factories import review

GOOD = [
    "Friendly staff and great service, the waiting room is spotless.",
    "Great service again, friendly staff who explain everything.",
    "Amazing cleaning, friendly staff, great service!",
]
BAD = [
    "Terrible billing department, they overcharged me and never called back.",
    "Awful experience: long wait and rude front desk. Billing department is a mess.",
    "Rude front desk, long wait, terrible.",
]


def test_a_negative_review_is_negative_and_a_positive_one_positive() -> None:
    assert (
        sentiment_label(compound_score("This was the worst, rude and dirty. Avoid!")) == "negative"
    )
    assert sentiment_label(compound_score("Wonderful dentist, I love this team")) == "positive"
    assert sentiment_label(compound_score("We went on a Tuesday.")) == "neutral"


def test_aggregate_shares_use_the_standard_thresholds() -> None:
    reviews = [review(5, t) for t in GOOD] + [review(1, t) for t in BAD] + [review(3, "Open 9-5.")]
    result = analyze_sentiment(reviews)
    assert result.review_count == 7
    assert result.share_positive == pytest.approx(3 / 7)
    assert result.share_negative == pytest.approx(3 / 7)
    assert result.share_neutral == pytest.approx(1 / 7)
    assert [r.label for r in result.reviews[:3]] == ["positive"] * 3
    assert "0.05" in result.method


def test_themes_separate_praise_from_complaints() -> None:
    result = analyze_sentiment([review(5, t) for t in GOOD] + [review(1, t) for t in BAD])
    praised = [t.phrase for t in result.positive_themes]
    complained = [t.phrase for t in result.negative_themes]
    assert praised[:2] == ["friendly staff", "great service"]
    assert {"billing department", "front desk", "long wait"} <= set(complained)
    assert not set(praised) & {"billing department", "front desk"}
    assert "Complaints:" in result.explanation


def test_monthly_trend_detects_declining_sentiment() -> None:
    months_ago = [165, 135, 105, 75, 45]  # mid-January .. mid-May
    texts = ["Excellent, love it", "Good service", "It was okay", "Bad, slow", "Horrible, awful"]
    reviews = [review(3, t, days_ago=d) for t, d in zip(texts, months_ago, strict=True)]
    result = analyze_sentiment(reviews)
    assert len(result.monthly) == 5
    assert result.trend == "declining"
    assert result.trend_per_month is not None and result.trend_per_month < -0.1


def test_reviews_without_text_are_left_out_and_say_so() -> None:
    result = analyze_sentiment([review(5, ""), review(4, "   ")])
    assert result.review_count == 0
    assert result.mean_compound is None
    assert result.trend == "unknown"
    assert result.confidence == "low"


def test_the_vader_analyzer_is_built_once() -> None:
    compound_score("first")
    compound_score("second")
    assert _scientific._sentiment_analyzer.cache_info().currsize == 1  # pyright: ignore[reportPrivateUsage]
