"""The step engine's `WorkflowCrm`, over the tenant's CrmRepository.

Steps name CRM tables and pass plain dicts (the spec's templates: `table: accounts`,
`filter: "churn_probability > 0.7"`, `data: qualification_results`); this adapter maps them
onto the repository's typed, tenant-bound methods, so every data source (SQL, Supabase)
and its change capture serve workflows the same way.

Reads: the queryable entities (accounts, deals, activities, campaigns, transactions,
reviews) through `CrmRepository.query`, plus `customer_health_scores` (each account's
latest score; SQL store only). The step's `filter` is a condition-language expression
evaluated on each record here, over the first MAX_QUERY_ROWS rows the store returns.

Writes: `accounts` (lifecycle_stage), `lead_qualifications` / `ai_lead_qualification`,
`customer_health_scores`, campaigns and activities. The repository takes no idempotency
key: a lifecycle change is idempotent by nature; a qualification or score recorded twice
after a crash adds a second row with the same values (the latest one wins in every read).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Generator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from orchestration.runtime.tenancy import TenantCache, current_tenant
from orchestration.workflows.conditions import parse_condition
from orchestration.workflows.errors import ConditionError, StepFailedError, TransientStepError
from shared.config import CrmSource, Settings
from shared.crm.models import (
    ActivityKind,
    ActorKind,
    CampaignChannel,
    CampaignKind,
    LifecycleStage,
    NewActivity,
    NewCampaign,
    NewHealthScore,
    NewLeadQualification,
)
from shared.crm.query import ENTITIES, MAX_QUERY_ROWS, CrmQuery
from shared.crm.repository import CrmRepository
from shared.db.database import Database
from shared.errors import (
    DatabaseUnavailableError,
    NotFoundError,
    SwitchboardError,
    ValidationFailedError,
)

__all__ = ["RepositoryWorkflowCrm", "TenantWorkflowCrm"]

HEALTH_TABLES = ("customer_health_scores", "health_scores")
QUALIFICATION_TABLES = ("lead_qualifications", "ai_lead_qualification")
READABLE = (*sorted(ENTITIES), *HEALTH_TABLES)
WRITABLE = ("accounts", *QUALIFICATION_TABLES, *HEALTH_TABLES)
_ACTIVITY_KINDS = {k.value for k in ActivityKind}
_CAMPAIGN_KINDS = {k.value for k in CampaignKind}


def _uuid(value: Any, what: str) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise StepFailedError(f"{what} '{value}' is not a CRM id (a uuid)") from None


def _plain(value: Any) -> Any:
    return str(value) if isinstance(value, uuid.UUID) else value


class RepositoryWorkflowCrm:
    """Implements orchestration.workflows.services.WorkflowCrm for one tenant."""

    def __init__(
        self, repository: CrmRepository, *, db: Database | None = None, sql_store: bool = True
    ) -> None:
        self.repository = repository
        self._db = db  # for customer_health_scores, read from the SQL store
        self._sql_store = sql_store

    async def query(
        self, table: str, *, fields: list[str] | None, filter: str | None, limit: int
    ) -> list[dict[str, Any]]:
        try:
            condition = parse_condition(filter) if filter else None
        except ConditionError as exc:
            raise StepFailedError(f"filter: {exc}") from None
        with _crm_errors(f"query {table}"):
            records = await self._read(table, fields if condition is None else None)
        if condition is not None:
            try:
                records = [r for r in records if condition.evaluate(r)]
            except ConditionError as exc:
                raise StepFailedError(f"filter on {table}: {exc}") from None
            if fields:
                records = [{k: r.get(k) for k in fields} for r in records]
        return records[:limit]

    async def _read(self, table: str, fields: list[str] | None) -> list[dict[str, Any]]:
        if table in HEALTH_TABLES:
            return await self._health_scores()
        if table not in ENTITIES:
            raise StepFailedError(
                f"table '{table}' cannot be queried by workflows; use one of {', '.join(READABLE)}"
            )
        query = CrmQuery.model_validate(
            {"entity": table, "fields": fields, "limit": MAX_QUERY_ROWS}
        )
        result = await self.repository.query(query)
        return [dict(zip(result.columns, row, strict=True)) for row in result.rows]

    async def _health_scores(self) -> list[dict[str, Any]]:
        if self._db is None or not self._sql_store:
            raise StepFailedError(
                "customer_health_scores can be read by workflows only from the sql data "
                "source; with crm_source=supabase use call_mcp_server (crm server) instead"
            )
        from shared.crm.analytics_data import latest_health_scores

        return [
            {
                "account_id": str(h.account_id),
                "customer_id": str(h.account_id),
                "name": h.name,
                "lifecycle_stage": h.lifecycle_stage,
                "health_score": h.score,
                "churn_probability": h.churn_probability,
                "method": h.method,
            }
            for h in await latest_health_scores(self._db, self.repository.tenant_id)
        ]

    async def update(
        self, table: str, record_id: str | None, data: dict[str, Any], *, idempotency_key: str
    ) -> dict[str, Any]:
        account = data.get("account_id", data.get("customer_id", record_id))
        with _crm_errors(f"update {table}"):
            if table == "accounts":
                stage = data.get("lifecycle_stage")
                if stage is None:
                    raise StepFailedError(
                        "update_crm on accounts writes lifecycle_stage; the data has none"
                    )
                change = await self.repository.update_lifecycle_stage(
                    _uuid(record_id or account, "record_id"), LifecycleStage(str(stage))
                )
                return {k: _plain(v) for k, v in change.model_dump(mode="json").items()}
            if table in QUALIFICATION_TABLES:
                score = data.get("score", data.get("qualification_score"))
                qualification = NewLeadQualification.model_validate(
                    {
                        "account_id": _uuid(account, "account_id"),
                        "score": score,
                        "grade": data.get("grade"),
                        "factors": data.get("factors") or [],
                        "model_version": data.get("model_version") or "workflow",
                        "recommended_action": data.get("recommended_next_step")
                        or data.get("recommended_action"),
                    }
                )
                saved = await self.repository.record_lead_qualification(qualification)
                return saved.model_dump(mode="json")
            if table in HEALTH_TABLES:
                health = NewHealthScore.model_validate(
                    {
                        "account_id": _uuid(account, "account_id"),
                        "score": data.get("health_score", data.get("score")),
                        "churn_probability": data.get("churn_probability"),
                        "drivers": data.get("drivers") or [],
                    }
                )
                saved_health = await self.repository.record_health_score(health)
                return saved_health.model_dump(mode="json")
        raise StepFailedError(
            f"table '{table}' cannot be written by workflows; use one of {', '.join(WRITABLE)}"
        )

    async def create_campaign(
        self, campaign: dict[str, Any], *, idempotency_key: str
    ) -> dict[str, Any]:
        kind = str(campaign.get("kind") or campaign.get("type") or "retention")
        channel = str(campaign.get("channel") or "email")
        customer = campaign.get("account_id") or campaign.get("customer_id")
        audience = campaign.get("audience")
        with _crm_errors("create a campaign"):
            new = NewCampaign(
                name=str(campaign.get("name") or kind)[:200],
                kind=CampaignKind(kind if kind in _CAMPAIGN_KINDS else "retention"),
                channel=CampaignChannel(channel),
                account_id=_uuid(customer, "customer_id") if customer else None,
                message=campaign.get("message"),
                audience=audience if isinstance(audience, dict) else None,  # pyright: ignore[reportUnknownArgumentType]
                created_by=ActorKind.AUTOMATION,
            )
            saved = await self.repository.create_campaign(new)
        return {"campaign_id": str(saved.id), **saved.model_dump(mode="json")}

    async def create_activity(
        self, activity: dict[str, Any], due_at: datetime | None, *, idempotency_key: str
    ) -> dict[str, Any]:
        kind = str(activity.get("type") or "task")
        with _crm_errors("create an activity"):
            new = NewActivity(
                account_id=_uuid(activity.get("account_id"), "account_id"),
                kind=ActivityKind(kind) if kind in _ACTIVITY_KINDS else ActivityKind.TASK,
                subject=str(activity.get("subject") or kind.replace("_", " "))[:300],
                body=activity.get("notes"),
                due_at=due_at,
                created_by=ActorKind.AUTOMATION,  # the spec counts follow-ups made by automation
            )
            saved = await self.repository.log_activity(new)
        return {"activity_id": str(saved.id), **saved.model_dump(mode="json")}


@contextmanager
def _crm_errors(what: str) -> Generator[None]:
    """Repository errors as step errors: bad data fails the step, an outage retries it."""
    try:
        yield
    except (StepFailedError, TransientStepError):
        raise
    except DatabaseUnavailableError as exc:
        raise TransientStepError(f"could not {what}: {exc}") from None
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'data'}: {e['msg']}" for e in exc.errors()
        )
        raise StepFailedError(f"could not {what}: {problems}") from None
    except (NotFoundError, ValidationFailedError, ValueError) as exc:
        raise StepFailedError(f"could not {what}: {exc}") from None
    except SwitchboardError as exc:
        raise TransientStepError(f"could not {what}: {exc}") from None


class TenantWorkflowCrm:
    """The WorkflowCrm of the current event's tenant (repositories built once per tenant)."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        open_repository: Callable[[uuid.UUID], Awaitable[CrmRepository]],
    ) -> None:
        sql = settings.crm_source is CrmSource.SQL

        async def build(tenant_id: uuid.UUID) -> RepositoryWorkflowCrm:
            return RepositoryWorkflowCrm(await open_repository(tenant_id), db=db, sql_store=sql)

        self._cache: TenantCache[RepositoryWorkflowCrm] = TenantCache(build)

    async def _crm(self) -> RepositoryWorkflowCrm:
        return await self._cache.get(current_tenant())

    async def query(
        self, table: str, *, fields: list[str] | None, filter: str | None, limit: int
    ) -> list[dict[str, Any]]:
        return await (await self._crm()).query(table, fields=fields, filter=filter, limit=limit)

    async def update(
        self, table: str, record_id: str | None, data: dict[str, Any], *, idempotency_key: str
    ) -> dict[str, Any]:
        crm = await self._crm()
        return await crm.update(table, record_id, data, idempotency_key=idempotency_key)

    async def create_campaign(
        self, campaign: dict[str, Any], *, idempotency_key: str
    ) -> dict[str, Any]:
        crm = await self._crm()
        return await crm.create_campaign(campaign, idempotency_key=idempotency_key)

    async def create_activity(
        self, activity: dict[str, Any], due_at: datetime | None, *, idempotency_key: str
    ) -> dict[str, Any]:
        crm = await self._crm()
        return await crm.create_activity(activity, due_at, idempotency_key=idempotency_key)
