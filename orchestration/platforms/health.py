"""The health monitor: checks every configured tool and keeps its health fields current.

`check_all()` is one pass (the CLI and tests call it); `run_health_monitor()` repeats it
every `interval_s` until cancelled, for `switchboard serve`/`worker` to start in a task
group. Each check is one cheap authenticated call through the adapter, so it also
drives the circuit breaker's half-open trial.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

import anyio
import httpx

from orchestration.platforms.base import ConnectionStatus, ToolStatus
from orchestration.platforms.config_store import ToolConfig, list_tool_configs
from orchestration.platforms.http_audit import outbound_caller
from orchestration.platforms.resilience import DEFAULT_REGISTRY, ResilienceRegistry
from orchestration.platforms.tools import Adapter, build_adapter
from orchestration.platforms.usage import flush_counter, record_health
from shared.crypto import CredentialCipher
from shared.db.database import Database
from shared.errors import SwitchboardError

__all__ = ["HEALTH_MONITOR", "AdapterFactory", "check_all", "run_health_monitor"]

HEALTH_MONITOR = "health-monitor"  # the actor of its calls in the audit log

logger = logging.getLogger(__name__)

AdapterFactory = Callable[[httpx.AsyncClient, ToolConfig, ResilienceRegistry], Adapter]


async def check_all(
    db: Database,
    cipher: CredentialCipher,
    client: httpx.AsyncClient,
    *,
    registry: ResilienceRegistry = DEFAULT_REGISTRY,
    factory: AdapterFactory = build_adapter,
) -> list[ToolStatus]:
    """Check every configured tool of every tenant and store the results."""
    statuses: list[ToolStatus] = []
    for config in await list_tool_configs(db, cipher):
        try:
            adapter = factory(client, config, registry)
        except SwitchboardError as exc:  # misconfigured: record why, keep checking others
            status = ToolStatus(
                name=config.tool_name,
                connection_status=ConnectionStatus.DOWN,
                checked_at=datetime.now(UTC),
                detail=str(exc),
            )
        else:
            with outbound_caller(HEALTH_MONITOR):
                status = await adapter.get_status()
            # Also writes the audit rows of calls a worker made and has not flushed yet.
            await flush_counter(db, config.tenant_id, config.tool_name, adapter.http.counter)
        await record_health(db, config.tenant_id, config.tool_name, status)
        statuses.append(status)
    return statuses


async def run_health_monitor(
    db: Database,
    cipher: CredentialCipher,
    client: httpx.AsyncClient,
    *,
    interval_s: float = 60.0,
    registry: ResilienceRegistry = DEFAULT_REGISTRY,
) -> None:
    """Check all tools every `interval_s` seconds until cancelled."""
    while True:
        try:
            await check_all(db, cipher, client, registry=registry)
        except SwitchboardError as exc:  # e.g. the database is briefly unavailable
            logger.warning("health check pass failed: %s", exc)
        await anyio.sleep(interval_s)
