"""Wiring a worker: the step services, the routed handler, and the background loops.

`open_worker_runtime(settings, db)` is the one function a process that runs workflows
calls (`switchboard worker`, `switchboard serve`, tests). It builds:

- `Services`: the CRM (each tenant's CrmRepository, whose writes publish lifecycle
  events), the analytics engine, ClickUp and Apify from each tenant's tool
  configurations, the email-discovery provider (or an honest "not configured"), the MCP
  caller (our servers in-process when `local_mcp_servers` is given, remote ones over
  streamable HTTP), and one `httpx.AsyncClient`;
- the handler: `WorkflowEventHandler` with the platform dispatcher (routing, failover),
  wrapped so each event's services see its tenant;
- `run_background()`: the schedule loop, the platform health monitor, the poller that
  reads n8n/Make runs still going on back into their executions, and the hourly ClickUp
  reconciliation, until cancelled.

Configuration beyond Settings is read from `SWITCHBOARD_WORKER_*` (RuntimeConfig).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import anyio
import httpx
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings

from orchestration.events.crm_sink import CrmEventSink
from orchestration.execution_journal import ExecutionJournal
from orchestration.platforms.clickup_reconcile_runs import run_reconciliation_loop
from orchestration.platforms.health import run_health_monitor
from orchestration.platforms.resilience import DEFAULT_REGISTRY, ResilienceRegistry
from orchestration.runtime.analyzer import AnalyticsAnalyzer
from orchestration.runtime.crm import TenantWorkflowCrm
from orchestration.runtime.email_finder import HttpEmailFinder, UnconfiguredEmailFinder
from orchestration.runtime.mcp_caller import LocalServerFactory, RegisteredMcpCaller
from orchestration.runtime.platform_runs import PlatformCallbackHandler, run_platform_poller
from orchestration.runtime.routing import PlatformDispatcher, pending_routing
from orchestration.runtime.tenancy import TenantScopedHandler
from orchestration.runtime.tools import TenantApify, TenantClickUp, WorkerTools
from orchestration.workflows.definition_cache import DefinitionCache
from orchestration.workflows.handler import WorkflowEventHandler
from orchestration.workflows.schedules import run_schedule_loop
from orchestration.workflows.services import EmailFinder, Services
from shared.config import Settings, section_config
from shared.crm.factory import open_crm_repository
from shared.crm.repository import CrmRepository
from shared.crypto import CredentialCipher, cipher_from_settings
from shared.db.database import Database

__all__ = ["RuntimeConfig", "WorkerRuntime", "build_services", "open_worker_runtime"]

log = logging.getLogger(__name__)


class RuntimeConfig(BaseSettings):
    """What a worker process runs beside the queue. Durations in seconds."""

    model_config = section_config("WORKER")

    run_schedules: bool = Field(default=True, description="Fire cron/frequency workflow ticks")
    schedule_period_s: float = Field(default=30.0, gt=0, description="How often ticks are due")
    health_check_interval_s: float = Field(
        default=60.0, gt=0, description="How often every configured platform is checked"
    )
    run_health_monitor: bool = Field(default=True, description="Check platforms' health")
    tools_cache_s: float = Field(
        default=30.0, ge=0, description="How long a tenant's tool configuration is reused"
    )
    definitions_cache_s: float = Field(
        default=5.0,
        ge=0,
        description="Longest a tenant's active workflow definitions are reused for matching "
        "(an event published after they were read, or a change made by this process, reads "
        "them again at once)",
    )
    email_finder_url: str | None = Field(
        default=None, description="Email-discovery endpoint (e.g. Anymail Finder person search)"
    )
    email_finder_key: SecretStr | None = Field(default=None, description="Its API key")
    poll_platform_runs: bool = Field(
        default=True, description="Read n8n/Make runs still going on back into executions"
    )
    platform_poll_interval_s: float = Field(
        default=15.0, gt=0, description="How often runs still going on in n8n/Make are read back"
    )
    platform_give_up_after_s: float = Field(
        default=86_400.0, gt=0, description="A platform run with no result after this fails"
    )
    reconcile_interval_s: float = Field(
        default=3600.0,
        ge=0,
        description="How often each tenant's CRM records are compared with their ClickUp "
        "tasks and drift repaired (0: never)",
    )


@dataclass
class WorkerRuntime:
    settings: Settings
    db: Database
    config: RuntimeConfig
    services: Services
    tools: WorkerTools
    handler: TenantScopedHandler
    client: httpx.AsyncClient
    registry: ResilienceRegistry

    def cipher(self) -> CredentialCipher:
        """Raises ConfigError (what to set) when SWITCHBOARD_SECRET_KEY is missing."""
        return cipher_from_settings(self.settings.secret_key)

    async def run_background(self) -> None:
        """The schedule loop, health monitor, run poller and reconciliation, until cancelled."""
        async with anyio.create_task_group() as tasks:
            if self.config.run_schedules:
                tasks.start_soon(
                    _keep_running,
                    "schedule loop",
                    lambda: run_schedule_loop(self.db, period_s=self.config.schedule_period_s),
                    self.config.schedule_period_s,
                )
            if self.config.run_health_monitor:
                if self.settings.secret_key is None:
                    log.info("no SWITCHBOARD_SECRET_KEY: platform health is not monitored")
                else:
                    cipher = self.cipher()
                    interval = self.config.health_check_interval_s
                    tasks.start_soon(
                        _keep_running,
                        "platform health monitor",
                        lambda: run_health_monitor(
                            self.db,
                            cipher,
                            self.client,
                            interval_s=interval,
                            registry=self.registry,
                        ),
                        interval,
                    )
            if self.config.reconcile_interval_s > 0 and self.settings.secret_key is not None:
                every = self.config.reconcile_interval_s
                cipher = self.cipher()
                tasks.start_soon(
                    _keep_running,
                    "ClickUp reconciliation",
                    lambda: run_reconciliation_loop(
                        self.db, cipher, self.client, interval_s=every, registry=self.registry
                    ),
                    every,
                )
            # No secret key: no platform can be configured, so nothing can be running on one.
            if self.config.poll_platform_runs and self.settings.secret_key is not None:
                poll = self.config.platform_poll_interval_s
                tasks.start_soon(
                    _keep_running,
                    "platform run poller",
                    lambda: run_platform_poller(
                        self.db,
                        self.tools.for_tenant,
                        interval_s=poll,
                        give_up_after_s=self.config.platform_give_up_after_s,
                    ),
                    poll,
                )


async def _keep_running(name: str, loop: Callable[[], Awaitable[None]], pause_s: float) -> None:
    """Restart a background loop that crashed: a bug in one pass must not stop the worker."""
    while True:
        try:
            await loop()
            return
        except Exception:  # the background task's top level: log, pause, start again
            log.exception("%s crashed; restarting in %.0fs", name, pause_s)
        await anyio.sleep(pause_s)


def _email_finder(config: RuntimeConfig, client: httpx.AsyncClient) -> EmailFinder:
    if config.email_finder_url and config.email_finder_key is not None:
        return HttpEmailFinder(client, config.email_finder_url, config.email_finder_key)
    return UnconfiguredEmailFinder()


def build_services(
    settings: Settings,
    db: Database,
    client: httpx.AsyncClient,
    tools: WorkerTools,
    *,
    config: RuntimeConfig,
    local_mcp_servers: Mapping[str, LocalServerFactory] | None = None,
) -> Services:
    async def open_repository(tenant_id: uuid.UUID) -> CrmRepository:
        return await open_crm_repository(
            settings, db, tenant_id, change_sink=CrmEventSink(db, tenant_id)
        )

    return Services(
        crm=TenantWorkflowCrm(settings, db, open_repository),
        analyzer=AnalyticsAnalyzer(),
        clickup=TenantClickUp(tools),
        apify=TenantApify(tools),
        email_finder=_email_finder(config, client),
        mcp=RegisteredMcpCaller(db, local_servers=local_mcp_servers),
        http=client,
    )


@asynccontextmanager
async def open_worker_runtime(
    settings: Settings,
    db: Database,
    *,
    config: RuntimeConfig | None = None,
    client: httpx.AsyncClient | None = None,
    registry: ResilienceRegistry = DEFAULT_REGISTRY,
    local_mcp_servers: Mapping[str, LocalServerFactory] | None = None,
    handler_options: Mapping[str, Any] | None = None,
) -> AsyncGenerator[WorkerRuntime]:
    """Everything a worker needs; closes the HTTP client it made on exit.

    `handler_options` are passed to WorkflowEventHandler (e.g. `max_chain_depth`).
    """
    config = config or RuntimeConfig()
    own_client = client is None
    http = client or httpx.AsyncClient(timeout=httpx.Timeout(30.0, connect=10.0))
    try:
        tools = WorkerTools(
            db,
            lambda: cipher_from_settings(settings.secret_key),
            http,
            registry=registry,
            ttl_s=config.tools_cache_s,
        )
        services = build_services(
            settings, db, http, tools, config=config, local_mcp_servers=local_mcp_servers
        )
        journal = ExecutionJournal(db)  # one for handler, engine and router: writes group
        handler = WorkflowEventHandler(
            db,
            services,
            router=pending_routing,
            dispatch=PlatformDispatcher(db, tools, journal),
            journal=journal,
            definitions=DefinitionCache(db, max_age_s=config.definitions_cache_s),
            **dict(handler_options or {}),
        )
        yield WorkerRuntime(
            settings=settings,
            db=db,
            config=config,
            services=services,
            tools=tools,
            handler=TenantScopedHandler(PlatformCallbackHandler(db, handler)),
            client=http,
            registry=registry,
        )
    finally:
        if own_client:
            await http.aclose()
