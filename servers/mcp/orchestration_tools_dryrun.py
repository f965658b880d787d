"""trigger_workflow's dry run: the routing decision and each step's verdict for an input,
computed from reads only (no event is queued, no execution row written, no platform
called).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError

from orchestration.platforms.routing import INTERNAL, choose_platform
from orchestration.platforms.tools import TenantTools, load_tenant_tools
from orchestration.queue.types import ClaimedEvent
from orchestration.runtime.routing import RoutedDefinition
from orchestration.workflows.conditions import parse_condition
from orchestration.workflows.engine import build_scope
from orchestration.workflows.errors import ConditionError
from orchestration.workflows.publishing import RUN_EVENT_TYPE
from orchestration.workflows.store import StoredDefinition
from servers.mcp.common.state import AppState
from servers.mcp.orchestration_models import DryRunStep
from servers.mcp.orchestration_tools_common import cipher_of, platform_access, tenant_of
from shared.db.orchestration_tables import workflow_definitions
from shared.errors import SwitchboardError

__all__ = ["dry_routing", "dry_steps"]


async def dry_routing(ctx: Context[AppState, Any], stored: StoredDefinition) -> dict[str, Any]:
    """choose_platform as the dispatcher would call it; reads only (no call goes out)."""
    d = stored.definition
    if d.primary_platform == INTERNAL and d.fallback_platform in (None, INTERNAL):
        return {"platform": INTERNAL, "order": [INTERNAL], "skipped": {},
                "reason": "primary platform is internal"}  # fmt: skip
    state, caller = await tenant_of(ctx)
    access = platform_access(ctx)
    t = workflow_definitions
    async with state.database.engine.connect() as conn:
        refs: Any = await conn.scalar(sa.select(t.c.platform_refs).where(t.c.id == stored.id))
    try:
        cipher = cipher_of(state)
        async with access.client_factory() as client:
            tools = await load_tenant_tools(
                state.database, cipher, caller.tenant_id, client, registry=access.registry
            )
    except (ToolError, SwitchboardError) as exc:
        tools = TenantTools(unusable={name: str(exc) for name in ("n8n", "make")})
    target = RoutedDefinition(d.name, refs if isinstance(refs, dict) else None)  # pyright: ignore[reportUnknownArgumentType]
    decision = choose_platform(
        target,
        d.primary_platform,
        d.fallback_platform,
        tools.adapters,
        connection_status=tools.connection_status,
    )
    for name in decision.skipped:
        if name in tools.unusable:
            decision.skipped[name] = f"{name} is misconfigured: {tools.unusable[name]}"
    return decision.as_dict()


def dry_steps(
    stored: StoredDefinition, data: dict[str, Any], tenant: uuid.UUID
) -> list[DryRunStep]:
    now = datetime.now(UTC)
    event = ClaimedEvent(
        id=uuid.uuid4(), tenant_id=tenant, event_id="dry-run", event_type=RUN_EVENT_TYPE,
        event_data=data, event_source="crm", customer_id=None, priority=3, attempts=1,
        max_retries=0, chain_depth=0, workflow_triggers=[str(stored.id)], created_at=now,
        scheduled_for=now,
    )  # fmt: skip
    scope = build_scope(event, {})
    steps: list[DryRunStep] = []
    for index, step in enumerate(stored.definition.steps):
        would, reason = "yes", "no condition: always runs"
        if step.condition is not None:
            condition = parse_condition(step.condition)
            # Earlier steps' outputs are also read at the top level (`qualification_score`).
            unset = sorted(
                str(p.parts[0]) for p in condition.paths() if p.parts[0] not in scope and index > 0
            )
            if any(p.parts[0] == "steps" for p in condition.paths()):
                would, reason = "unknown", "the condition reads an earlier step's output"
            elif unset:
                would = "unknown"
                reason = (
                    f"the condition reads {', '.join(unset)}: not in the input, so set by an "
                    "earlier step's output at run time"
                )
            else:
                try:
                    holds = condition.evaluate(scope)
                except ConditionError as exc:
                    would, reason = "unknown", f"cannot evaluate on this input: {exc}"
                else:
                    would = "yes" if holds else "no"
                    reason = f"condition is {'true' if holds else 'false'} for this input"
        steps.append(
            DryRunStep(
                key=step.key,
                name=step.name,
                action=step.action,
                condition=step.condition,
                would_run=would,
                reason=reason,
            )
        )
    return steps
