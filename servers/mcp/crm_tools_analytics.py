"""The CRM server's analytics tools: customer health and churn, at-risk lists, retention
playbooks, industry benchmarks and customer lifetime value.

Health is scored with the tenant's fitted churn model when its labelled history supports
one (shared/crm/tenant_models.py), else the engine's documented prior weights; `method` says
which.
`analyze_customer_health` stores the score; the repository's change sink then emits
churn_risk_detected when the churn probability crosses the tenant's `churn_risk_threshold`
(default 0.7). Tenant-wide figures (at-risk ranking, benchmarks, lifetime-value fits) read
the SQL store in bulk (shared/crm/analytics_data.py, benchmark_data.py); with the supabase
data source those tools say they are unavailable.
"""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import anyio
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations
from pydantic import Field

from orchestration.events.crm_sink import CHURN_RISK_THRESHOLD_KEY, DEFAULT_CHURN_RISK_THRESHOLD
from servers.mcp.analysis_models import (
    AtRiskCustomer,
    AtRiskCustomers,
    BenchmarksOut,
    HealthOut,
    LifetimeValueOut,
    RetentionPlanOut,
)
from servers.mcp.common.budget import NOTE_RESERVE, fit_count
from servers.mcp.common.errors import tool_errors
from servers.mcp.common.fence import Fence
from servers.mcp.common.roles import ToolAccess
from servers.mcp.common.state import AppState
from servers.mcp.common.tools import READ_ONLY, ToolSpec, app_state, current_caller
from shared.analytics.clv import predict_customer_lifetime_value as predict_clv
from shared.analytics.health import (
    ChurnModel,
    HealthAssessment,
    score_health,
    score_health_batch,
)
from shared.analytics.health_features import HealthColumns
from shared.analytics.purchase_summary import summarize_transactions
from shared.analytics.retention import generate_retention_strategy as retention_plan
from shared.config import CrmSource
from shared.crm.analytics_data import (
    customer_health_features,
    latest_health_scores,
    tenant_settings,
)
from shared.crm.analytics_inputs import account_health_features, transaction_inputs
from shared.crm.benchmark_data import industry_benchmarks_from_store
from shared.crm.models import NewHealthScore
from shared.crm.repository import CrmRepository
from shared.crm.tenant_models import tenant_churn_model, tenant_ltv_models

__all__ = ["ANALYTICS_TOOLS"]

NOT_FOUND_HINT = "search_prospects finds account ids by name, city or industry"
MAX_AT_RISK = 100
READ = READ_ONLY


async def _crm(ctx: Context[AppState, Any]) -> tuple[CrmRepository, AppState, uuid.UUID]:
    state = app_state(ctx)
    caller = await current_caller(ctx)
    return await state.crm(caller.tenant_id), state, caller.tenant_id


def _require_sql(state: AppState, tool: str) -> None:
    if state.settings.crm_source is not CrmSource.SQL:
        raise ToolError(
            f"{tool} reads the whole workspace at once, which the supabase data source does "
            "not support yet; use analyze_customer_health per account, or the sql data source"
        )


async def _churn_threshold(state: AppState, tenant_id: uuid.UUID) -> float:
    value = (await tenant_settings(state.database, tenant_id)).get(CHURN_RISK_THRESHOLD_KEY)
    if isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value <= 1:
        return float(value)
    return DEFAULT_CHURN_RISK_THRESHOLD


async def _churn_model(state: AppState, tenant_id: uuid.UUID) -> ChurnModel | None:
    """The tenant's fitted churn model when its history supports one (sql store only)."""
    if state.settings.crm_source is not CrmSource.SQL:
        return None
    fit = await tenant_churn_model(state.database, tenant_id)
    return fit.model if fit is not None else None


async def _assess(
    repository: CrmRepository, state: AppState, tenant_id: uuid.UUID, account_id: uuid.UUID
) -> HealthAssessment:
    with tool_errors(not_found_hint=NOT_FOUND_HINT):
        features = await account_health_features(repository, account_id, as_of=datetime.now(UTC))
        return score_health(features, await _churn_model(state, tenant_id))


async def analyze_customer_health(
    ctx: Context[AppState, Any],
    account_id: Annotated[uuid.UUID, Field(description="The customer's account id")],
    store: Annotated[
        bool, Field(description="Save the score on the account (default true)")
    ] = True,
) -> HealthOut:
    """A customer's health (0-100), churn probability and the drivers behind them, ranked:
    recency and frequency of touches (purchases and done activities), spend trend (last 90
    days vs the 90 before), support load, review sentiment and payment gaps, each with its
    evidence. Answers "is Smith HVAC about to churn, and why?".

    The score is saved on the account (`store: false` to only look), so the dashboard and
    workflows see it; when the churn probability crosses the workspace's threshold (default
    0.7) that emits churn_risk_detected, which starts the churn-prevention workflows.
    Next: generate_retention_strategy for what to do about it.
    """
    repository, state, tenant_id = await _crm(ctx)
    assessment = await _assess(repository, state, tenant_id, account_id)
    threshold = await _churn_threshold(state, tenant_id)
    extra: dict[str, Any] = {
        "account_id": account_id,
        "churn_risk_threshold": threshold,
        "over_threshold": assessment.churn_probability >= threshold,
    }
    if store:
        with tool_errors(not_found_hint=NOT_FOUND_HINT):
            saved = await repository.record_health_score(
                NewHealthScore(
                    account_id=account_id,
                    score=assessment.health_score,
                    churn_probability=assessment.churn_probability,
                    drivers=[d.model_dump(mode="json") for d in assessment.drivers],
                    method=assessment.method[:200],
                )
            )
        extra.update(stored=True, health_id=saved.id)
    return HealthOut.model_validate({**assessment.model_dump(), **extra})


