"""Relative times in step fields: "+3 days", "2 hours", "90 minutes", "30s"."""

from __future__ import annotations

import re
from datetime import timedelta

from orchestration.workflows.errors import StepFailedError

__all__ = ["parse_relative"]

_UNITS = {
    "s": "seconds", "sec": "seconds", "second": "seconds", "seconds": "seconds",
    "m": "minutes", "min": "minutes", "minute": "minutes", "minutes": "minutes",
    "h": "hours", "hour": "hours", "hours": "hours",
    "d": "days", "day": "days", "days": "days",
    "w": "weeks", "week": "weeks", "weeks": "weeks",
}  # fmt: skip
_PATTERN = re.compile(r"^\+?\s*(\d+(?:\.\d+)?)\s*([a-z]+)$")
MAX_DELAY = timedelta(days=366)


def parse_relative(text: str) -> timedelta:
    """A delay such as "+3 days"; raises StepFailedError saying the accepted forms."""
    match = _PATTERN.match(text.strip().lower())
    unit = _UNITS.get(match.group(2)) if match else None
    if match is None or unit is None:
        raise StepFailedError(
            f"'{text}' is not a relative time; write e.g. '+3 days', '2 hours', '90 minutes'"
        )
    try:
        delay = timedelta(**{unit: float(match.group(1))})
    except OverflowError:  # "+99999999999 days": past what a timedelta holds
        delay = timedelta.max
    if delay > MAX_DELAY:
        raise StepFailedError(f"'{text}' is more than a year away; the limit is 366 days")
    return delay
