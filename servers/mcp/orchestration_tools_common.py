"""What the orchestration tool modules share: the caller's tenant, the platform seam (HTTP
client factory and resilience registry, injectable per server for tests), and the explicit
`confirm: true` rule for bulk, destructive or paid actions.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from mcp.server.elicitation import AcceptedElicitation, ElicitationResult
from mcp.server.mcpserver import Context, Elicit
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel, Field

from orchestration.platforms.resilience import DEFAULT_REGISTRY, ResilienceRegistry
from servers.mcp.common.caller import CallerContext
from servers.mcp.common.errors import tool_errors
from servers.mcp.common.server import SwitchboardServer
from servers.mcp.common.state import AppState
from servers.mcp.common.tools import app_state, current_caller
from shared.crypto import CredentialCipher, cipher_from_settings

__all__ = [
    "Approval",
    "NotAsked",
    "OrchestrationServer",
    "PlatformAccess",
    "cipher_of",
    "platform_access",
    "require_approval",
    "require_confirm",
    "tenant_of",
]


def _default_client() -> httpx.AsyncClient:
    return httpx.AsyncClient(timeout=90.0)


@dataclass(frozen=True)
class PlatformAccess:
    """How tools reach n8n, Make, ClickUp and Apify: one client per call from
    `client_factory`, breakers and limiters shared through `registry`."""

    client_factory: Callable[[], httpx.AsyncClient] = field(default=_default_client)
    registry: ResilienceRegistry = field(default=DEFAULT_REGISTRY)
    collection_deadline_s: float = 3600.0


class OrchestrationServer(SwitchboardServer):
    """An MCPServer that carries its PlatformAccess, so tools find it through the context."""

    platforms: PlatformAccess = PlatformAccess()


def platform_access(ctx: Context[Any, Any]) -> PlatformAccess:
    server: Any = ctx.mcp_server
    return server.platforms if isinstance(server, OrchestrationServer) else PlatformAccess()


async def tenant_of(ctx: Context[Any, Any]) -> tuple[AppState, CallerContext]:
    return app_state(ctx), await current_caller(ctx)


def cipher_of(state: AppState) -> CredentialCipher:
    """The credential cipher; a ToolError saying how to set the key when there is none."""
    with tool_errors():
        return cipher_from_settings(state.settings.secret_key)


class Approval(BaseModel):
    """What the user answers when a client supports elicitation."""

    approve: bool = Field(description="Go ahead?")


def ask_unless_confirmed(ctx: Context[Any, Any], confirm: bool, question: str) -> Any:
    """A resolver body: approved when `confirm` is true; otherwise ask the user through
    elicitation if the client supports it; otherwise not approved (the tool then says to
    pass `confirm: true`, which is what the Inspector CLI and plain clients do)."""
    if confirm:
        return Approval(approve=True)
    capabilities = ctx.client_capabilities
    if capabilities is not None and capabilities.elicitation is not None:
        return Elicit(question, Approval)
    return NotAsked(approve=False)


class NotAsked(Approval):
    """No `confirm: true`, and the client cannot be asked."""


def approved(outcome: ElicitationResult[Approval]) -> bool:
    return isinstance(outcome, AcceptedElicitation) and outcome.data.approve


def require_approval(outcome: ElicitationResult[Approval], what: str) -> None:
    """Refuse unless confirmed: a client that cannot ask is told about `confirm: true`; a
    user who said no is not asked again."""
    if approved(outcome):
        return
    if isinstance(outcome, AcceptedElicitation) and isinstance(outcome.data, NotAsked):
        require_confirm(False, what)
    raise ToolError(
        f"the user did not approve: {what}. Nothing was done; do not retry unless they ask"
    )


def require_confirm(confirm: bool, what: str) -> None:
    """Refuse a bulk, destructive or paid action unless the caller passed `confirm: true`."""
    if not confirm:
        raise ToolError(
            f"{what}. Tell the user what will happen and, if they agree, call again with "
            "confirm: true"
        )


def parse_uuid(value: str, what: str, hint: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise ToolError(f"'{value[:60]}' is not a {what} id; {hint}") from None
