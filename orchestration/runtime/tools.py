"""Each tenant's platform adapters for a worker, and the ClickUp/Apify step services on them.

Adapters are built from `external_tool_configs` by `load_tenant_tools` and kept for
`ttl_s` seconds, so a `switchboard tools configure` reaches a running worker within that
time; breakers and rate limiters live in the shared ResilienceRegistry, so rebuilding an
adapter forgets nothing about a platform's health.

The step services translate platform errors into the engine's two kinds: what a later
attempt may fix (429 past the budget, 5xx, unreachable, open circuit, timeout) is
transient, and the queue retries the event with the same idempotency key; what it will not
fix (credentials refused, a bad request, a missing list) fails the step with the
platform's own message.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Generator
from contextlib import contextmanager
from typing import Any

import httpx

from orchestration.platforms.apify import ApifyAdapter
from orchestration.platforms.clickup import ClickUpAdapter
from orchestration.platforms.clickup_sync import ClickUpSyncSettings
from orchestration.platforms.engine_services import ApifyRunService, ClickUpTaskService
from orchestration.platforms.errors import PlatformError
from orchestration.platforms.resilience import DEFAULT_REGISTRY, ResilienceRegistry
from orchestration.platforms.tools import TenantTools, load_tenant_tools
from orchestration.platforms.usage import flush_counter
from orchestration.runtime.tenancy import TenantCache, current_tenant
from orchestration.workflows.errors import StepFailedError, TransientStepError
from shared.crypto import CredentialCipher
from shared.db.database import Database
from shared.errors import SwitchboardError

__all__ = ["TenantApify", "TenantClickUp", "WorkerTools", "platform_step_errors"]

CipherSource = Callable[[], CredentialCipher]


class WorkerTools:
    """The tenants' adapters, cached; `cipher()` raises ConfigError when no key is set."""

    def __init__(
        self,
        db: Database,
        cipher: CipherSource,
        client: httpx.AsyncClient,
        *,
        registry: ResilienceRegistry = DEFAULT_REGISTRY,
        ttl_s: float = 30.0,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.db = db
        self.client = client
        self.registry = registry
        self._cipher = cipher

        async def build(tenant_id: uuid.UUID) -> TenantTools:
            return await load_tenant_tools(db, self._cipher(), tenant_id, client, registry=registry)

        extra: dict[str, Any] = {"clock": clock} if clock is not None else {}
        self._cache: TenantCache[TenantTools] = TenantCache(build, ttl_s=ttl_s, **extra)

    async def for_tenant(self, tenant_id: uuid.UUID) -> TenantTools:
        return await self._cache.get(tenant_id)

    def invalidate(self, tenant_id: uuid.UUID | None = None) -> None:
        self._cache.invalidate(tenant_id)

    async def record_usage(self, tenant_id: uuid.UUID, tools: TenantTools) -> None:
        """Move the adapters' call counters into `external_tool_configs` usage columns."""
        for name, adapter in tools.adapters.items():
            if adapter.http.counter.calls:
                await flush_counter(self.db, tenant_id, name, adapter.http.counter)

    async def adapter(self, tool: str, what: str) -> Any:
        """The current tenant's adapter for `tool`, or StepFailedError saying why not."""
        tenant = current_tenant()
        try:
            tools = await self.for_tenant(tenant)
        except SwitchboardError as exc:  # no secret key, or credentials it cannot open
            raise StepFailedError(f"{what}: {exc}") from None
        found = tools.adapters.get(tool)
        if found is None:
            reason = tools.unusable.get(tool) or (
                f"{tool} is not configured for this tenant; add it with "
                f"`switchboard tools configure {tool} --endpoint URL --credential ...`"
            )
            raise StepFailedError(f"{what}: {reason}")
        return found


@contextmanager
def platform_step_errors(what: str) -> Generator[None]:
    """PlatformError (and configuration errors) as the step engine's error kinds."""
    try:
        yield
    except PlatformError as exc:
        message = f"{what}: {exc}"
        raise (TransientStepError if exc.retryable else StepFailedError)(message) from None
    except (StepFailedError, TransientStepError):
        raise
    except SwitchboardError as exc:  # ConfigError: missing list id, missing credential field
        raise StepFailedError(f"{what}: {exc}") from None


class TenantClickUp:
    """Implements ClickUpTasks for the current event's tenant."""

    def __init__(self, tools: WorkerTools) -> None:
        self.tools = tools

    async def create_task(self, task: dict[str, Any], *, idempotency_key: str) -> dict[str, Any]:
        what = "create_clickup_task"
        with platform_step_errors(what):
            adapter = await self.tools.adapter("clickup", what)
            assert isinstance(adapter, ClickUpAdapter)
            settings = ClickUpSyncSettings.from_settings(adapter.config.settings)
            try:
                return await ClickUpTaskService(adapter, settings).create_task(
                    task, idempotency_key=idempotency_key
                )
            finally:
                await self.tools.record_usage(
                    current_tenant(), await self.tools.for_tenant(current_tenant())
                )
        raise AssertionError("unreachable")  # the context manager re-raises every error


class TenantApify:
    """Implements ApifyRunner for the current event's tenant."""

    def __init__(self, tools: WorkerTools) -> None:
        self.tools = tools

    async def run_actor(
        self, actor: str, run_input: dict[str, Any], *, idempotency_key: str
    ) -> dict[str, Any]:
        what = "run_apify_actor"
        with platform_step_errors(what):
            adapter = await self.tools.adapter("apify", what)
            assert isinstance(adapter, ApifyAdapter)
            try:
                return await ApifyRunService(adapter).run_actor(
                    actor, run_input, idempotency_key=idempotency_key
                )
            finally:  # usage and the outbound audit rows are written now, not at a later flush
                await self.tools.record_usage(
                    current_tenant(), await self.tools.for_tenant(current_tenant())
                )
        raise AssertionError("unreachable")
