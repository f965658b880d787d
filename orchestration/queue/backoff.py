"""Retry delays: exponential backoff with full jitter, capped.

Full jitter (a uniform draw below the exponential ceiling) spreads the retries of many
events that failed together, so a recovering platform is not hit by a synchronized wave.
"""

from __future__ import annotations

import random
from datetime import timedelta

__all__ = ["retry_delay"]

_rng = random.SystemRandom()


def retry_delay(
    attempt: int,
    *,
    base_s: float = 2.0,
    max_s: float = 600.0,
    jitter: bool = True,
) -> timedelta:
    """The wait before the retry that follows failed attempt number `attempt` (1-based).

    The ceiling is `base_s * 2**(attempt-1)`, capped at `max_s`; with jitter the delay is
    drawn uniformly from [ceiling/2, ceiling] so it never collapses to zero.
    """
    if attempt < 1:
        raise ValueError("attempt numbers start at 1")
    ceiling = min(max_s, base_s * 2.0 ** min(attempt - 1, 62))
    seconds = _rng.uniform(ceiling / 2, ceiling) if jitter else ceiling
    return timedelta(seconds=seconds)
