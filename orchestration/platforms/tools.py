"""Building a tenant's adapters from its stored configurations: the one place that maps a
`tool_name` to its adapter class (the router, the health monitor and the CLI use it)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import httpx

from orchestration.platforms.apify import ApifyAdapter
from orchestration.platforms.clickup import ClickUpAdapter
from orchestration.platforms.config_store import (
    WEBHOOK_ONLY_TOOLS,
    ToolConfig,
    list_tool_configs,
)
from orchestration.platforms.make import MakeAdapter
from orchestration.platforms.mappings import MappingStore, SqlMappingStore
from orchestration.platforms.n8n import N8nAdapter
from orchestration.platforms.resilience import DEFAULT_REGISTRY, ResilienceRegistry
from shared.crypto import CredentialCipher
from shared.db.database import Database
from shared.errors import ConfigError, SwitchboardError

__all__ = ["Adapter", "TenantTools", "build_adapter", "load_tenant_tools"]

Adapter = N8nAdapter | MakeAdapter | ClickUpAdapter | ApifyAdapter


def build_adapter(
    client: httpx.AsyncClient,
    config: ToolConfig,
    registry: ResilienceRegistry = DEFAULT_REGISTRY,
    mappings: MappingStore | None = None,
) -> Adapter:
    """The adapter for a configuration's tool_name; ConfigError naming a missing field."""
    match config.tool_name:
        case "n8n":
            return N8nAdapter(client, config, registry=registry)
        case "make":
            return MakeAdapter(client, config, registry=registry)
        case "clickup":
            return ClickUpAdapter(client, config, registry=registry, mappings=mappings)
        case "apify":
            return ApifyAdapter(client, config, registry=registry)
        case other:
            raise ConfigError(f"no adapter for tool '{other}'; known: n8n, make, clickup, apify")


@dataclass
class TenantTools:
    adapters: dict[str, Adapter] = field(default_factory=dict[str, Adapter])
    connection_status: dict[str, str] = field(default_factory=dict[str, str])
    unusable: dict[str, str] = field(default_factory=dict[str, str])  # tool -> why


async def load_tenant_tools(
    db: Database,
    cipher: CredentialCipher,
    tenant_id: uuid.UUID,
    client: httpx.AsyncClient,
    *,
    registry: ResilienceRegistry = DEFAULT_REGISTRY,
) -> TenantTools:
    """Every configured tool of a tenant as an adapter, with its last health status; a
    misconfigured tool is listed in `unusable` with the reason instead of failing all."""
    tools = TenantTools()
    mappings = SqlMappingStore(db)
    for config in await list_tool_configs(db, cipher, tenant_id):
        if config.tool_name in WEBHOOK_ONLY_TOOLS:
            continue  # only sends us webhooks; nothing to call
        try:
            tools.adapters[config.tool_name] = build_adapter(client, config, registry, mappings)
        except SwitchboardError as exc:
            tools.unusable[config.tool_name] = str(exc)
            continue
        tools.connection_status[config.tool_name] = config.connection_status
    return tools
