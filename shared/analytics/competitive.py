"""One business against its competitors: percentile rank per metric, strengths, gaps, and
the competitor to watch.

Percentile rank = share of competitors the business beats, ties counting half, in 0..100
(the "mean" definition). A metric is compared only among businesses that have a value for
it. The competitor to watch has the highest mean percentile across metrics within the whole
group, with recent review velocity counted twice (momentum is what takes customers next).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from statistics import median

from pydantic import BaseModel, ConfigDict, Field

from shared.analytics.models import (
    AnalysisResult,
    BusinessProfile,
    confidence_from_share,
    resolve_as_of,
)
from shared.analytics.sentiment import compound_score
from shared.errors import ValidationFailedError

__all__ = ["CompetitiveInsights", "MetricRank", "competitive_analysis"]

STRENGTH_PERCENTILE = 75.0
GAP_PERCENTILE = 25.0
VELOCITY_WINDOW = timedelta(days=90)


class MetricRank(BaseModel):
    model_config = ConfigDict(frozen=True)

    metric: str
    value: float
    percentile: float = Field(description="share of competitors beaten, ties half, 0..100")
    competitor_median: float
    best_value: float
    best_competitor: str
    competitors_compared: int


class CompetitiveInsights(AnalysisResult):
    business: str
    ranks: list[MetricRank]
    strengths: list[str]
    gaps: list[str]
    competitor_to_watch: str | None
    watch_reason: str | None


def _metrics(as_of: datetime) -> dict[str, Callable[[BusinessProfile], float | None]]:
    def velocity(b: BusinessProfile) -> float | None:
        if not b.reviews:
            return None
        return float(sum(1 for r in b.reviews if as_of - VELOCITY_WINDOW < r.reviewed_at <= as_of))

    def sentiment(b: BusinessProfile) -> float | None:
        texts = [r.text for r in b.reviews if r.text.strip()]
        return sum(compound_score(t) for t in texts) / len(texts) if texts else None

    return {
        "rating": lambda b: b.rating,
        "review_count": lambda b: float(b.review_count),
        "reviews_last_90_days": velocity,
        "photos_count": lambda b: float(b.photos_count),
        "website": lambda b: float(b.has_website),
        "hours_listed": lambda b: float(b.has_hours),
        "review_sentiment": sentiment,
    }


def _percentile(value: float, others: Sequence[float]) -> float:
    below = sum(1 for o in others if o < value)
    ties = sum(1 for o in others if o == value)
    return 100.0 * (below + 0.5 * ties) / len(others)


def _fmt(metric: str, value: float) -> str:
    if metric in {"website", "hours_listed"}:
        return "yes" if value else "no"
    if metric in {"rating", "review_sentiment"}:
        return f"{value:.2f}"
    return f"{value:.0f}"


def _watch(
    group: list[BusinessProfile], values: dict[str, list[float | None]]
) -> tuple[int, dict[str, float]] | None:
    """Index (in group, > 0) of the strongest competitor and its per-metric percentiles."""
    best: tuple[float, int, dict[str, float]] | None = None
    for i in range(1, len(group)):
        ranks: dict[str, float] = {}
        for metric, column in values.items():
            mine = column[i]
            others = [v for j, v in enumerate(column) if j != i and v is not None]
            if mine is not None and others:
                ranks[metric] = _percentile(mine, others)
        if not ranks:
            continue
        weights = {m: 2.0 if m == "reviews_last_90_days" else 1.0 for m in ranks}
        threat = sum(ranks[m] * weights[m] for m in ranks) / sum(weights.values())
        if best is None or threat > best[0]:
            best = (threat, i, ranks)
    return None if best is None else (best[1], best[2])


def competitive_analysis(
    business: BusinessProfile,
    competitors: Sequence[BusinessProfile],
    *,
    as_of: datetime | None = None,
) -> CompetitiveInsights:
    """Compare `business` with `competitors`; raises ValidationFailedError without any."""
    if not competitors:
        raise ValidationFailedError("competitive analysis needs at least one competitor")
    when = resolve_as_of(as_of)
    group = [business, *competitors]
    values = {name: [f(b) for b in group] for name, f in _metrics(when).items()}
    ranks: list[MetricRank] = []
    for metric, column in values.items():
        mine = column[0]
        others = [
            (b.name, v) for b, v in zip(competitors, column[1:], strict=True) if v is not None
        ]
        if mine is None or not others:
            continue
        leader, best = max(others, key=lambda item: item[1])
        ranks.append(
            MetricRank(
                metric=metric,
                value=mine,
                percentile=round(_percentile(mine, [v for _, v in others]), 1),
                competitor_median=float(median(v for _, v in others)),
                best_value=best,
                best_competitor=leader,
                competitors_compared=len(others),
            )
        )
    strengths = [
        f"{r.metric}: {_fmt(r.metric, r.value)} beats {r.percentile:.0f}% of competitors "
        f"(median {_fmt(r.metric, r.competitor_median)})"
        for r in sorted(ranks, key=lambda r: -r.percentile)
        if r.percentile >= STRENGTH_PERCENTILE
    ]
    gaps = [
        f"{r.metric}: {_fmt(r.metric, r.value)} vs competitor median "
        f"{_fmt(r.metric, r.competitor_median)} (best: {r.best_competitor}, "
        f"{_fmt(r.metric, r.best_value)})"
        for r in sorted(ranks, key=lambda r: r.percentile)
        if r.percentile <= GAP_PERCENTILE
    ]
    watched = _watch(group, values)
    watch_name = watch_reason = None
    if watched is not None:
        index, their_ranks = watched
        rival = group[index]
        ahead: list[tuple[str, float, float]] = []
        for metric in their_ranks:
            theirs, yours = values[metric][index], values[metric][0]
            if theirs is not None and yours is not None and theirs > yours:
                ahead.append((metric, theirs, yours))
        ahead.sort(key=lambda item: -their_ranks[item[0]])
        watch_name = rival.name
        watch_reason = "strongest overall in this group"
        if ahead:
            watch_reason += ": ahead of you on " + ", ".join(
                f"{m} ({_fmt(m, theirs)} vs {_fmt(m, yours)})" for m, theirs, yours in ahead[:3]
            )
    compared = {r.metric for r in ranks}
    return CompetitiveInsights(
        business=business.name,
        ranks=ranks,
        strengths=strengths,
        gaps=gaps,
        competitor_to_watch=watch_name,
        watch_reason=watch_reason,
        method=(
            "percentile rank among competitors with a value (ties count half); strengths >= "
            f"{STRENGTH_PERCENTILE:.0f}th, gaps <= {GAP_PERCENTILE:.0f}th percentile; competitor "
            "to watch = highest mean percentile in the group, review velocity counted twice"
        ),
        inputs_used=sorted(compared),
        confidence=confidence_from_share(len(competitors) / 5, high=1.0, medium=0.4),
        explanation=(
            f"Against {len(competitors)} competitor(s), {business.name} leads on "
            f"{', '.join(s.split(':')[0] for s in strengths) or 'nothing'} and trails on "
            f"{', '.join(g.split(':')[0] for g in gaps) or 'nothing'}."
            + (f" Watch {watch_name}: {watch_reason}." if watch_name else "")
        ),
    )
