"""Which tenant the current event belongs to, for services shared by every tenant.

`Services` is built once per worker, but a step's CRM, ClickUp or Apify calls must reach the
tenant of the event being handled. The worker runs each event in its own task, so a context
variable set when the handler starts is seen by every service that event calls, and by no
other event's.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable, Generator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Generic, TypeVar

import anyio

from orchestration.queue.types import ClaimedEvent, EventHandler, HandlerOutcome

__all__ = ["TenantCache", "TenantScopedHandler", "current_tenant", "tenant_scope"]

T = TypeVar("T")

_tenant: ContextVar[uuid.UUID | None] = ContextVar("switchboard_event_tenant", default=None)


def current_tenant() -> uuid.UUID:
    """The tenant of the event being handled; RuntimeError outside a handler (a bug)."""
    tenant = _tenant.get()
    if tenant is None:
        raise RuntimeError("no event tenant in this context: call services from a handler")
    return tenant


@contextmanager
def tenant_scope(tenant_id: uuid.UUID) -> Generator[uuid.UUID]:
    """Set the current tenant for a block (the handler does this per event; tests too)."""
    token = _tenant.set(tenant_id)
    try:
        yield tenant_id
    finally:
        _tenant.reset(token)


class TenantScopedHandler:
    """Wraps an EventHandler so every service it calls sees the event's tenant."""

    def __init__(self, inner: EventHandler) -> None:
        self.inner = inner

    async def __call__(self, event: ClaimedEvent) -> HandlerOutcome:
        token = _tenant.set(event.tenant_id)  # tenant_scope's work, without its generator
        try:
            return await self.inner(event)
        finally:
            _tenant.reset(token)


class TenantCache(Generic[T]):
    """One value per tenant, built on first use and rebuilt after `ttl_s` seconds (so a
    configuration change reaches a running worker), one build at a time per cache."""

    def __init__(
        self,
        build: Callable[[uuid.UUID], Awaitable[T]],
        *,
        ttl_s: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._build = build
        self._ttl_s = ttl_s
        self._clock = clock
        self._values: dict[uuid.UUID, tuple[float, T]] = {}
        self._lock = anyio.Lock()

    async def get(self, tenant_id: uuid.UUID) -> T:
        found = self._fresh(tenant_id)
        if found is not None:
            return found[1]
        async with self._lock:
            found = self._fresh(tenant_id)
            if found is None:
                found = (self._clock(), await self._build(tenant_id))
                self._values[tenant_id] = found
        return found[1]

    def invalidate(self, tenant_id: uuid.UUID | None = None) -> None:
        if tenant_id is None:
            self._values.clear()
        else:
            self._values.pop(tenant_id, None)

    def _fresh(self, tenant_id: uuid.UUID) -> tuple[float, T] | None:
        found = self._values.get(tenant_id)
        if found is None:
            return None
        if self._ttl_s is not None and self._clock() - found[0] > self._ttl_s:
            return None
        return found
