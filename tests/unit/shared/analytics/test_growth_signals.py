"""Growth signals: review momentum, ratings, replies, profile changes and hiring mentions."""

from __future__ import annotations

from datetime import timedelta

from shared.analytics.growth_signals import identify_growth_signals
from shared.analytics.models import BusinessPost, ProfileSnapshot
from tests.unit.shared.analytics.factories import AS_OF, business, review


def test_a_business_gaining_reviews_and_replying_is_growing() -> None:
    reviews = [review(5, "Great", days_ago=d, owner_response="Thanks!") for d in range(1, 80, 5)]
    reviews += [review(3, "Okay", days_ago=d) for d in (100, 130, 160, 170)]
    result = identify_growth_signals(business(reviews=reviews), as_of=AS_OF)
    by_kind = {s.kind: s for s in result.signals}
    assert by_kind["review_velocity"].direction == "positive"
    assert by_kind["review_velocity"].evidence == (
        "16 reviews in the last 90 days vs 4 in the 90 before"
    )
    assert by_kind["rating_trend"].direction == "positive"
    assert by_kind["review_responses"].strength == 1.0
    assert result.momentum == "growing"
    strengths = [s.strength for s in result.signals]
    assert strengths == sorted(strengths, reverse=True)


def test_falling_ratings_and_fewer_reviews_read_as_declining() -> None:
    reviews = [review(2, "Slow", days_ago=d) for d in (10, 40, 70)]
    reviews += [review(5, "Superb", days_ago=d) for d in range(95, 175, 8)]
    result = identify_growth_signals(business(reviews=reviews), as_of=AS_OF)
    by_kind = {s.kind: s for s in result.signals}
    assert by_kind["review_velocity"].direction == "negative"
    assert by_kind["rating_trend"].direction == "negative"
    assert by_kind["review_responses"].direction == "negative"  # no replies at all
    assert result.momentum == "declining"


def test_profile_history_yields_photo_website_and_hours_signals() -> None:
    old = ProfileSnapshot(
        observed_at=AS_OF - timedelta(days=120),
        photos_count=4,
        website=None,
        hours={"mon": "9-5", "tue": "9-5"},
    )
    now = business(
        photos_count=30,
        website="https://new.example",
        hours={"mon": "9-5", "tue": "9-5", "sat": "10-2"},
        history=[old],
    )
    by_kind = {s.kind: s for s in identify_growth_signals(now, as_of=AS_OF).signals}
    assert by_kind["new_photos"].evidence.startswith("+26 photos since")
    assert by_kind["website_change"].direction == "positive"
    assert by_kind["website_change"].evidence.startswith("website added")
    assert by_kind["hours_change"].evidence.startswith("open 2 -> 3 days a week")


def test_hiring_mentions_in_posts_and_reviews_are_a_signal() -> None:
    post = BusinessPost(
        text="We're hiring a dental hygienist!", posted_at=AS_OF - timedelta(days=3)
    )
    result = identify_growth_signals(
        business(posts=[post], reviews=[review(5, "New staff were lovely", days_ago=9)]),
        as_of=AS_OF,
    )
    hiring = next(s for s in result.signals if s.kind == "hiring")
    assert hiring.direction == "positive"
    assert hiring.evidence.startswith("2 hiring mention(s)")


def test_signals_without_data_are_listed_as_not_assessed() -> None:
    result = identify_growth_signals(business(), as_of=AS_OF)
    assert result.signals == []
    assert result.momentum == "stable"
    assert result.confidence == "low"
    assert any(n.startswith("rating_trend") for n in result.not_assessed)


def test_customers_hiring_the_business_is_not_a_hiring_signal() -> None:
    reviews = [review(5, "I'd recommend hiring them, we hired this plumber twice", days_ago=4)]
    result = identify_growth_signals(business(reviews=reviews), as_of=AS_OF)
    assert "hiring" not in {s.kind for s in result.signals}
