from __future__ import annotations

import logging
from collections.abc import Callable

import httpx
import pytest

from orchestration.platforms.errors import (
    CircuitOpenError,
    PlatformTimeoutError,
    PlatformUnavailableError,
    RateLimitedError,
)
from orchestration.platforms.http import PlatformHttp
from orchestration.platforms.resilience import (
    CircuitBreaker,
    CircuitState,
    RetryPolicy,
    TokenBucket,
)
from tests.unit.orchestration.platforms.conftest import FakeClock

SECRET = "tok_supersecret_value_987"


def make_http(
    handler: Callable[[httpx.Request], httpx.Response], clock: FakeClock, **policy: float
) -> PlatformHttp:
    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return PlatformHttp(
        client,
        platform="demo",
        base_url="https://api.example.test/v1",
        headers={"Authorization": SECRET},
        limiter=TokenBucket(600, clock=clock, sleep=clock.sleep),
        breaker=CircuitBreaker(3, 30, clock=clock),
        policy=RetryPolicy(**policy),  # type: ignore[arg-type]
        secrets=[SECRET],
    )


async def test_429_with_retry_after_is_retried_and_pauses_the_limiter(clock: FakeClock) -> None:
    answers = [httpx.Response(429, headers={"Retry-After": "2"}), httpx.Response(200, json={})]
    http = make_http(lambda request: answers.pop(0), clock)
    response = await http.request("POST", "/things", json={})
    assert response.status_code == 200
    assert clock.sleeps and clock.sleeps[0] >= 2  # the limiter waited out the Retry-After
    assert http.counter.calls == 1 and http.counter.errors == 0


async def test_retry_after_beyond_the_budget_fails_fast_with_retry_at(clock: FakeClock) -> None:
    seen: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(1)
        return httpx.Response(429, headers={"Retry-After": "600"})

    http = make_http(handler, clock, max_retry_after=20)
    with pytest.raises(RateLimitedError) as info:
        await http.request("GET", "/things")
    assert len(seen) == 1  # not retried: waiting 10 minutes would hold a worker
    assert info.value.retry_at is not None
    assert http.breaker.state is CircuitState.CLOSED  # throttled is not broken


async def test_5xx_retried_for_get_but_not_for_a_plain_post(clock: FakeClock) -> None:
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.method)
        return httpx.Response(503)

    http = make_http(handler, clock)
    with pytest.raises(PlatformUnavailableError, match="HTTP 503"):
        await http.request("GET", "/x")
    assert calls.count("GET") == 3  # stamina testing mode: 3 attempts, no waiting
    with pytest.raises(PlatformUnavailableError):
        await http.request("POST", "/x", json={})
    assert calls.count("POST") == 1
    with pytest.raises(PlatformUnavailableError):
        await http.request("POST", "/x", json={}, idempotent=True)
    assert calls.count("POST") == 4


async def test_read_timeout_on_post_reports_outcome_unknown(clock: FakeClock) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    http = make_http(handler, clock)
    with pytest.raises(PlatformTimeoutError, match="may still have been applied"):
        await http.request("POST", "/x", json={})


async def test_circuit_opens_after_failures_and_half_opens_after_the_timeout(
    clock: FakeClock,
) -> None:
    state = {"status": 500}
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(state["status"])

    http = make_http(handler, clock)
    for _ in range(3):
        with pytest.raises(PlatformUnavailableError):
            await http.request("POST", "/x")
    sent = len(calls)
    with pytest.raises(CircuitOpenError) as info:
        await http.request("POST", "/x")
    assert len(calls) == sent  # refused without calling
    assert info.value.retryable
    clock.advance(30)
    state["status"] = 200
    assert (await http.request("POST", "/x")).status_code == 200  # the half-open trial
    assert http.breaker.state is CircuitState.CLOSED


async def test_connection_refused_is_retried_then_unavailable_without_the_secret(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"refused with {SECRET}", request=request)

    caplog.set_level(logging.DEBUG)
    http = make_http(handler, clock)
    with pytest.raises(PlatformUnavailableError) as info:
        await http.request("POST", "/x", json={})
    assert SECRET not in str(info.value)
    assert SECRET not in repr(http)
    assert SECRET not in caplog.text
    assert all(SECRET not in str(record.__dict__) for record in caplog.records)
    assert http.counter.errors == 1
