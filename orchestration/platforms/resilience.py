"""Retries, a token-bucket rate limiter and a circuit breaker, shared by every adapter.

- Retries go through `stamina` (so `stamina.set_testing(True)` makes tests instant); the
  backoff hook honours `Retry-After` and `X-RateLimit-Reset`, and a wait longer than the
  policy allows is not waited: the call fails with RateLimitedError so the router can
  fail over instead of holding a worker.
- The limiter is per tool configuration (`external_tool_configs.rate_limits`), the
  breaker per platform; both take an injectable clock so tests never sleep.
- `RATE_LIMIT_WAIT_SECONDS` (on `/metrics`) adds up the time calls spent waiting for a
  token and backing off after a 429, per platform; PlatformHttp records it.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from enum import StrEnum
from typing import Any, TypeVar

import anyio
import httpx
from prometheus_client import Counter

__all__ = [
    "DEFAULT_REGISTRY",
    "RATE_LIMIT_WAIT_SECONDS",
    "CircuitBreaker",
    "CircuitState",
    "Clock",
    "ResilienceRegistry",
    "RetryPolicy",
    "RetryableResponse",
    "TokenBucket",
    "limiter_from_rate_limits",
    "retry_after_seconds",
]

Clock = Callable[[], float]
"""Monotonic seconds."""

RATE_LIMIT_WAIT_SECONDS = Counter(
    "switchboard_platform_rate_limit_wait_seconds",
    "Seconds platform calls waited for rate limits: source=token_bucket is our own limiter "
    "(including a pause a 429 imposed), source=retry_after the backoff after a 429",
    ["platform", "source"],
)
Sleep = Callable[[float], Awaitable[None]]
T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 4
    timeout: float = 30.0  # total seconds for all attempts of one call
    wait_initial: float = 0.2
    wait_max: float = 8.0
    max_retry_after: float = 20.0  # a longer Retry-After fails fast with RateLimitedError


class RetryableResponse(Exception):
    """Raised inside a retry attempt for a 429 or 5xx answer; carries the response."""

    def __init__(self, response: httpx.Response, wait_hint: float | None) -> None:
        super().__init__(f"HTTP {response.status_code}")
        self.response = response
        self.wait_hint = wait_hint


def retry_after_seconds(headers: Mapping[str, str], *, now: datetime | None = None) -> float | None:
    """Seconds the platform asks us to wait: `Retry-After` (seconds or HTTP date), else
    `X-RateLimit-Reset` (Unix seconds, ClickUp; or seconds-from-now when small)."""
    current = now or datetime.now(UTC)
    value = headers.get("retry-after")
    if value:
        value = value.strip()
        try:
            return max(0.0, float(value))
        except ValueError:
            pass
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            when = None
        if when is not None:
            if when.tzinfo is None:
                when = when.replace(tzinfo=UTC)
            return max(0.0, (when - current).total_seconds())
    reset = headers.get("x-ratelimit-reset")
    if reset:
        try:
            number = float(reset.strip())
        except ValueError:
            return None
        # Values below a year of seconds are relative; larger ones are epoch timestamps.
        if number < 365 * 24 * 3600:
            return max(0.0, number)
        return max(0.0, number - current.timestamp())
    return None


class TokenBucket:
    """`rate` tokens per `per` seconds, holding at most `burst`. `acquire()` waits for one.

    `pause_for(seconds)` empties the bucket until then: a 429's reset time tells us the
    platform's own window is spent, whatever our estimate said.
    """

    def __init__(
        self,
        rate: float,
        per: float = 60.0,
        burst: float | None = None,
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = anyio.sleep,
    ) -> None:
        if rate <= 0 or per <= 0:
            raise ValueError("rate and per must be positive")
        self.rate_per_second = rate / per
        self.capacity = max(1.0, burst if burst is not None else rate)
        self._tokens = self.capacity
        self._clock = clock
        self._sleep = sleep
        self._updated = clock()
        self._paused_until = 0.0
        self._lock = anyio.Lock()

    def _refill(self) -> None:
        now = self._clock()
        start = max(self._updated, self._paused_until)
        if now > start:
            self._tokens = min(self.capacity, self._tokens + (now - start) * self.rate_per_second)
        self._updated = max(self._updated, now)

    def headroom(self) -> float:
        """Tokens available now (0..capacity); the router prefers platforms with more."""
        self._refill()
        if self._clock() < self._paused_until:
            return 0.0
        return max(0.0, self._tokens)

    def wait_time(self) -> float:
        """Seconds until one token is available."""
        self._refill()
        now = self._clock()
        paused = max(0.0, self._paused_until - now)
        missing = max(0.0, 1.0 - self._tokens)
        return paused + missing / self.rate_per_second

    async def acquire(self) -> float:
        """Take one token, waiting as long as needed; returns the seconds waited.

        The token is reserved before waiting (the balance may go negative), so callers
        queue in order and each computes its wait once: no polling loop that a float
        clock could keep a hair short of the next token forever.
        """
        async with self._lock:
            wait = self.wait_time()
            self._tokens -= 1.0
        if wait > 0:
            await self._sleep(wait)
        return wait

    def pause_for(self, seconds: float) -> None:
        self._refill()
        self._paused_until = max(self._paused_until, self._clock() + seconds)
        self._tokens = min(self._tokens, 0.0)  # keep any reserved debt


def limiter_from_rate_limits(
    rate_limits: Mapping[str, Any] | None,
    *,
    default_per_minute: float,
    clock: Clock = time.monotonic,
    sleep: Sleep = anyio.sleep,
) -> TokenBucket:
    """A bucket from `rate_limits` JSON: `{"requests_per_minute": 100, "burst": 10}`
    (or `requests_per_second`); the platform's documented default otherwise."""
    limits = rate_limits or {}
    per_minute = limits.get("requests_per_minute")
    per_second = limits.get("requests_per_second")
    if isinstance(per_second, int | float) and per_second > 0:
        rate, per = float(per_second), 1.0
    elif isinstance(per_minute, int | float) and per_minute > 0:
        rate, per = float(per_minute), 60.0
    else:
        rate, per = default_per_minute, 60.0
    burst = limits.get("burst")
    return TokenBucket(
        rate,
        per,
        float(burst) if isinstance(burst, int | float) and burst > 0 else None,
        clock=clock,
        sleep=sleep,
    )


