"""One request path for every adapter: circuit breaker, rate limiter, retries, counters,
the audit trail of outbound calls and the rate-limit wait metric.

`PlatformHttp.request()` answers the platform's response for 2xx-4xx (the adapter maps
its own error bodies), and raises a PlatformError for what retries could not fix:
429 past the budget, 5xx, timeouts, refused connections, an open circuit. Known secret
values are scrubbed from every message it raises.

Audit: every HTTP request that goes out (each retry attempt is one) becomes one
`OutboundCall` (http_audit.py) in the configuration's CallCounter. Nothing is written
here, so a call costs no database round trip: `usage.flush_counter` writes the pending
calls in one batch with the usage counters.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import stamina

from orchestration.platforms.errors import (
    CircuitOpenError,
    PlatformError,
    PlatformTimeoutError,
    PlatformUnavailableError,
    RateLimitedError,
)
from orchestration.platforms.http_audit import OutboundCall, current_caller, operation_name
from orchestration.platforms.resilience import (
    RATE_LIMIT_WAIT_SECONDS,
    CircuitBreaker,
    RetryableResponse,
    RetryPolicy,
    TokenBucket,
    retry_after_seconds,
)
from shared.audit import argument_digest

__all__ = ["CallCounter", "PlatformHttp", "scrub"]

logger = logging.getLogger(__name__)

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})


def scrub(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return text


@dataclass
class CallCounter:
    """Calls made and failed, and the outbound calls not yet audited; the usage recorder
    drains it with `take()` / `take_audit()`. `calls` only grows (adapters subtract two
    readings to count one execution's calls); `take()` answers what came since the last."""

    calls: int = 0
    errors: int = 0
    last_call: datetime | None = None
    last_error: str | None = field(default=None, repr=False)
    pending: list[OutboundCall] = field(default_factory=list[OutboundCall], repr=False)
    _taken_calls: int = field(default=0, repr=False)
    _taken_errors: int = field(default=0, repr=False)

    def take(self) -> tuple[int, int, datetime | None]:
        taken = (self.calls - self._taken_calls, self.errors - self._taken_errors, self.last_call)
        self._taken_calls, self._taken_errors = self.calls, self.errors
        return taken

    def take_audit(self) -> list[OutboundCall]:
        taken, self.pending = self.pending, []
        return taken


class _TransportFailure(Exception):
    """An httpx transport error with its text scrubbed: stamina logs the repr of what it
    retries, and a transport error's text is not ours to vouch for."""

    def __init__(self, original: httpx.TransportError, message: str) -> None:
        super().__init__(message)
        self.original_type = type(original)


class _ExceededRetryAfter(Exception):
    def __init__(self, response: httpx.Response, wait: float) -> None:
        super().__init__("retry-after beyond budget")
        self.response = response
        self.wait = wait


class PlatformHttp:
    """Sends requests for one platform and one tool configuration."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        platform: str,
        base_url: str,
        headers: Mapping[str, str],
        limiter: TokenBucket,
        breaker: CircuitBreaker,
        policy: RetryPolicy | None = None,
        secrets: Iterable[str] = (),
        timeout: float = 30.0,
        tenant_id: uuid.UUID | None = None,
        counter: CallCounter | None = None,
    ) -> None:
        """`counter` is shared by every PlatformHttp of one configuration (the registry
        keeps it), so calls not yet flushed survive an adapter being rebuilt."""
        self.client = client
        self.platform = platform
        self.base_url = base_url.rstrip("/")
        self._headers = dict(headers)
        self.limiter = limiter
        self.breaker = breaker
        self.policy = policy or RetryPolicy()
        self._secrets = tuple(s for s in secrets if s)
        self.timeout = timeout
        self.tenant_id = tenant_id
        self.counter = counter if counter is not None else CallCounter()

    def __repr__(self) -> str:
        return f"PlatformHttp(platform={self.platform!r}, base_url={self.base_url!r})"

    def scrub(self, text: str) -> str:
        return scrub(text, self._secrets)

    def url(self, path: str) -> str:
        return path if path.startswith(("http://", "https://")) else f"{self.base_url}{path}"

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - per-request httpx timeout
        passthrough: Collection[int] = (),
    ) -> httpx.Response:
        """Send once through the breaker and limiter, retrying what is safe to retry.

        `idempotent` (default: GET/PUT/DELETE, or a request carrying an idempotency key)
        decides whether read timeouts and 5xx are retried: a POST that may have been
        applied is not sent twice. 429 and refused connections are always retried.
        Statuses in `passthrough` are answered as they are (no retry), for platforms whose
        5xx means something specific (Make's responsive-run timeout).
        """
        method = method.upper()
        safe = method in IDEMPOTENT_METHODS if idempotent is None else idempotent
        if not self.breaker.allow():
            raise CircuitOpenError(
                f"{self.platform} is failing; calls are paused until the circuit breaker "
                f"tries again in {self.breaker.seconds_until_trial():.0f}s",
                platform=self.platform,
                retry_at=self.breaker.retry_at(),
            )
        merged = {**self._headers, **(headers or {})}
        try:
            response = await self._send_with_retries(
                method, self.url(path), json, params, merged, safe, timeout, passthrough
            )
        except PlatformError as exc:
            self._count(error=True)
            if isinstance(exc, RateLimitedError):
                self.breaker.release_trial()  # throttled, not broken
            else:
                self.breaker.record_failure()
            raise
        self._count(error=response.status_code >= 400)
        if response.status_code < 500 or response.status_code in passthrough:
            self.breaker.record_success()
        return response

    def _count(self, *, error: bool) -> None:
        self.counter.calls += 1
        self.counter.last_call = datetime.now(UTC)
        if error:
            self.counter.errors += 1

    @staticmethod
    def _hook(safe: bool) -> Callable[[Exception], bool | float]:
        def backoff(exc: Exception) -> bool | float:
            if isinstance(exc, RetryableResponse):
                if exc.response.status_code == 429:
                    return exc.wait_hint if exc.wait_hint is not None else True
                return safe
            if isinstance(exc, _TransportFailure):
                if issubclass(
                    exc.original_type, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout
                ):
                    return True  # never reached the platform
                return safe
            return False

        return backoff

    async def _send_with_retries(
        self,
        method: str,
        url: str,
        json: Any,
        params: Mapping[str, Any] | None,
        headers: dict[str, str],
        safe: bool,
        timeout: float | None,  # noqa: ASYNC109
        passthrough: Collection[int],
    ) -> httpx.Response:
        policy = self.policy
        started = time.monotonic()
        operation = operation_name(method, self.base_url, url)
        digest = argument_digest({"method": method, "url": url, "params": params, "json": json})
        throttled_at: float | None = None  # when the last attempt was answered 429
        try:
            async for attempt in stamina.retry_context(
                on=self._hook(safe),
                attempts=policy.attempts,
                timeout=policy.timeout,
                wait_initial=policy.wait_initial,
                wait_max=policy.wait_max,
            ):
                with attempt:
                    if throttled_at is not None:  # the backoff honouring the 429's reset
                        RATE_LIMIT_WAIT_SECONDS.labels(self.platform, "retry_after").inc(
                            max(0.0, time.monotonic() - throttled_at)
                        )
                        throttled_at = None
                    waited = await self.limiter.acquire()
                    if waited > 0:
                        RATE_LIMIT_WAIT_SECONDS.labels(self.platform, "token_bucket").inc(waited)
                    sent = time.monotonic()
                    try:
                        response = await self.client.request(
                            method,
                            url,
                            json=json,
                            params=params,
                            headers=headers,
                            timeout=timeout or self.timeout,
                        )
                    except httpx.TransportError as exc:
                        self._audit(operation, digest, attempt.num, sent, None, type(exc).__name__)
                        raise _TransportFailure(exc, self.scrub(str(exc))) from None
                    self._audit(operation, digest, attempt.num, sent, response.status_code, None)
                    if response.status_code == 429:
                        throttled_at = time.monotonic()
                    if response.status_code not in passthrough:
                        self._check_retryable(response, started)
                    return response
        except _ExceededRetryAfter as exc:
            raise self._rate_limited(exc.response, exc.wait) from None
        except RetryableResponse as exc:
            if exc.response.status_code == 429:
                raise self._rate_limited(exc.response, exc.wait_hint) from None
            raise PlatformUnavailableError(
                self.scrub(
                    f"{self.platform} answered HTTP {exc.response.status_code} "
                    f"to {method} {httpx.URL(url).path}"
                    f"{' after retries' if safe else ''}; the platform is failing, try later "
                    "or route to the fallback platform"
                ),
                platform=self.platform,
                status_code=exc.response.status_code,
            ) from None
        except _TransportFailure as exc:
            kind = exc.original_type.__name__
            if issubclass(exc.original_type, httpx.TimeoutException) and not issubclass(
                exc.original_type, httpx.ConnectTimeout
            ):
                raise PlatformTimeoutError(
                    f"{self.platform} did not answer {method} {httpx.URL(url).path} within "
                    f"{timeout or self.timeout:.0f}s ({kind})"
                    + ("" if safe else "; the request may still have been applied"),
                    platform=self.platform,
                ) from None
            raise PlatformUnavailableError(
                self.scrub(
                    f"{self.platform} could not be reached at {httpx.URL(url).host} "
                    f"({kind}); check api_endpoint or whether it is running"
                ),
                platform=self.platform,
            ) from None
        raise AssertionError("unreachable: stamina yields until success or raises")

    def _audit(
        self,
        operation: str,
        digest: str,
        attempt: int,
        sent: float,
        status: int | None,
        error: str | None,
    ) -> None:
        self.counter.pending.append(
            OutboundCall(
                tenant_id=self.tenant_id,
                platform=self.platform,
                operation=operation,
                caller=current_caller(),
                outcome="ok" if status is not None and status < 400 else "error",
                status_code=status,
                duration_ms=int((time.monotonic() - sent) * 1000),
                digest=digest,
                attempt=attempt,
                at=datetime.now(UTC),
                error=error,
            )
        )

    def _check_retryable(
        self,
        response: httpx.Response,
        started: float,
    ) -> None:
        status = response.status_code
        if status == 429:
            wait = retry_after_seconds(response.headers)
            elapsed = time.monotonic() - started
            if wait is not None:
                if wait > self.policy.max_retry_after or elapsed + wait > self.policy.timeout:
                    self.limiter.pause_for(wait)
                    raise _ExceededRetryAfter(response, wait)
                self.limiter.pause_for(wait)
            raise RetryableResponse(response, wait)
        if status >= 500:
            raise RetryableResponse(response, None)

    def _rate_limited(self, response: httpx.Response, wait: float | None) -> RateLimitedError:
        retry_at = datetime.now(UTC) + timedelta(seconds=wait) if wait is not None else None
        when = f"after {retry_at.isoformat(timespec='seconds')}" if retry_at else "later"
        return RateLimitedError(
            f"{self.platform} rate limit reached (HTTP 429) and the retry budget of "
            f"{self.policy.timeout:.0f}s is spent; try again {when} or route elsewhere",
            platform=self.platform,
            status_code=429,
            retry_at=retry_at,
        )
