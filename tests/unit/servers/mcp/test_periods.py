"""Named periods resolve to half-open UTC ranges."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from servers.mcp.common.periods import Period, resolve_period
from shared.errors import ValidationFailedError

NOW = datetime(2026, 2, 18, 15, 30, tzinfo=UTC)  # a Wednesday in Q1


@pytest.mark.parametrize(
    ("period", "start", "end"),
    [
        (Period.THIS_MONTH, datetime(2026, 2, 1, tzinfo=UTC), datetime(2026, 3, 1, tzinfo=UTC)),
        (Period.LAST_MONTH, datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC)),
        (Period.THIS_QUARTER, datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC)),
        (Period.LAST_QUARTER, datetime(2025, 10, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC)),
        (Period.THIS_WEEK, datetime(2026, 2, 16, tzinfo=UTC), datetime(2026, 2, 23, tzinfo=UTC)),
        (Period.LAST_YEAR, datetime(2025, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC)),
        (Period.LAST_30_DAYS, datetime(2026, 1, 19, 15, 30, tzinfo=UTC), NOW),
    ],
)
def test_named_periods(period: Period, start: datetime, end: datetime) -> None:
    assert resolve_period(period, None, None, now=NOW) == (start, end)


def test_explicit_end_date_is_inclusive() -> None:
    assert resolve_period(None, date(2026, 1, 1), date(2026, 1, 31), now=NOW) == (
        datetime(2026, 1, 1, tzinfo=UTC),
        datetime(2026, 2, 1, tzinfo=UTC),
    )


def test_default_is_this_month() -> None:
    assert resolve_period(None, None, None, now=NOW)[0] == datetime(2026, 2, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("period", "start", "end", "message"),
    [
        (Period.THIS_MONTH, date(2026, 1, 1), None, "not both"),
        (None, date(2026, 3, 1), date(2026, 1, 1), "before"),
        (None, date(2020, 1, 1), date(2026, 1, 1), "over"),
    ],
)
def test_bad_ranges(
    period: Period | None, start: date | None, end: date | None, message: str
) -> None:
    with pytest.raises(ValidationFailedError, match=message):
        resolve_period(period, start, end, now=NOW)
