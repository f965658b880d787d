"""PlatformHttp notes each request it sends for the audit log, and the rate-limit waits."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import httpx
import pytest
from prometheus_client import REGISTRY

from orchestration.platforms.errors import PlatformUnavailableError
from orchestration.platforms.http import CallCounter, PlatformHttp
from orchestration.platforms.http_audit import current_caller, operation_name, outbound_caller
from orchestration.platforms.resilience import CircuitBreaker, RetryPolicy, TokenBucket
from tests.unit.orchestration.platforms.conftest import FakeClock

SECRET = "tok_supersecret_value_987"


def make_http(
    handler: Callable[[httpx.Request], httpx.Response],
    clock: FakeClock,
    *,
    platform: str = "demo",
    rate: float = 600,
    counter: CallCounter | None = None,
) -> PlatformHttp:
    return PlatformHttp(
        httpx.AsyncClient(transport=httpx.MockTransport(handler)),
        platform=platform,
        base_url="https://api.example.test/v2",
        headers={"Authorization": SECRET},
        limiter=TokenBucket(rate, burst=1, clock=clock, sleep=clock.sleep),
        breaker=CircuitBreaker(3, 30, clock=clock),
        policy=RetryPolicy(),
        secrets=[SECRET],
        tenant_id=uuid.UUID(int=7),
        counter=counter,
    )


def wait_seconds(platform: str, source: str) -> float:
    value = REGISTRY.get_sample_value(
        "switchboard_platform_rate_limit_wait_seconds_total",
        {"platform": platform, "source": source},
    )
    return value or 0.0


def test_operation_names_hide_ids_and_foreign_hook_paths() -> None:
    base = "https://api.clickup.com/api/v2"
    assert operation_name("POST", base, f"{base}/list/901/task") == "POST /list/{id}/task"
    assert operation_name("GET", base, f"{base}/task/abc9x") == "GET /task/{id}"
    assert operation_name("GET", base, f"{base}/user") == "GET /user"
    hook = "https://hook.eu1.make.com/sl2kdfj3l4kjsdf98sdfkj3"
    assert operation_name("POST", base, hook) == "POST hook.eu1.make.com/{id}"


async def test_each_attempt_is_one_pending_call_with_the_caller_and_no_secret(
    clock: FakeClock,
) -> None:
    answers = [httpx.Response(503), httpx.Response(200, json={"ok": True})]
    http = make_http(lambda request: answers.pop(0), clock)
    with outbound_caller("workflow:Sync", role="worker", execution_id="e-1"):
        assert current_caller().actor == "workflow:Sync"
        await http.request("GET", "/task/42", params={"q": "Smile Dental"})
    assert current_caller().actor == "system"  # the block's attribution ended with it
    calls = http.counter.take_audit()
    assert [(c.status_code, c.outcome, c.attempt) for c in calls] == [
        (503, "error", 1),
        (200, "ok", 2),
    ]
    first = calls[0]
    assert first.operation == "GET /task/{id}" and first.platform == "demo"
    assert first.caller.actor == "workflow:Sync" and first.caller.execution_id == "e-1"
    assert first.tenant_id == uuid.UUID(int=7)
    assert first.digest.startswith("sha256:") and first.digest == calls[1].digest
    assert SECRET not in repr(calls) and "Smile" not in repr(calls)
    assert http.counter.take_audit() == []


async def test_a_refused_connection_is_audited_as_an_error_without_a_status(
    clock: FakeClock,
) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    http = make_http(refuse, clock)
    with pytest.raises(PlatformUnavailableError):
        await http.request("POST", "/things", json={"a": 1})
    calls = http.counter.take_audit()
    assert calls and all(c.status_code is None and c.error == "ConnectError" for c in calls)


async def test_a_shared_counter_outlives_the_http_object(clock: FakeClock) -> None:
    counter = CallCounter()
    await make_http(lambda r: httpx.Response(200), clock, counter=counter).request("GET", "/a")
    await make_http(lambda r: httpx.Response(200), clock, counter=counter).request("GET", "/b")
    assert counter.take()[:2] == (2, 0)
    assert counter.calls == 2  # only grows: adapters subtract two readings
    assert counter.take()[:2] == (0, 0)
    assert len(counter.take_audit()) == 2


async def test_token_bucket_waits_are_counted_per_platform(clock: FakeClock) -> None:
    platform = f"bucket-{uuid.uuid4().hex[:6]}"
    http = make_http(lambda r: httpx.Response(200), clock, platform=platform, rate=60)
    for _ in range(3):  # one token a second, burst 1: the 2nd and 3rd wait a second each
        await http.request("GET", "/x")
    assert wait_seconds(platform, "token_bucket") == pytest.approx(2.0)
    assert wait_seconds(platform, "retry_after") == 0.0


async def test_the_backoff_after_a_429_is_counted_as_a_retry_after_wait(clock: FakeClock) -> None:
    platform = f"throttled-{uuid.uuid4().hex[:6]}"
    answers = [httpx.Response(429, headers={"Retry-After": "2"}), httpx.Response(200)]
    http = make_http(lambda r: answers.pop(0), clock, platform=platform)
    await http.request("GET", "/x")
    # The limiter was paused until the reset: the retry waited it out on the (fake) clock;
    # stamina's own backoff (instant under test) is recorded as the retry_after wait.
    assert wait_seconds(platform, "token_bucket") >= 2.0
    assert (
        REGISTRY.get_sample_value(
            "switchboard_platform_rate_limit_wait_seconds_total",
            {"platform": platform, "source": "retry_after"},
        )
        is not None
    )
