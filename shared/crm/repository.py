"""The CRM data source port: one narrow protocol, bound to one tenant, many implementations.

Implementations: `shared.crm.sql.SqlCrmRepository` (SQLite/Postgres through SQLAlchemy) and
`shared.crm.supabase.SupabaseCrmRepository` (the project's REST API, where row-level
security applies). A repository is created for exactly one tenant; no method takes a
tenant id, so a caller cannot ask for another tenant's rows by mistake.

Errors: NotFoundError (an id that is not in this tenant, said the same way whether it
exists elsewhere or not), ValidationFailedError (input the store rejected),
DatabaseUnavailableError (the store cannot be reached).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from shared.crm.models import (
    AccountDetail,
    AccountSummary,
    Activity,
    Campaign,
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
from shared.errors import NotFoundError

if TYPE_CHECKING:
    from shared.crm.query import CrmQuery, CrmQueryResult

__all__ = ["CrmChange", "CrmChangeSink", "CrmRepository", "account_not_found"]


def account_not_found(account_id: uuid.UUID) -> NotFoundError:
    """The same words whether the id is missing or another tenant's: no existence oracle.
    Every data source raises this one."""
    return NotFoundError(
        f"account {account_id} is not in this workspace; use search_prospects to find ids"
    )


class CrmChange(Protocol):
    """A committed-or-committing CRM write that may become a lifecycle event."""

    @property
    def kind(self) -> str: ...  # "lifecycle_stage" | "activity" | "campaign" | ...

    @property
    def account_id(self) -> uuid.UUID | None: ...

    @property
    def data(self) -> dict[str, Any]: ...


class CrmChangeSink(Protocol):
    """Told of every write. The SQL repository calls it inside the write's own transaction
    with that connection (so an event can be published in the same transaction: the outbox
    pattern); a REST repository calls it after the write with `connection=None`."""

    async def __call__(self, change: CrmChange, *, connection: Any | None) -> None: ...


class CrmRepository(Protocol):
    @property
    def tenant_id(self) -> uuid.UUID: ...

    async def search_accounts(self, search: ProspectSearch) -> Page[AccountSummary]:
        """Filtered, sorted page with the total count; `next_cursor` pages on.
        Raises ValidationFailedError for a cursor that is malformed or from another query."""
        ...

    async def get_account(self, account_id: uuid.UUID) -> AccountDetail:
        """Profile, Google Business data, contacts, open deals, recent activities and
        reviews, latest qualification and health score. Raises NotFoundError."""
        ...

    async def query(self, query: CrmQuery) -> CrmQueryResult:
        """A validated structured query (filters, group_by, metrics, time buckets)."""
        ...

    async def pipeline_summary(self, start: datetime, end: datetime) -> PipelineSummary: ...

    async def list_reviews(self, account_id: uuid.UUID, *, limit: int = 100) -> list[Review]: ...

    async def list_transactions(
        self, account_id: uuid.UUID, *, since: datetime | None = None
    ) -> list[Transaction]: ...

    async def update_lifecycle_stage(
        self, account_id: uuid.UUID, stage: LifecycleStage
    ) -> StageChange: ...

    async def log_activity(self, activity: NewActivity) -> Activity: ...

    async def create_campaign(self, campaign: NewCampaign) -> Campaign: ...

    async def record_lead_qualification(
        self, qualification: NewLeadQualification
    ) -> LeadQualification: ...

    async def record_health_score(self, health: NewHealthScore) -> HealthScore: ...
