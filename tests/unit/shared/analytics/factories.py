"""Small builders for analytics inputs; each test states only what it is about."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from shared.analytics.models import BusinessProfile, Review

AS_OF = datetime(2026, 6, 30, tzinfo=UTC)


def review(rating: int, text: str = "", days_ago: float = 10, **extra: Any) -> Review:
    return Review(rating=rating, text=text, reviewed_at=AS_OF - timedelta(days=days_ago), **extra)


def business(**fields: Any) -> BusinessProfile:
    fields.setdefault("name", "Test Business")
    return BusinessProfile(**fields)
