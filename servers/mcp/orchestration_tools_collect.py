"""The orchestration server's data-moving tools: collect prospects from Google Maps through
Apify (it costs money: confirm first; progress is reported while it runs), and sync one CRM
account into ClickUp.

New prospects are written to the workspace's SQL store with their reviews, and
`prospect_identified` is published in the same transaction (the outbox pattern), so the
qualification workflows pick them up.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

import sqlalchemy as sa
from mcp.server.elicitation import ElicitationResult
from mcp.server.mcpserver import Context, Resolve
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations
from pydantic import Field

from orchestration.events.models import CustomerEvent, EventPriority, EventSource
from orchestration.events.publish import publish_in
from orchestration.platforms.apify import (
    GMB_ACTOR,
    GMB_COLLECTION_CONFIG,
    ApifyAdapter,
    gmb_actor_input,
)
from orchestration.platforms.apify_prospects import collect_prospects as collect_run
from orchestration.platforms.clickup import ClickUpAdapter
from orchestration.platforms.clickup_sync import ClickUpSync, ClickUpSyncSettings
from orchestration.platforms.config_store import load_tool_config
from orchestration.platforms.mappings import SqlMappingStore
from orchestration.platforms.tools import build_adapter
from orchestration.platforms.usage import flush_counter
from orchestration.wakeup import notify_local
from servers.mcp.common.errors import tool_errors
from servers.mcp.common.roles import ToolAccess
from servers.mcp.common.state import AppState
from servers.mcp.common.tools import ToolSpec
from servers.mcp.orchestration_models import ClickUpSyncOut, CollectionOut
from servers.mcp.orchestration_tools_common import (
    Approval,
    ask_unless_confirmed,
    cipher_of,
    platform_access,
    require_approval,
    tenant_of,
)
from shared.config import CrmSource
from shared.db.crm_tables import accounts
from shared.db.crm_tables import reviews as reviews_table
from shared.db.database import Database
from shared.db.types import utcnow

__all__ = ["COLLECT_TOOLS", "SqlProspectSink"]

MAX_PLACES = 500


class SqlProspectSink:
    """orchestration.platforms.apify_prospects.ProspectSink on the SQL store: a new place id
    becomes an account, its reviews and a `prospect_identified` event, in one transaction."""

    def __init__(
        self, db: Database, tenant_id: uuid.UUID, ctx: Context[AppState, Any] | None = None
    ) -> None:
        self.db = db
        self.tenant_id = tenant_id
        self.ctx = ctx
        self.seen = 0
        self.new = 0

    async def add_prospect(self, account: dict[str, Any], reviews: list[dict[str, Any]]) -> bool:
        self.seen += 1
        new = await self._insert(account, reviews)
        self.new += int(new)
        if self.ctx is not None:
            await self.ctx.report_progress(
                # No scraped text in the message: progress is not fenced.
                self.seen,
                None,
                f"{self.seen} businesses read, {self.new} new so far",
            )
        return new

    async def _insert(self, account: dict[str, Any], reviews: list[dict[str, Any]]) -> bool:
        a = accounts.c
        async with self.db.transaction() as conn:
            place = account.get("google_place_id")
            if place:
                found = await conn.scalar(
                    sa.select(a.id).where(a.tenant_id == self.tenant_id, a.google_place_id == place)
                )
                if found is not None:
                    return False
            account_id = uuid.uuid4()
            now = utcnow()
            await conn.execute(
                sa.insert(accounts).values(
                    id=account_id, tenant_id=self.tenant_id, created_at=now, updated_at=now,
                    **account,
                )
            )  # fmt: skip
            for review in reviews:
                await conn.execute(
                    sa.insert(reviews_table).values(
                        id=uuid.uuid4(),
                        tenant_id=self.tenant_id,
                        account_id=account_id,
                        **{**review, "reviewed_at": _when(review.get("reviewed_at"), now)},
                    )
                )
            event = CustomerEvent(
                eventId=f"prospect_identified:{account_id}",
                tenantId=self.tenant_id,
                customerId=str(account_id),
                eventType="prospect_identified",
                eventData={
                    "account_id": str(account_id),
                    "name": account["name"],
                    "industry": account.get("industry"),
                    "city": account.get("city"),
                    "google_place_id": place,
                },
                source=EventSource.APIFY,
                priority=EventPriority.MEDIUM,
            )
            await publish_in(conn, event)
        notify_local()
        return True


def _when(value: Any, default: datetime) -> datetime:
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return default
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return default


def _paid_run_approval(
    ctx: Context[AppState, Any],
    industry: str,
    location: str,
    max_places: int = 50,
    confirm: bool = False,
) -> Any:
    return ask_unless_confirmed(
        ctx,
        confirm,
        f"Start a paid Apify run collecting up to {max_places} {industry} in {location}?",
    )


_NOT_ASKED: Any = None  # filled by the resolver before the tool body runs


async def collect_prospects(
    ctx: Context[AppState, Any],
    industry: Annotated[
        str, Field(min_length=2, max_length=100, description="e.g. dentists, HVAC contractors")
    ],
    location: Annotated[str, Field(min_length=2, max_length=200, description="e.g. Austin, TX")],
    max_places: Annotated[
        int, Field(ge=1, le=MAX_PLACES, description="At most this many businesses (cost cap)")
    ] = 50,
    confirm: Annotated[
        bool, Field(description="Must be true: an Apify run is billed to the workspace")
    ] = False,
    approval: Annotated[ElicitationResult[Approval], Resolve(_paid_run_approval)] = _NOT_ASKED,
) -> CollectionOut:
    """Collect businesses of an industry in a location from Google Maps (Apify), add the new
    ones to the CRM as prospects with their reviews, and send prospect_identified for each
    (which starts the lead qualification workflows). Businesses already in the CRM (same
    Google place id) are counted, not duplicated. An Apify run costs money: it needs
    `confirm: true`. Progress is reported while it runs; it can take minutes."""
    require_approval(
        approval,
        f"collecting up to {max_places} {industry} in {location} starts a paid Apify run",
    )
    state, caller = await tenant_of(ctx)
    if state.settings.crm_source is not CrmSource.SQL:
        raise ToolError(
            "collect_prospects adds prospects to the SQL CRM store, and this workspace's CRM is "
            f"{state.settings.crm_source.value}; run the Apify collection workflow instead"
        )
    access = platform_access(ctx)
    cipher = cipher_of(state)
    with tool_errors(not_found_hint="configure_tool stores Apify's endpoint and api_token"):
        config = await load_tool_config(state.database, cipher, caller.tenant_id, "apify")
    config_for_run = {**GMB_COLLECTION_CONFIG, "search_queries": [f"{industry} [location]"]}
    async with access.client_factory() as client:
        with tool_errors():
            adapter = build_adapter(client, config, access.registry)
            if not isinstance(adapter, ApifyAdapter):
                raise ToolError("the apify configuration did not build an Apify adapter")
            actor_input, unsupported = gmb_actor_input(
                location, config_for_run, max_places_per_search=max_places
            )
            await ctx.report_progress(0, None, f"starting the Apify run for {industry}")
            run = await adapter.start_run(GMB_ACTOR, actor_input, max_items=max_places)
            run_id = str(run.get("id"))
            await ctx.report_progress(0, None, f"Apify run {run_id} started; waiting for it")
            sink = SqlProspectSink(state.database, caller.tenant_id, ctx)
            try:
                report = await collect_run(
                    adapter, run_id, sink, deadline_s=access.collection_deadline_s
                )
            finally:
                await flush_counter(state.database, caller.tenant_id, "apify", adapter.http.counter)
    await ctx.report_progress(report.items, report.items, "collection finished")
    return CollectionOut(
        run_id=run_id,
        status=report.status,
        location=location,
        industry=industry,
        items=report.items,
        new=report.new,
        existing=report.existing,
        duplicates=report.duplicates,
        skipped=report.skipped,
        enrichment_not_available=unsupported,
    )


async def sync_account_to_clickup(
    ctx: Context[AppState, Any],
    account_id: Annotated[uuid.UUID, Field(description="The CRM account id")],
) -> ClickUpSyncOut:
    """Create or update the ClickUp task of one CRM account (the list follows its lifecycle
    stage; custom fields lead score, qualification status and industry; assignee by
    industry; a follow-up reminder for a new task). Repeating it changes nothing when the
    account has not changed."""
    state, caller = await tenant_of(ctx)
    access = platform_access(ctx)
    repository = await state.crm(caller.tenant_id)
    with tool_errors(not_found_hint="search_prospects (switchboard-crm) finds account ids"):
        detail = await repository.get_account(account_id)
    cipher = cipher_of(state)
    with tool_errors(not_found_hint="configure_tool stores ClickUp's endpoint, token and lists"):
        config = await load_tool_config(state.database, cipher, caller.tenant_id, "clickup")
    record = detail.model_dump(mode="json")
    async with access.client_factory() as client:
        with tool_errors():
            mappings = SqlMappingStore(state.database)
            adapter = build_adapter(client, config, access.registry, mappings)
            if not isinstance(adapter, ClickUpAdapter):
                raise ToolError("the clickup configuration did not build a ClickUp adapter")
            settings = ClickUpSyncSettings.from_settings(config.settings)
            try:
                outcome = await ClickUpSync(adapter, settings, mappings).sync_account(
                    caller.tenant_id, record
                )
            finally:
                await flush_counter(
                    state.database, caller.tenant_id, "clickup", adapter.http.counter
                )
    return ClickUpSyncOut(
        account_id=str(account_id),
        task_id=outcome.task_id,
        url=outcome.url,
        action=outcome.action,
        list_id=outcome.list_id,
        reminder_task_id=outcome.reminder_task_id,
    )


COLLECT_TOOLS = [
    ToolSpec(
        fn=collect_prospects,
        title="Collect prospects from Google Maps (Apify, paid)",
        access=ToolAccess.WRITE,
        annotations=ToolAnnotations(
            read_only_hint=False,
            destructive_hint=False,
            idempotent_hint=False,
            open_world_hint=True,
        ),
    ),
    ToolSpec(
        fn=sync_account_to_clickup,
        title="Sync an account to ClickUp",
        access=ToolAccess.WRITE,
        annotations=ToolAnnotations(
            read_only_hint=False,
            destructive_hint=False,
            idempotent_hint=True,
            open_world_hint=True,
        ),
    ),
]
