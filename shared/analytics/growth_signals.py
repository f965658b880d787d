"""Growth signals of a business from its reviews, posts and profile history.

Windows are the last 90 days against the 90 days before `as_of`. Each signal has a direction,
a strength in 0..1 (how far past "no change" it is, saturating) and the evidence behind it,
so an agent can quote it. Signals that need data we do not have are simply not emitted, and
`not_assessed` says which and why.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.analytics.models import (
    AnalysisResult,
    BusinessProfile,
    ProfileSnapshot,
    Review,
    resolve_as_of,
)

__all__ = ["GrowthSignal", "GrowthSignals", "identify_growth_signals"]

WINDOW = timedelta(days=90)
SignalKind = Literal[
    "review_velocity",
    "rating_trend",
    "review_responses",
    "new_photos",
    "hiring",
    "website_change",
    "hours_change",
]
Direction = Literal["positive", "negative", "neutral"]
# The business hiring staff, not a customer hiring the business ("I'd recommend hiring them").
HIRING = re.compile(
    r"\b(now hiring|(we'?re|we are|is|are) hiring|join our team|job openings?|positions? available"
    r"|new (staff|hires?|team members?|employees?))\b",
    re.IGNORECASE,
)


class GrowthSignal(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: SignalKind
    direction: Direction
    strength: float = Field(ge=0.0, le=1.0)
    evidence: str


class GrowthSignals(AnalysisResult):
    signals: list[GrowthSignal] = Field(description="strongest first")
    momentum: Literal["growing", "stable", "declining"]
    not_assessed: list[str] = Field(description="signals without enough data, and why")


def _split(reviews: Sequence[Review], as_of: datetime) -> tuple[list[Review], list[Review]]:
    recent = [r for r in reviews if as_of - WINDOW < r.reviewed_at <= as_of]
    before = [r for r in reviews if as_of - 2 * WINDOW < r.reviewed_at <= as_of - WINDOW]
    return recent, before


def _direction(change: float, threshold: float) -> Direction:
    return "positive" if change > threshold else "negative" if change < -threshold else "neutral"


def _velocity(recent: list[Review], before: list[Review]) -> GrowthSignal:
    change = (len(recent) - len(before)) / max(len(before), 1)
    direction: Direction = (
        "positive" if change > 0.2 else "negative" if change < -0.2 else "neutral"
    )
    return GrowthSignal(
        kind="review_velocity",
        direction=direction,
        strength=round(min(1.0, abs(change)), 3),
        evidence=f"{len(recent)} reviews in the last 90 days vs {len(before)} in the 90 before",
    )


def _rating_trend(recent: list[Review], before: list[Review]) -> GrowthSignal:
    now = sum(r.rating for r in recent) / len(recent)
    then = sum(r.rating for r in before) / len(before)
    delta = now - then
    return GrowthSignal(
        kind="rating_trend",
        direction=_direction(delta, 0.2),
        strength=round(min(1.0, abs(delta) / 1.5), 3),  # a 1.5-star swing is as strong as it gets
        evidence=f"average rating {now:.2f} in the last 90 days vs {then:.2f} before",
    )


def _responses(recent: list[Review]) -> GrowthSignal:
    answered = sum(1 for r in recent if r.owner_response)
    share = answered / len(recent)
    direction: Direction = "positive" if share >= 0.5 else "negative" if share < 0.1 else "neutral"
    return GrowthSignal(
        kind="review_responses",
        direction=direction,
        strength=round(share if direction != "negative" else 1.0 - share, 3),
        evidence=f"owner replied to {answered} of {len(recent)} reviews in the last 90 days",
    )


def _timeline(business: BusinessProfile, as_of: datetime) -> list[ProfileSnapshot]:
    current = ProfileSnapshot(
        observed_at=as_of,
        rating=business.rating,
        review_count=business.review_count,
        photos_count=business.photos_count,
        website=business.website,
        hours=business.hours,
    )
    past = sorted(
        (s for s in business.history if s.observed_at < as_of), key=lambda s: s.observed_at
    )
    return [*past, current]


def _photos(timeline: list[ProfileSnapshot], as_of: datetime) -> GrowthSignal | None:
    counted = [s for s in timeline if s.photos_count is not None]
    baseline = [s for s in counted if s.observed_at <= as_of - WINDOW] or counted[:1]
    if not baseline or baseline[-1] is counted[-1]:
        return None
    start, end = baseline[-1], counted[-1]
    added = (end.photos_count or 0) - (start.photos_count or 0)
    return GrowthSignal(
        kind="new_photos",
        direction="positive" if added > 0 else "neutral",
        strength=round(min(1.0, max(0, added) / 20.0), 3),
        evidence=f"{added:+d} photos since {start.observed_at.date().isoformat()}",
    )


def _changes(timeline: list[ProfileSnapshot], as_of: datetime) -> list[GrowthSignal]:
    signals: list[GrowthSignal] = []
    for old, new in pairwise(timeline):
        if new.observed_at <= as_of - 2 * WINDOW:
            continue  # old news is not a signal
        day = new.observed_at.date().isoformat()
        if old.website != new.website:
            if new.website and not old.website:
                signals.append(
                    GrowthSignal(
                        kind="website_change",
                        direction="positive",
                        strength=0.7,
                        evidence=f"website added by {day}",
                    )
                )
            elif old.website and not new.website:
                signals.append(
                    GrowthSignal(
                        kind="website_change",
                        direction="negative",
                        strength=0.7,
                        evidence=f"website removed by {day}",
                    )
                )
            else:
                signals.append(
                    GrowthSignal(
                        kind="website_change",
                        direction="neutral",
                        strength=0.4,
                        evidence=f"website changed by {day}",
                    )
                )
        if old.hours is not None and new.hours is not None and old.hours != new.hours:
            more = len(new.hours) > len(old.hours)
            fewer = len(new.hours) < len(old.hours)
            signals.append(
                GrowthSignal(
                    kind="hours_change",
                    direction="positive" if more else "negative" if fewer else "neutral",
                    strength=0.6 if more or fewer else 0.3,
                    evidence=f"open {len(old.hours)} -> {len(new.hours)} days a week by {day}",
                )
            )
    return signals


def _hiring(business: BusinessProfile, as_of: datetime) -> GrowthSignal | None:
    since = as_of - 2 * WINDOW
    texts = [p.text for p in business.posts if since < p.posted_at <= as_of]
    texts += [r.text for r in business.reviews if since < r.reviewed_at <= as_of]
    texts += [business.description or ""]
    mentions = [m.group(0).lower() for t in texts for m in [HIRING.search(t)] if m]
    if not mentions:
        return None
    return GrowthSignal(
        kind="hiring",
        direction="positive",
        strength=round(min(1.0, 0.5 + 0.25 * (len(mentions) - 1)), 3),
        evidence=f"{len(mentions)} hiring mention(s) in recent posts/reviews/description, "
        f"e.g. {mentions[0]!r}",
    )


def identify_growth_signals(
    business: BusinessProfile, *, as_of: datetime | None = None
) -> GrowthSignals:
    """Signals that a business is growing or shrinking; `as_of` aware, default now."""
    when = resolve_as_of(as_of)
    recent, before = _split(business.reviews, when)
    signals: list[GrowthSignal] = []
    not_assessed: list[str] = []
    if recent or before:
        signals.append(_velocity(recent, before))
    else:
        not_assessed.append("review_velocity: no dated reviews in the last 180 days")
    if len(recent) >= 3 and len(before) >= 3:
        signals.append(_rating_trend(recent, before))
    else:
        not_assessed.append("rating_trend: needs 3+ reviews in each 90-day window")
    if recent:
        signals.append(_responses(recent))
    else:
        not_assessed.append("review_responses: no reviews in the last 90 days")
    timeline = _timeline(business, when)
    photos = _photos(timeline, when)
    if photos:
        signals.append(photos)
    if len(timeline) < 2:
        not_assessed.append("new_photos, website_change, hours_change: no profile history")
    signals.extend(_changes(timeline, when))
    hiring = _hiring(business, when)
    if hiring:
        signals.append(hiring)
    signals.sort(key=lambda s: -s.strength)
    net = sum(
        s.strength * {"positive": 1, "negative": -1, "neutral": 0}[s.direction] for s in signals
    )
    momentum: Literal["growing", "stable", "declining"] = (
        "growing" if net >= 0.5 else "declining" if net <= -0.5 else "stable"
    )
    strong = [s.evidence for s in signals if s.direction != "neutral"][:3]
    return GrowthSignals(
        signals=signals,
        momentum=momentum,
        not_assessed=not_assessed,
        method=(
            "last 90 days vs the 90 before for reviews, ratings and owner replies; profile "
            "history for photos, website and hours; keyword match for hiring; momentum = "
            "sum of signed strengths (>= 0.5 growing, <= -0.5 declining)"
        ),
        inputs_used=[
            name
            for name, present in (
                ("reviews", bool(business.reviews)),
                ("history", bool(business.history)),
                ("posts", bool(business.posts)),
                ("description", bool(business.description)),
            )
            if present
        ],
        confidence="high"
        if len(not_assessed) == 0
        else "medium"
        if len(not_assessed) <= 1
        else "low",
        explanation=f"{business.name} looks {momentum}"
        + (f": {'; '.join(strong)}." if strong else "; no strong signal either way."),
    )
