"""Review sentiment with VADER: per review, in aggregate, month by month, and recurring themes.

VADER's compound score is in -1..1; a review is positive at >= 0.05, negative at <= -0.05
and neutral in between (the thresholds recommended by VADER's authors, Hutto & Gilbert 2014).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import UTC
from itertools import pairwise
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from shared.analytics._scientific import polarity_scores
from shared.analytics.models import AnalysisResult, Review, confidence_from_share

__all__ = [
    "MonthlySentiment",
    "ReviewSentiment",
    "SentimentAnalysis",
    "Theme",
    "analyze_sentiment",
    "compound_score",
    "sentiment_label",
]

POSITIVE_THRESHOLD = 0.05
NEGATIVE_THRESHOLD = -0.05
SentimentLabel = Literal["positive", "neutral", "negative"]

# Function words carry no theme. Negations ("not", "never", "no") are kept on purpose:
# "not clean" is a theme, "clean" alone is its opposite.
_STOP_WORD_TEXT = """
a about above after again all also am an and any are as at be because been before being
below between both but by can could did do does doing down during each few for from
further had has have having he her here hers herself him himself his how i if in into is
it its itself just me more most my myself of off on once only or other our ours ourselves
out over own same she should so some such than that the their theirs them themselves then
there these they this those through to too under until up us very was we were what when
where which while who whom why will with would you your yours yourself yourselves i'm i've
it's we're they're you're there's that's got get go went one two us really place
"""
STOP_WORDS = frozenset(_STOP_WORD_TEXT.split())
_NEGATIONS = frozenset({"no", "not", "never"})
_WORD = re.compile(r"[a-z][a-z']*")


class ReviewSentiment(BaseModel):
    model_config = ConfigDict(frozen=True)

    index: int = Field(description="position of the review in the input")
    compound: float
    label: SentimentLabel
    rating: int


class MonthlySentiment(BaseModel):
    model_config = ConfigDict(frozen=True)

    month: str = Field(description="YYYY-MM (UTC)")
    reviews: int
    mean_compound: float


class Theme(BaseModel):
    model_config = ConfigDict(frozen=True)

    phrase: str
    reviews: int = Field(description="number of reviews that mention it")


class SentimentAnalysis(AnalysisResult):
    review_count: int
    mean_compound: float | None
    share_positive: float
    share_neutral: float
    share_negative: float
    monthly: list[MonthlySentiment]
    trend_per_month: float | None = Field(
        description="least-squares slope of the monthly mean compound, per month"
    )
    trend: Literal["improving", "stable", "declining", "unknown"]
    positive_themes: list[Theme]
    negative_themes: list[Theme]
    reviews: list[ReviewSentiment]


def compound_score(text: str) -> float:
    """VADER compound score of one text, -1 (negative) to 1 (positive)."""
    return polarity_scores(text)["compound"]


def sentiment_label(compound: float) -> SentimentLabel:
    if compound >= POSITIVE_THRESHOLD:
        return "positive"
    if compound <= NEGATIVE_THRESHOLD:
        return "negative"
    return "neutral"


def _phrases(text: str) -> set[str]:
    """Unigrams and bigrams of content words; a bigram never spans a removed stop word."""
    phrases: set[str] = set()
    run: list[str] = []
    for word in [*_WORD.findall(text.lower()), ""]:
        if word in _NEGATIONS or (word not in STOP_WORDS and len(word) > 2):
            run.append(word)
            continue
        phrases.update(w for w in run if w not in _NEGATIONS)
        phrases.update(f"{first} {second}" for first, second in pairwise(run))
        run = []
    return phrases


def _themes(texts: Iterable[str], limit: int) -> list[Theme]:
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update(_phrases(text))
    recurring = [(phrase, n) for phrase, n in counts.items() if n >= 2]
    # Most reviews first; a bigram beats its own words at equal count (it says more).
    recurring.sort(key=lambda item: (-item[1], -item[0].count(" "), item[0]))
    return [Theme(phrase=phrase, reviews=n) for phrase, n in recurring[:limit]]


def _monthly(reviews: Sequence[Review], compounds: Sequence[float]) -> list[MonthlySentiment]:
    buckets: dict[str, list[float]] = {}
    for review, compound in zip(reviews, compounds, strict=True):
        month = review.reviewed_at.astimezone(UTC).strftime("%Y-%m")
        buckets.setdefault(month, []).append(compound)
    return [
        MonthlySentiment(month=month, reviews=len(values), mean_compound=float(np.mean(values)))
        for month, values in sorted(buckets.items())
    ]


def _month_index(month: str) -> int:
    year, number = month.split("-")
    return int(year) * 12 + int(number) - 1


def _slope(monthly: Sequence[MonthlySentiment]) -> float | None:
    if len(monthly) < 3:
        return None
    x = np.array([_month_index(m.month) for m in monthly], dtype=np.float64)
    y = np.array([m.mean_compound for m in monthly])
    w = np.sqrt(np.array([m.reviews for m in monthly], dtype=np.float64))
    # Months with more reviews weigh more: their mean is less noisy.
    slope, _ = np.polyfit(x, y, 1, w=w)
    return float(slope)


def analyze_sentiment(reviews: Sequence[Review], *, themes: int = 10) -> SentimentAnalysis:
    """Score every review with VADER and summarise; reviews without text are left out."""
    texted = [(i, r) for i, r in enumerate(reviews) if r.text.strip()]
    compounds = [compound_score(r.text) for _, r in texted]
    labels: list[SentimentLabel] = [sentiment_label(c) for c in compounds]
    n = len(texted)
    monthly = _monthly([r for _, r in texted], compounds)
    slope = _slope(monthly)
    trend: Literal["improving", "stable", "declining", "unknown"] = (
        "unknown"
        if slope is None
        else "improving"
        if slope > 0.02
        else "declining"
        if slope < -0.02
        else "stable"
    )

    def share(label: SentimentLabel) -> float:
        return labels.count(label) / n if n else 0.0

    mean = float(np.mean(compounds)) if compounds else None
    positive = _themes(
        (r.text for (_, r), lab in zip(texted, labels, strict=True) if lab == "positive"), themes
    )
    negative = _themes(
        (r.text for (_, r), lab in zip(texted, labels, strict=True) if lab == "negative"), themes
    )
    if mean is None:
        explanation = "No review had text, so there is nothing to score."
    else:
        explanation = (
            f"{n} reviews: mean VADER compound {mean:+.2f}; {share('positive'):.0%} positive, "
            f"{share('negative'):.0%} negative. Trend: {trend}"
            + (f" ({slope:+.3f} a month)" if slope is not None else "")
            + "."
            + (f" Praised: {', '.join(t.phrase for t in positive[:3])}." if positive else "")
            + (f" Complaints: {', '.join(t.phrase for t in negative[:3])}." if negative else "")
        )
    return SentimentAnalysis(
        review_count=n,
        mean_compound=mean,
        share_positive=share("positive"),
        share_neutral=share("neutral"),
        share_negative=share("negative"),
        monthly=monthly,
        trend_per_month=slope,
        trend=trend,
        positive_themes=positive,
        negative_themes=negative,
        reviews=[
            ReviewSentiment(index=i, compound=c, label=label, rating=r.rating)
            for (i, r), c, label in zip(texted, compounds, labels, strict=True)
        ],
        method=(
            "VADER (vaderSentiment) compound score per review; positive >= 0.05, negative "
            "<= -0.05; trend = weighted least-squares slope of monthly means; themes = "
            "unigrams/bigrams without stop words found in at least 2 reviews"
        ),
        inputs_used=["reviews.text", "reviews.reviewed_at"],
        confidence=confidence_from_share(min(1.0, n / 30), high=1.0, medium=0.33),
        explanation=explanation,
    )
