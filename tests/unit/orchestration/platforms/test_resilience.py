from __future__ import annotations

from datetime import UTC, datetime

import anyio

from orchestration.platforms.resilience import (
    CircuitBreaker,
    CircuitState,
    TokenBucket,
    limiter_from_rate_limits,
    retry_after_seconds,
)
from tests.unit.orchestration.platforms.conftest import FakeClock


async def test_token_bucket_spaces_calls_at_the_configured_rate(clock: FakeClock) -> None:
    bucket = TokenBucket(60, per=60, burst=2, clock=clock, sleep=clock.sleep)
    for _ in range(2):  # the burst goes out at once
        assert await bucket.acquire() == 0
    start = clock.now
    for _ in range(3):
        await bucket.acquire()
    assert clock.sleeps == [1.0, 1.0, 1.0]  # then one a second
    assert clock.now - start == 3.0


async def test_token_bucket_pause_from_a_429_empties_it_until_the_reset(clock: FakeClock) -> None:
    bucket = TokenBucket(100, per=60, clock=clock, sleep=clock.sleep)
    assert bucket.headroom() == 100
    bucket.pause_for(12)
    assert bucket.headroom() == 0
    await bucket.acquire()
    assert sum(clock.sleeps) >= 12


def test_rate_limits_json_configures_the_bucket(clock: FakeClock) -> None:
    bucket = limiter_from_rate_limits(
        {"requests_per_minute": 120, "burst": 5}, default_per_minute=60, clock=clock
    )
    assert bucket.rate_per_second == 2 and bucket.capacity == 5
    default = limiter_from_rate_limits(None, default_per_minute=100, clock=clock)
    assert default.capacity == 100


def test_retry_after_reads_seconds_dates_and_ratelimit_reset() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert retry_after_seconds({"retry-after": "7"}, now=now) == 7
    assert retry_after_seconds({"retry-after": "Thu, 01 Jan 2026 00:00:30 GMT"}, now=now) == 30
    reset = str(int(now.timestamp()) + 42)
    assert retry_after_seconds({"x-ratelimit-reset": reset}, now=now) == 42
    assert retry_after_seconds({}, now=now) is None


def test_circuit_opens_after_threshold_then_half_opens_for_one_trial(clock: FakeClock) -> None:
    breaker = CircuitBreaker(failure_threshold=3, reset_timeout=30, clock=clock)
    for _ in range(3):
        assert breaker.allow()
        breaker.record_failure()
    assert breaker.state is CircuitState.OPEN and not breaker.allow()
    clock.advance(30)
    assert breaker.state is CircuitState.HALF_OPEN
    assert breaker.allow()  # the one trial
    assert not breaker.allow()  # nobody else while it runs
    breaker.record_failure()
    assert breaker.state is CircuitState.OPEN  # failed trial: a fresh window
    clock.advance(30)
    assert breaker.allow()
    breaker.record_success()
    assert breaker.state is CircuitState.CLOSED and breaker.allow()


async def test_concurrent_callers_queue_behind_each_other(clock: FakeClock) -> None:
    waits: list[float] = []

    async def frozen_sleep(seconds: float) -> None:  # all three wait from the same instant
        waits.append(seconds)

    bucket = TokenBucket(60, per=60, burst=1, clock=clock, sleep=frozen_sleep)
    async with anyio.create_task_group() as tg:
        for _ in range(3):
            tg.start_soon(bucket.acquire)
    assert sorted(waits) == [1.0, 2.0]  # reserved in turn, each waits for its own slot
