"""The `supabase` CRM data source: the project's REST API (PostgREST) through the `supabase`
async client, bound to one tenant.

Tenants are kept apart twice. Every request filters by `tenant_id`, which is all that guards
the data under a service-role key (it bypasses row-level security). Under a user's JWT the
database itself also hides and refuses other tenants' rows, whatever the request says (the
policies of migration 0002). An id of another tenant behaves exactly like a missing one.

Each write is one REST request, or one SQL function call when two rows must change together
(a qualification and the account's lead score); the lifecycle stage is changed with a
compare-and-set so two writers cannot both report the same transition. The change sink is
told after the write has committed, with `connection=None`.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, cast

from pydantic import BaseModel
from supabase import AsyncClient

from shared.crm import supabase_queries
from shared.crm.changes import (
    ActivityLogged,
    CampaignCreated,
    HealthScoreRecorded,
    LeadQualificationRecorded,
    LifecycleStageChanged,
)
from shared.crm.models import (
    AccountDetail,
    AccountSummary,
    Activity,
    Campaign,
    Contact,
    Deal,
    HealthScore,
    LeadQualification,
    LifecycleStage,
    NewActivity,
    NewCampaign,
    NewHealthScore,
    NewLeadQualification,
    Page,
    PipelineSummary,
    ProspectSearch,
    Review,
    StageChange,
    Transaction,
)
from shared.crm.query import CrmQuery, CrmQueryResult
from shared.crm.repository import CrmChange, CrmChangeSink, account_not_found
from shared.crm.supabase_client import Rest, Rows, columns_of, rows_of
from shared.db.types import utcnow
from shared.errors import SwitchboardError, ValidationFailedError

__all__ = ["SupabaseCrmRepository"]

RECENT_ITEMS = 10
OPEN_DEAL_STAGES = ("new", "proposal", "negotiation")
_STAGE_RETRIES = 5

# Embedded resources of an account, named by foreign key: `activities` also links accounts
# and contacts, so PostgREST needs to be told which relationship each embed follows.
_EMBEDS: dict[str, tuple[str, type[BaseModel]]] = {
    "contacts": ("fk_contacts_account_id_accounts", Contact),
    "deals": ("fk_deals_account_id_accounts", Deal),
    "activities": ("fk_activities_account_id_accounts", Activity),
    "reviews": ("fk_reviews_account_id_accounts", Review),
    "ai_lead_qualification": ("fk_ai_lead_qualification_account_id_accounts", LeadQualification),
    "customer_health_scores": (
        "fk_customer_health_scores_account_id_accounts",
        HealthScore,
    ),
}
_NESTED_DETAIL = {
    "contacts",
    "open_deals",
    "recent_activities",
    "recent_reviews",
    "latest_qualification",
    "latest_health",
}
_DETAIL_SELECT = ",".join(
    [
        columns_of(AccountDetail, exclude=_NESTED_DETAIL),
        *(f"{table}!{fk}({columns_of(model)})" for table, (fk, model) in _EMBEDS.items()),
    ]
)


def _first(rows: Rows) -> dict[str, Any] | None:
    return rows[0] if rows else None


class SupabaseCrmRepository:
    """`CrmRepository` over PostgREST. `client` comes from `create_supabase_client`; its key
    decides what the database lets through (see the module docstring)."""

    def __init__(
        self,
        client: AsyncClient,
        tenant_id: uuid.UUID,
        change_sink: CrmChangeSink | None = None,
    ) -> None:
        self._rest = Rest(client, tenant_id)
        self._tenant_id = tenant_id
        self._sink = change_sink

    @property
    def tenant_id(self) -> uuid.UUID:
        return self._tenant_id

    # -- reads -------------------------------------------------------------------------------

    async def search_accounts(self, search: ProspectSearch) -> Page[AccountSummary]:
        return await supabase_queries.search_accounts(self._rest, search)

    async def get_account(self, account_id: uuid.UUID) -> AccountDetail:
        """One request: the account with its related rows embedded, each list ordered and
        cut as the `sql` source does."""
        tenant = self._rest.tenant
        request = self._rest.table("accounts").select(_DETAIL_SELECT).eq("id", str(account_id))
        request = request.eq("tenant_id", tenant)
        for table in _EMBEDS:
            request = request.eq(f"{table}.tenant_id", tenant)
        request = (
            request.in_("deals.stage", OPEN_DEAL_STAGES)
            .order("is_primary", desc=True, foreign_table="contacts")
            .order("last_name", foreign_table="contacts")
            .order("id", foreign_table="contacts")
            .order("created_at", desc=True, foreign_table="deals")
            .order("id", foreign_table="deals")
            .order("created_at", desc=True, foreign_table="activities")
            .order("id", foreign_table="activities")
            .limit(RECENT_ITEMS, foreign_table="activities")
            .order("reviewed_at", desc=True, foreign_table="reviews")
            .order("id", foreign_table="reviews")
            .limit(RECENT_ITEMS, foreign_table="reviews")
            .order("created_at", desc=True, foreign_table="ai_lead_qualification")
            .limit(1, foreign_table="ai_lead_qualification")
            .order("computed_at", desc=True, foreign_table="customer_health_scores")
            .limit(1, foreign_table="customer_health_scores")
        )
        row = _first(await self._rest.rows(request))
        if row is None:
            raise account_not_found(account_id)

        def nested(key: str) -> Rows:
            return rows_of(row.pop(key, None) or [])

        qualification = _first(nested("ai_lead_qualification"))
        health = _first(nested("customer_health_scores"))
        return AccountDetail.model_validate(
            {
                **row,
                "contacts": nested("contacts"),
                "open_deals": nested("deals"),
                "recent_activities": nested("activities"),
                "recent_reviews": nested("reviews"),
                "latest_qualification": qualification,
                "latest_health": health,
            }
        )

    async def list_reviews(self, account_id: uuid.UUID, *, limit: int = 100) -> list[Review]:
        """Newest first; NotFoundError if the account is not this tenant's."""
        rows = await self._account_children(
            account_id,
            "reviews",
            Review,
            order=(("reviewed_at", True), ("id", False)),
            limit=max(1, min(limit, 1000)),
        )
        return [Review.model_validate(r) for r in rows]

    async def list_transactions(
        self, account_id: uuid.UUID, *, since: datetime | None = None
    ) -> list[Transaction]:
        """Oldest first (the order LTV models read them in)."""
        rows = await self._account_children(
            account_id,
            "transactions",
            Transaction,
            order=(("occurred_at", False), ("id", False)),
            since=("occurred_at", since) if since is not None else None,
        )
        return [Transaction.model_validate(r) for r in rows]

    async def _account_children(
        self,
        account_id: uuid.UUID,
        table: str,
        model: type[BaseModel],
        *,
        order: tuple[tuple[str, bool], ...],
        limit: int | None = None,
        since: tuple[str, datetime] | None = None,
    ) -> Rows:
        """The account's rows of `table`, fetched with the account in one request so a
        missing account and an account without rows are told apart."""
        tenant = self._rest.tenant
        request = (
            self._rest.table("accounts")
            .select(f"id,{table}({columns_of(model)})")
            .eq("id", str(account_id))
            .eq("tenant_id", tenant)
            .eq(f"{table}.tenant_id", tenant)
        )
        for column, descending in order:
            request = request.order(column, desc=descending, foreign_table=table)
        if limit is not None:
            request = request.limit(limit, foreign_table=table)
        if since is not None:
            request = request.gte(f"{table}.{since[0]}", since[1].isoformat())
        row = _first(await self._rest.rows(request))
        if row is None:
            raise account_not_found(account_id)
        return rows_of(row.get(table) or [])

    async def query(self, query: CrmQuery) -> CrmQueryResult:
        return await supabase_queries.run_query(self._rest, query)

    async def pipeline_summary(self, start: datetime, end: datetime) -> PipelineSummary:
        return await supabase_queries.pipeline_summary(self._rest, start, end)

    # -- writes ------------------------------------------------------------------------------

    async def _tell(self, change: CrmChange) -> None:
        if self._sink is not None:
            await self._sink(change, connection=None)

    async def _require_account(self, account_id: uuid.UUID, columns: str = "id") -> dict[str, Any]:
        request = (
            self._rest.table("accounts")
            .select(columns)
            .eq("id", str(account_id))
            .eq("tenant_id", self._rest.tenant)
            .limit(1)
        )
        row = _first(await self._rest.rows(request))
        if row is None:
            raise account_not_found(account_id)
        return row

    async def _insert(self, table: str, values: dict[str, Any]) -> dict[str, Any]:
        row = _first(await self._rest.rows(self._rest.insert(table, values)))
        if row is None:  # PostgREST returns the row it inserted; nothing means it was hidden
            raise SwitchboardError(f"the Supabase REST API did not return the new {table} row")
        return row

    async def update_lifecycle_stage(
        self, account_id: uuid.UUID, stage: LifecycleStage
    ) -> StageChange:
        """Compare-and-set: the update only applies if the stage is still the one read, so a
        concurrent change is seen and read again instead of overwritten unnoticed."""
        for _ in range(_STAGE_RETRIES):
            row = await self._require_account(account_id, "id,lifecycle_stage")
            previous = LifecycleStage(str(row["lifecycle_stage"]))
            result = StageChange(
                account_id=account_id,
                previous_stage=previous,
                new_stage=stage,
                changed=previous != stage,
            )
            if not result.changed:
                return result
            request = (
                self._rest.update(
                    "accounts",
                    {"lifecycle_stage": stage.value, "updated_at": utcnow().isoformat()},
                )
                .eq("id", str(account_id))
                .eq("lifecycle_stage", previous.value)
            )
            if await self._rest.rows(request):
                await self._tell(LifecycleStageChanged(account_id, previous.value, stage.value))
                return result
        raise SwitchboardError(
            f"account {account_id} kept changing stage while being updated; try again"
        )

    async def log_activity(self, activity: NewActivity) -> Activity:
        """NotFoundError for another tenant's account; ValidationFailedError for a contact
        that is not one of the account's."""
        await self._require_account(activity.account_id)
        if activity.contact_id is not None:
            request = (
                self._rest.table("contacts")
                .select("id")
                .eq("id", str(activity.contact_id))
                .eq("account_id", str(activity.account_id))
                .eq("tenant_id", self._rest.tenant)
            )
            if not await self._rest.rows(request):
                raise ValidationFailedError(
                    f"contact {activity.contact_id} is not a contact of account "
                    f"{activity.account_id}; get_account lists its contacts (or leave "
                    "contact_id out)"
                )
        record = Activity.model_validate(
            await self._insert("activities", activity.model_dump(mode="json"))
        )
        await self._tell(ActivityLogged.of(record))
        return record

    async def create_campaign(self, campaign: NewCampaign) -> Campaign:
        """Status `scheduled` when it has a send time, else `draft`."""
        if campaign.account_id is not None:
            await self._require_account(campaign.account_id)
        values = {
            **campaign.model_dump(mode="json"),
            "status": "scheduled" if campaign.scheduled_at else "draft",
        }
        record = Campaign.model_validate(await self._insert("campaigns", values))
        await self._tell(CampaignCreated.of(record))
        return record

    async def record_lead_qualification(
        self, qualification: NewLeadQualification
    ) -> LeadQualification:
        """Also sets the account's lead_score, in the same transaction (one SQL function)."""
        result = await self._rest.call(
            "crm_record_lead_qualification",
            {
                "p_tenant_id": self._rest.tenant,
                "p_qualification": qualification.model_dump(mode="json"),
            },
        )
        if not isinstance(result, dict):
            raise account_not_found(qualification.account_id)
        written = cast(dict[str, Any], result)
        record = LeadQualification.model_validate(written["qualification"])
        previous = written.get("previous_lead_score")
        previous_score = float(previous) if previous is not None else None
        await self._tell(LeadQualificationRecorded.of(record, previous_score))
        return record

    async def record_health_score(self, health: NewHealthScore) -> HealthScore:
        await self._require_account(health.account_id)
        record = HealthScore.model_validate(
            await self._insert("customer_health_scores", health.model_dump(mode="json"))
        )
        await self._tell(HealthScoreRecorded.of(record))
        return record
