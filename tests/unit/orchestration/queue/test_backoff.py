"""Retry delays grow exponentially, stay jittered within [ceiling/2, ceiling], and cap."""

from __future__ import annotations

import pytest

from orchestration.queue.backoff import retry_delay


def test_delay_doubles_per_attempt_without_jitter() -> None:
    delays = [retry_delay(n, base_s=2, max_s=1000, jitter=False).total_seconds() for n in (1, 2, 3)]
    assert delays == [2, 4, 8]


def test_delay_is_capped() -> None:
    assert retry_delay(50, base_s=2, max_s=600, jitter=False).total_seconds() == 600


def test_jittered_delay_stays_between_half_and_full_ceiling() -> None:
    seen = {retry_delay(4, base_s=2, max_s=600).total_seconds() for _ in range(200)}
    assert all(8 <= s <= 16 for s in seen)
    assert len(seen) > 100  # actually random, so failures spread out


def test_attempt_numbers_start_at_one() -> None:
    with pytest.raises(ValueError, match="start at 1"):
        retry_delay(0)
