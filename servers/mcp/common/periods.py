"""Named reporting periods ("this_month", "last_30_days") resolved to UTC datetime ranges.

A period is half-open, [start, end). Calendar periods run from midnight UTC; rolling ones
("last_30_days") end now. Explicit dates mean whole days: `end` 2026-03-31 includes that day.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from enum import StrEnum

from mcp.server.mcpserver.exceptions import ToolError

from shared.errors import ValidationFailedError

__all__ = ["Period", "as_utc_argument", "resolve_period"]

MAX_RANGE_DAYS = 3 * 366


def as_utc_argument(value: datetime | None) -> datetime | None:
    """A tool's time argument in UTC (one without an offset is taken as UTC); a ToolError
    when UTC cannot hold it (0001-01-01T00:00+01:00 is before year 1)."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ToolError(
            f"{value.isoformat()} is outside the years 1 to 9999 in UTC; give a real date"
        ) from None


class Period(StrEnum):
    TODAY = "today"
    THIS_WEEK = "this_week"
    LAST_WEEK = "last_week"
    THIS_MONTH = "this_month"
    LAST_MONTH = "last_month"
    THIS_QUARTER = "this_quarter"
    LAST_QUARTER = "last_quarter"
    THIS_YEAR = "this_year"
    LAST_YEAR = "last_year"
    LAST_7_DAYS = "last_7_days"
    LAST_30_DAYS = "last_30_days"
    LAST_90_DAYS = "last_90_days"


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _month_start(year: int, month: int) -> date:
    while month < 1:
        year, month = year - 1, month + 12
    while month > 12:
        year, month = year + 1, month - 12
    return date(year, month, 1)


def _calendar(period: Period, today: date) -> tuple[date, date]:
    quarter_month = 3 * ((today.month - 1) // 3) + 1
    match period:
        case Period.TODAY:
            return today, today + timedelta(days=1)
        case Period.THIS_WEEK:
            monday = today - timedelta(days=today.weekday())
            return monday, monday + timedelta(days=7)
        case Period.LAST_WEEK:
            monday = today - timedelta(days=today.weekday())
            return monday - timedelta(days=7), monday
        case Period.THIS_MONTH:
            return _month_start(today.year, today.month), _month_start(today.year, today.month + 1)
        case Period.LAST_MONTH:
            return _month_start(today.year, today.month - 1), _month_start(today.year, today.month)
        case Period.THIS_QUARTER:
            return (
                _month_start(today.year, quarter_month),
                _month_start(today.year, quarter_month + 3),
            )
        case Period.LAST_QUARTER:
            return (
                _month_start(today.year, quarter_month - 3),
                _month_start(today.year, quarter_month),
            )
        case Period.THIS_YEAR:
            return date(today.year, 1, 1), date(today.year + 1, 1, 1)
        case Period.LAST_YEAR:
            return date(today.year - 1, 1, 1), date(today.year, 1, 1)
        case _:
            raise AssertionError(period)


_ROLLING_DAYS = {Period.LAST_7_DAYS: 7, Period.LAST_30_DAYS: 30, Period.LAST_90_DAYS: 90}


def resolve_period(
    period: Period | None,
    start: date | None,
    end: date | None,
    *,
    now: datetime | None = None,
    default: Period = Period.THIS_MONTH,
) -> tuple[datetime, datetime]:
    """[start, end) in UTC. Give a named period or explicit dates, not both.

    Raises ValidationFailedError for a mix of both, a reversed range or one over three years.
    """
    now = (now or datetime.now(UTC)).astimezone(UTC)
    if period is not None and (start is not None or end is not None):
        raise ValidationFailedError(
            "give either `period` or `start`/`end`, not both "
            f"(period={period.value!r} was given with explicit dates)"
        )
    if start is not None or end is not None:
        first = _midnight(start) if start is not None else now - timedelta(days=30)
        last = _midnight(end) + timedelta(days=1) if end is not None else now
        if last <= first:
            raise ValidationFailedError(
                f"`end` ({end}) is before `start` ({start}); swap them or pick a named period"
            )
        if (last - first).days > MAX_RANGE_DAYS:
            raise ValidationFailedError(
                f"the range is over {MAX_RANGE_DAYS} days; narrow it or use a named period"
            )
        return first, last
    chosen = period or default
    if chosen in _ROLLING_DAYS:
        return now - timedelta(days=_ROLLING_DAYS[chosen]), now
    first_day, end_day = _calendar(chosen, now.date())
    return _midnight(first_day), _midnight(end_day)
