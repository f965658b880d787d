"""What the four HTTP adapters share: building their PlatformHttp, mapping error answers,
and the get_status/validate_connection pair built on one cheap authenticated call."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import httpx

from orchestration.platforms.base import ConnectionStatus, ToolStatus
from orchestration.platforms.config_store import ToolConfig
from orchestration.platforms.errors import (
    PlatformAuthError,
    PlatformError,
    PlatformNotFoundError,
    PlatformRequestError,
    PlatformTimeoutError,
    PlatformUnavailableError,
    RateLimitedError,
)
from orchestration.platforms.http import CallCounter, PlatformHttp
from orchestration.platforms.resilience import (
    DEFAULT_REGISTRY,
    CircuitState,
    ResilienceRegistry,
    RetryPolicy,
)

__all__ = ["HttpAdapterBase", "error_from_response", "json_body"]


def json_body(http: PlatformHttp, response: httpx.Response, what: str) -> Any:
    """The answer's JSON ({} for an empty body). A body that is not JSON (cut off by a proxy,
    an HTML error page) is a PlatformUnavailableError: retryable, and a reason to fail over,
    never a raw JSONDecodeError in the worker's log."""
    if not response.content:
        return {}
    try:
        return response.json()
    except ValueError:
        raise PlatformUnavailableError(
            http.scrub(
                f"{http.platform} answered HTTP {response.status_code} with a body that is not "
                f"JSON ({len(response.content)} bytes) while trying to {what}; treated as a "
                "passing failure"
            ),
            platform=http.platform,
            status_code=response.status_code,
        ) from None


def error_from_response(
    http: PlatformHttp,
    response: httpx.Response,
    what: str,
    message_of: Callable[[Any], str | None],
    code_of: Callable[[Any], str | None] = lambda _body: None,
) -> PlatformError:
    """The specific PlatformError for a 4xx answer, with the platform's own message."""
    try:
        body: Any = response.json()
    except ValueError:
        body = None
    platform_message = message_of(body) if body is not None else None
    detail = f": {platform_message}" if platform_message else ""
    status = response.status_code
    code = code_of(body) if body is not None else None
    platform = http.platform
    if status in (401, 403):
        cls: type[PlatformError] = PlatformAuthError
        text = (
            f"{platform} refused the stored credentials while trying to {what} "
            f"(HTTP {status}{detail}); update them with `switchboard tools configure {platform}`"
        )
    elif status == 404:
        cls = PlatformNotFoundError
        text = f"{platform} could not {what}: not found (HTTP 404{detail}); check the id"
    else:
        cls = PlatformRequestError
        text = f"{platform} rejected the request to {what} (HTTP {status}{detail})"
    return cls(http.scrub(text), platform=platform, status_code=status, code=code)


class HttpAdapterBase:
    """Holds the PlatformHttp and implements status checks through `_probe()`."""

    name: str = ""
    default_per_minute: float = 60.0

    def __init__(
        self,
        client: httpx.AsyncClient,
        config: ToolConfig,
        *,
        base_url: str,
        headers: Mapping[str, str],
        registry: ResilienceRegistry | None = None,
        policy: RetryPolicy | None = None,
        timeout: float = 30.0,
        limit_scope: str | None = None,
    ) -> None:
        """`limit_scope` shares one rate-limit bucket between configurations that draw on
        the same platform quota (a Make organisation, a ClickUp token); default: the tenant."""
        registry = registry or DEFAULT_REGISTRY
        tenant = str(config.tenant_id)
        self.config = config
        self.http = PlatformHttp(
            client,
            platform=self.name,
            base_url=base_url,
            headers=headers,
            limiter=registry.limiter(
                limit_scope or tenant, self.name, config.rate_limits, self.default_per_minute
            ),
            breaker=registry.breaker(tenant, self.name),
            policy=policy,
            secrets=config.credentials.secret_values(),
            timeout=timeout,
            tenant_id=config.tenant_id,
            counter=registry.counter(tenant, self.name, CallCounter),
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.http.base_url!r})"

    async def _probe(self) -> None:
        """One cheap authenticated call; raises PlatformError when it fails."""
        raise NotImplementedError

    async def get_status(self) -> ToolStatus:
        started = time.monotonic()
        breaker_state = self.http.breaker.state
        status = ConnectionStatus.ACTIVE
        detail: str | None = None
        try:
            await self._probe()
        except PlatformAuthError as exc:
            status, detail = ConnectionStatus.UNAUTHORIZED, str(exc)
        except RateLimitedError as exc:
            status, detail = ConnectionStatus.DEGRADED, str(exc)
        except (PlatformUnavailableError, PlatformTimeoutError) as exc:
            status, detail = ConnectionStatus.DOWN, str(exc)
        except PlatformError as exc:
            status, detail = ConnectionStatus.DOWN, str(exc)
        if status is ConnectionStatus.ACTIVE and breaker_state is not CircuitState.CLOSED:
            status = ConnectionStatus.DEGRADED
        return ToolStatus(
            name=self.name,
            connection_status=status,
            checked_at=datetime.now(UTC),
            latency_ms=int((time.monotonic() - started) * 1000),
            circuit_state=self.http.breaker.state.value,
            detail=detail,
        )

    async def validate_connection(self) -> bool:
        try:
            await self._probe()
        except PlatformError:
            return False
        return True