class CircuitState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    """Opens after `failure_threshold` consecutive failures; after `reset_timeout` seconds
    lets one trial call through (half open): success closes it, failure opens it again."""

    def __init__(
        self,
        failure_threshold: int = 5,
        reset_timeout: float = 30.0,
        *,
        clock: Clock = time.monotonic,
    ) -> None:
        self.failure_threshold = failure_threshold
        self.reset_timeout = reset_timeout
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self._trial_in_flight = False

    @property
    def state(self) -> CircuitState:
        if self._opened_at is None:
            return CircuitState.CLOSED
        if self._clock() - self._opened_at >= self.reset_timeout:
            return CircuitState.HALF_OPEN
        return CircuitState.OPEN

    def seconds_until_trial(self) -> float:
        if self._opened_at is None:
            return 0.0
        return max(0.0, self.reset_timeout - (self._clock() - self._opened_at))

    def retry_at(self) -> datetime:
        return datetime.now(UTC) + timedelta(seconds=self.seconds_until_trial())

    def allow(self) -> bool:
        """Whether a call may go out now; in half-open state only one trial at a time."""
        state = self.state
        if state is CircuitState.CLOSED:
            return True
        if state is CircuitState.HALF_OPEN and not self._trial_in_flight:
            self._trial_in_flight = True
            return True
        return False

    def record_success(self) -> None:
        self._failures = 0
        self._opened_at = None
        self._trial_in_flight = False

    def record_failure(self) -> None:
        self._trial_in_flight = False
        if self._opened_at is not None:  # the half-open trial failed: open a new window
            self._opened_at = self._clock()
            return
        self._failures += 1
        if self._failures >= self.failure_threshold:
            self._opened_at = self._clock()

    def release_trial(self) -> None:
        """The trial call ended without telling us anything (e.g. a 4xx): allow another."""
        self._trial_in_flight = False


class ResilienceRegistry:
    """One breaker per (tenant, platform) and one limiter per tool configuration, shared by
    every adapter instance a process builds, so state survives per-call adapters."""

    def __init__(
        self,
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = anyio.sleep,
        failure_threshold: int = 5,
        reset_timeout: float = 30.0,
    ) -> None:
        self.clock = clock
        self.sleep = sleep
        self.failure_threshold = failure_threshold
        self.reset_timeout = reset_timeout
        self._breakers: dict[tuple[str, str], CircuitBreaker] = {}
        self._limiters: dict[tuple[str, str], TokenBucket] = {}
        self._counters: dict[tuple[str, str], Any] = {}

    def breaker(self, tenant: str, platform: str) -> CircuitBreaker:
        key = (tenant, platform)
        if key not in self._breakers:
            self._breakers[key] = CircuitBreaker(
                self.failure_threshold, self.reset_timeout, clock=self.clock
            )
        return self._breakers[key]

    def counter(self, tenant: str, platform: str, factory: Callable[[], T]) -> T:
        """The usage counter of a (tenant, platform): adapters are rebuilt per call or per
        cache period, and calls they made but nobody flushed yet must not be lost with them.
        `factory` makes it the first time (the counter type lives in the HTTP layer)."""
        key = (tenant, platform)
        if key not in self._counters:
            self._counters[key] = factory()
        found: T = self._counters[key]
        return found

    def limiter(
        self,
        tenant: str,
        platform: str,
        rate_limits: Mapping[str, Any] | None,
        default_per_minute: float,
    ) -> TokenBucket:
        key = (tenant, platform)
        if key not in self._limiters:
            self._limiters[key] = limiter_from_rate_limits(
                rate_limits,
                default_per_minute=default_per_minute,
                clock=self.clock,
                sleep=self.sleep,
            )
        return self._limiters[key]


DEFAULT_REGISTRY = ResilienceRegistry()