async def list_at_risk_customers(
    ctx: Context[AppState, Any],
    threshold: Annotated[
        float | None,
        Field(ge=0, le=1, description="Lowest churn probability listed; default the workspace's"),
    ] = None,
    limit: Annotated[int, Field(ge=1, le=MAX_AT_RISK, description="Most customers listed")] = 25,
) -> AtRiskCustomers:
    """Customers most likely to churn, highest churn probability first: each with its health
    score, churn probability, main driver and whether the figure is the latest stored health
    score (`stored`) or was computed now from the CRM history (`computed`, for customers and
    at-risk accounts never scored). Answers "who is about to churn?".

    Next: analyze_customer_health on one of them for the drivers, then
    generate_retention_strategy.
    """
    _repository, state, tenant_id = await _crm(ctx)
    _require_sql(state, "list_at_risk_customers")
    cutoff = threshold if threshold is not None else await _churn_threshold(state, tenant_id)
    with tool_errors():
        stored = await latest_health_scores(state.database, tenant_id)
        scored = {s.account_id for s in stored}
        fresh = [
            c
            for c in await customer_health_features(
                state.database, tenant_id, as_of=datetime.now(UTC)
            )
            if c.account_id not in scored
        ]
    items = [
        AtRiskCustomer(
            account_id=s.account_id,
            name=s.name,
            lifecycle_stage=s.lifecycle_stage,
            health_score=s.score,
            churn_probability=s.churn_probability,
            top_driver=str(s.drivers[0].get("factor")) if s.drivers else None,
            source="stored",
            computed_at=s.computed_at,
        )
        for s in stored
        if s.lifecycle_stage != "churned"  # already lost: not a risk any more
    ]
    model = await _churn_model(state, tenant_id)
    if fresh:
        columns = HealthColumns.from_features([c.features for c in fresh])
        batch = await anyio.to_thread.run_sync(score_health_batch, columns, model)
        drivers = batch.top_driver_names()
        items += [
            AtRiskCustomer(
                account_id=c.account_id,
                name=c.name,
                lifecycle_stage=c.lifecycle_stage,
                health_score=round(float(batch.health_score[i]), 1),
                churn_probability=round(float(batch.churn_probability[i]), 4),
                top_driver=drivers[i],
                source="computed",
            )
            for i, c in enumerate(fresh)
        ]
    over = sorted(
        (i for i in items if i.churn_probability >= cutoff), key=lambda i: -i.churn_probability
    )
    fence = Fence()
    shown = [i.model_copy(update={"name": fence.wrap(i.name or "")}) for i in over[:limit]]

    def render(kept: list[AtRiskCustomer] | Any) -> AtRiskCustomers:
        return AtRiskCustomers(
            threshold=cutoff,
            customers=list(kept),
            total_over_threshold=len(over),
            stored_scores_used=len(stored),
            computed_now=len(fresh),
            method=(
                "latest stored health score per account; customers and at-risk accounts never "
                "scored are scored now with "
                + (
                    f"the workspace's fitted churn model (cross-validated AUC {model.cv_auc:.2f})"
                    if model is not None
                    else "the documented prior weights (see analyze_customer_health)"
                )
            ),
            explanation=(
                f"{len(over)} customer(s) at or over churn probability {cutoff:.2f}; "
                f"{len(stored)} stored score(s) used, {len(fresh)} account(s) scored now."
            ),
        )

    fits = fit_count(shown, render, state.settings.result_budget_chars - NOTE_RESERVE)
    out = render(shown[:fits])
    if fits < len(shown) or len(over) > len(shown):
        out.truncated = True
        out.truncation_note = (
            f"{len(over) - fits} more customer(s) over the threshold; raise the threshold "
            "or the limit (max 100)"
        )
    return out


