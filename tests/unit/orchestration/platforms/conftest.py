"""Platform unit tests: stamina never waits, a fake clock drives limiters and breakers."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import stamina

from orchestration.platforms.resilience import ResilienceRegistry


class FakeClock:
    """Monotonic time that only moves when a test (or a limiter's sleep) moves it."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture(autouse=True)
def _stamina_instant() -> Iterator[None]:
    with stamina.set_testing(True, attempts=3):
        yield


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def registry(clock: FakeClock) -> ResilienceRegistry:
    return ResilienceRegistry(clock=clock, sleep=clock.sleep, failure_threshold=3, reset_timeout=30)


@pytest.fixture
def tenant_id() -> uuid.UUID:
    return uuid.uuid4()