async def generate_retention_strategy(
    ctx: Context[AppState, Any],
    account_id: Annotated[uuid.UUID, Field(description="The customer's account id")],
    max_actions: Annotated[int, Field(ge=1, le=8, description="Most plays in the plan")] = 4,
) -> RetentionPlanOut:
    """A ranked retention playbook for one customer, from its churn drivers: retention
    campaign, follow-up call, offer or account-manager task, each with channel, due offset
    ("+3 days"), the reason and what to say; urgency from the churn probability, and the
    value at risk (last year's spend x churn probability). The shape is what the
    churn-prevention workflow takes. Nothing is saved or sent.

    Next: create_campaign (retention) and log_activity (follow-up call) to act on it, after
    the user agrees.
    """
    repository, state, tenant_id = await _crm(ctx)
    assessment = await _assess(repository, state, tenant_id, account_id)
    with tool_errors(not_found_hint=NOT_FOUND_HINT):
        detail = await repository.get_account(account_id)
        year = await repository.list_transactions(
            account_id, since=datetime.now(UTC) - timedelta(days=365)
        )
        plan = retention_plan(
            assessment,
            customer_value=sum(t.amount for t in year) if year else None,
            max_actions=max_actions,
        )
    fence = Fence()
    out = RetentionPlanOut.model_validate(
        {
            **plan.model_dump(),
            "account_id": account_id,
            "account_name": fence.wrap(detail.name),
            "health_score": assessment.health_score,
            "churn_risk_level": assessment.risk_level,
        }
    )
    return out


async def get_industry_benchmarks(
    ctx: Context[AppState, Any],
    industry: Annotated[
        str, Field(min_length=1, max_length=100, description="e.g. dentist, hvac, restaurant")
    ],
    city: Annotated[
        str | None, Field(min_length=1, max_length=100, description="e.g. Austin")
    ] = None,
) -> BenchmarksOut:
    """Industry benchmarks: the 25th, 50th and 75th percentiles of Google rating, review
    count, conversion rate (leads that became customers), churn rate and won deal size, for
    an industry (and a city, when that city alone has enough data). Figures across
    workspaces are shown only when at least 5 workspaces contribute; otherwise this
    workspace's own figures, labelled `own_tenant`. Answers "how do dentists in Austin
    usually rate?".
    """
    _repository, state, tenant_id = await _crm(ctx)
    _require_sql(state, "get_industry_benchmarks")
    with tool_errors():
        result = await industry_benchmarks_from_store(
            state.database, tenant_id, industry=industry, city=city
        )
    return BenchmarksOut.model_validate(result.model_dump())


async def predict_customer_lifetime_value(
    ctx: Context[AppState, Any],
    account_id: Annotated[uuid.UUID, Field(description="The customer's account id")],
    horizon_weeks: Annotated[
        float, Field(gt=0, le=260, description="How far ahead, in weeks (52 = a year)")
    ] = 52.0,
) -> LifetimeValueOut:
    """A customer's expected lifetime value over a horizon: expected purchases, probability
    the customer is still active, expected spend per purchase and the discounted CLV with a
    90% interval. BG/NBD and Gamma-Gamma models are fitted on the workspace's transactions
    (refitted at most every 10 minutes) and applied to this customer's purchase history.
    Answers "what is Cool Air worth to us over the next year?".
    """
    repository, state, tenant_id = await _crm(ctx)
    _require_sql(state, "predict_customer_lifetime_value")
    with tool_errors(not_found_hint=NOT_FOUND_HINT):
        history = transaction_inputs(await repository.list_transactions(account_id))
        if not history:
            raise ToolError(
                f"account {account_id} has no purchases in the CRM, so there is nothing to "
                "project; lifetime value needs at least one transaction"
            )
        fit = await tenant_ltv_models(state.database, tenant_id)
        customer = summarize_transactions(history, datetime.now(UTC)).row(str(account_id))
        result = predict_clv(fit.model, customer, horizon_weeks=horizon_weeks)
    if not all(math.isfinite(v) for v in (result.clv, result.clv_low, result.clv_high)):
        raise ToolError(
            "the tenant's purchase history does not pin the lifetime-value model down for "
            f"account {account_id} yet (the fit is degenerate); try again with more history"
        )
    out = LifetimeValueOut.model_validate(
        {
            **result.model_dump(),
            "account_id": account_id,
            "fitted_at": fit.fitted_at,
            "fit_customers": fit.model.bg_nbd.n_customers,
            "cached_fit": fit.cached,
        }
    )
    return out


ANALYTICS_TOOLS = [
    ToolSpec(
        fn=analyze_customer_health,
        title="Analyze a customer's health and churn risk",
        access=ToolAccess.WRITE,
        # Saves a new health score each call; may emit churn_risk_detected, which starts
        # workflows on external platforms (open world). Adds rows, never destroys.
        annotations=ToolAnnotations(
            read_only_hint=False,
            destructive_hint=False,
            idempotent_hint=False,
            open_world_hint=True,
        ),
    ),
    ToolSpec(
        fn=list_at_risk_customers,
        title="List customers at risk of churning",
        access=ToolAccess.READ,
        annotations=READ,
        fenced=True,
    ),
    ToolSpec(
        fn=generate_retention_strategy,
        title="Generate a retention strategy",
        access=ToolAccess.READ,
        annotations=READ,
        fenced=True,
    ),
    ToolSpec(
        fn=get_industry_benchmarks,
        title="Industry benchmarks",
        access=ToolAccess.READ,
        annotations=READ,
    ),
    ToolSpec(
        fn=predict_customer_lifetime_value,
        title="Predict customer lifetime value",
        access=ToolAccess.READ,
        annotations=READ,
    ),
]
