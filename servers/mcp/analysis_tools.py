"""The analysis server's tools: lead qualification, review sentiment, growth signals and
competitive analysis, of a CRM account (by id) or of a business given inline.

Each tool takes EITHER `account_id` (an account of the caller's workspace) OR inline data
(`business` / `reviews`), so an agent can analyse a business it found elsewhere. Only
`qualify_lead` writes: on an account id it stores the qualification and lead score (which may
emit lead_qualified). `score_lead` is its read-only twin for viewers and read-only servers.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations
from pydantic import Field, ValidationError

from servers.mcp.analysis_models import (
    CompetitiveOut,
    GrowthSignalsOut,
    LeadQualificationOut,
    SentimentOut,
    fence_fields,
)
from servers.mcp.common.budget import NOTE_RESERVE, shrink_lists
from servers.mcp.common.errors import describe_validation_error, tool_errors
from servers.mcp.common.fence import Fence
from servers.mcp.common.roles import ToolAccess
from servers.mcp.common.state import AppState
from servers.mcp.common.tools import READ_ONLY, ToolSpec, app_state, current_caller
from shared.analytics.competitive import competitive_analysis as compare_competitors
from shared.analytics.growth_signals import identify_growth_signals as growth_signals
from shared.analytics.lead_scoring import qualify_lead as score_business
from shared.analytics.lead_weights import LeadScoringConfig
from shared.analytics.models import BusinessProfile, Review
from shared.analytics.sentiment import analyze_sentiment as score_reviews
from shared.crm.analytics_data import tenant_settings
from shared.crm.analytics_inputs import business_profile, review_inputs
from shared.crm.models import NewLeadQualification, ProspectSearch, ProspectSort
from shared.crm.repository import CrmRepository

__all__ = ["ANALYSIS_TOOLS", "LEAD_SCORING_KEY"]

LEAD_SCORING_KEY = "lead_scoring"  # tenants.settings[...]: a LeadScoringConfig
QUALIFICATION_THRESHOLD_KEY = "qualification_threshold"
DEFAULT_QUALIFICATION_THRESHOLD = 80.0
MAX_REVIEWS = 1000
MAX_COMPETITORS = 25
AUTO_COMPETITORS = 10
NOT_FOUND_HINT = "search_prospects (CRM server) finds account ids by name, city or industry"

READ = READ_ONLY
AccountArg = Annotated[
    uuid.UUID | None,
    Field(description="An account of this workspace (from search_prospects); or give inline data"),
]
BusinessArg = Annotated[
    BusinessProfile | None,
    Field(description="A business given inline (name, rating, review_count, reviews, ...)"),
]


async def _crm(ctx: Context[AppState, Any]) -> tuple[CrmRepository, AppState, uuid.UUID]:
    state = app_state(ctx)
    caller = await current_caller(ctx)
    return await state.crm(caller.tenant_id), state, caller.tenant_id


def _exactly_one(account_id: object, inline: object, inline_name: str) -> None:
    if (account_id is None) == (inline is None):
        raise ToolError(
            f"give exactly one of account_id (a CRM account) or {inline_name} (inline data); "
            f"got {'both' if account_id is not None else 'neither'}"
        )


async def _account_business(repository: CrmRepository, account_id: uuid.UUID) -> BusinessProfile:
    with tool_errors(not_found_hint=NOT_FOUND_HINT):
        detail = await repository.get_account(account_id)
        reviews = await repository.list_reviews(account_id, limit=MAX_REVIEWS)
        return business_profile(detail, reviews)


async def _profile(
    repository: CrmRepository, account_id: uuid.UUID | None, business: BusinessProfile | None
) -> BusinessProfile:
    if business is not None:
        return business
    assert account_id is not None  # _exactly_one ran first
    return await _account_business(repository, account_id)


async def _lead_config(state: AppState, tenant_id: uuid.UUID) -> tuple[LeadScoringConfig, float]:
    settings = await tenant_settings(state.database, tenant_id)
    try:
        config = LeadScoringConfig.model_validate(settings.get(LEAD_SCORING_KEY) or {})
    except ValidationError as exc:
        raise ToolError(
            f"this workspace's lead-scoring settings (tenants.settings.{LEAD_SCORING_KEY}) are "
            f"invalid: {describe_validation_error(exc, what='settings')} Ask an admin to fix them."
        ) from exc
    threshold = settings.get(QUALIFICATION_THRESHOLD_KEY, DEFAULT_QUALIFICATION_THRESHOLD)
    if not isinstance(threshold, int | float) or isinstance(threshold, bool):
        threshold = DEFAULT_QUALIFICATION_THRESHOLD
    return config, float(threshold)


async def _qualify(
    ctx: Context[AppState, Any],
    account_id: uuid.UUID | None,
    business: BusinessProfile | None,
    *,
    store: bool,
) -> LeadQualificationOut:
    _exactly_one(account_id, business, "business")
    repository, state, tenant_id = await _crm(ctx)
    profile = await _profile(repository, account_id, business)
    config, threshold = await _lead_config(state, tenant_id)
    with tool_errors():
        result = score_business(profile, config)
    extra: dict[str, Any] = {"account_id": account_id, "qualification_threshold": threshold}
    if store and account_id is not None:
        with tool_errors(not_found_hint=NOT_FOUND_HINT):
            saved = await repository.record_lead_qualification(
                NewLeadQualification(
                    account_id=account_id,
                    score=result.score,
                    grade=result.grade,
                    factors=[f.model_dump(mode="json") for f in result.factors],
                    model_version=result.model_version,
                    recommended_action=result.recommended_next_step[:500],
                )
            )
        extra.update(stored=True, qualification_id=saved.id)
    out = LeadQualificationOut.model_validate({**result.model_dump(), **extra})
    return fence_fields(out, Fence(), ["explanation"])


async def qualify_lead(
    ctx: Context[AppState, Any],
    account_id: AccountArg = None,
    business: BusinessArg = None,
    store: Annotated[
        bool, Field(description="With account_id: save the result (default true)")
    ] = True,
) -> LeadQualificationOut:
    """Score a business as a lead (0-100, grade A-D) from its Google rating, review volume
    and velocity, website, hours, photos, review sentiment, and fit with the workspace's
    target industries and places; every factor's contribution, talking points and the
    recommended next step are included. Weights per industry come from the workspace's
    settings (`lead_scoring`), else sane defaults.

    With `account_id` the result is saved as the account's qualification and lead score
    (`store: false` to only look); a score above the workspace threshold (default 80) then
    emits lead_qualified, which starts the qualification workflows. With inline `business`
    nothing is saved. score_lead does the same without ever saving.
    """
    return await _qualify(ctx, account_id, business, store=store)


async def score_lead(
    ctx: Context[AppState, Any],
    account_id: AccountArg = None,
    business: BusinessArg = None,
) -> LeadQualificationOut:
    """The same lead score as qualify_lead (score, grade, factor contributions, next step),
    computed without saving anything: for a preview, or where writes are not allowed.
    Give `account_id` (a CRM account) or `business` (inline data), not both.
    """
    return await _qualify(ctx, account_id, business, store=False)


async def analyze_sentiment(
    ctx: Context[AppState, Any],
    account_id: AccountArg = None,
    reviews: Annotated[
        list[Review] | None,
        Field(
            max_length=MAX_REVIEWS,
            description="Reviews given inline: [{rating, text, reviewed_at (ISO with offset)}]",
        ),
    ] = None,
    themes: Annotated[int, Field(ge=1, le=30, description="Themes per side")] = 10,
) -> SentimentOut:
    """Review sentiment with VADER: each review's compound score (-1..1) and label, the mean,
    the shares of positive/neutral/negative reviews, the month-by-month trend (improving,
    stable, declining) and recurring themes in positive vs negative reviews ("wait times",
    "friendly staff"). Answers "what do customers complain about at X?".

    Give `account_id` (reads the account's newest 1000 reviews) or `reviews` inline.
    """
    _exactly_one(account_id, reviews, "reviews")
    repository, state, _ = await _crm(ctx)
    if account_id is not None:
        with tool_errors(not_found_hint=NOT_FOUND_HINT):
            items = review_inputs(await repository.list_reviews(account_id, limit=MAX_REVIEWS))
    else:
        items = list(reviews or [])
    with tool_errors():
        result = score_reviews(items, themes=themes)
    fence = Fence()
    out = SentimentOut.model_validate({**result.model_dump(), "account_id": account_id})
    out = out.model_copy(
        update={
            "positive_themes": [
                t.model_copy(update={"phrase": fence.wrap(t.phrase)}) for t in out.positive_themes
            ],
            "negative_themes": [
                t.model_copy(update={"phrase": fence.wrap(t.phrase)}) for t in out.negative_themes
            ],
        }
    )
    out = fence_fields(out, fence, ["explanation"])
    smaller, dropped = shrink_lists(
        out, ["reviews", "monthly"], state.settings.result_budget_chars - NOTE_RESERVE
    )
    if not dropped:
        return out
    return smaller.model_copy(
        update={
            "truncated": True,
            "truncation_note": "left out to fit the size budget: "
            + ", ".join(f"{n} {name} entries" for name, n in dropped.items())
            + "; the aggregate figures still cover every review",
        }
    )


async def identify_growth_signals(
    ctx: Context[AppState, Any],
    account_id: AccountArg = None,
    business: BusinessArg = None,
) -> GrowthSignalsOut:
    """Is a business growing or shrinking? Signals with direction, strength (0-1) and
    evidence: review velocity (last 90 days vs the 90 before), rating trend, owner replies
    to reviews, new photos, hiring mentions, and website/hours changes when profile history
    is given. Signals without enough data are listed in `not_assessed`.

    Give `account_id` (its reviews and profile) or `business` inline (add `posts` and
    `history` snapshots for the photo, hiring and profile-change signals).
    """
    _exactly_one(account_id, business, "business")
    repository, _, _ = await _crm(ctx)
    profile = await _profile(repository, account_id, business)
    with tool_errors():
        result = growth_signals(profile)
    fence = Fence()
    out = GrowthSignalsOut.model_validate({**result.model_dump(), "account_id": account_id})
    signals = [s.model_copy(update={"evidence": fence.wrap(s.evidence)}) for s in out.signals]
    return fence_fields(out.model_copy(update={"signals": signals}), fence, ["explanation"])


async def _nearby_competitors(
    repository: CrmRepository, account_id: uuid.UUID, profile: BusinessProfile
) -> list[uuid.UUID]:
    if not profile.industry or not profile.city:
        raise ToolError(
            "the account has no industry or city to find competitors by; pass competitor_ids "
            "or competitors inline"
        )
    page = await repository.search_accounts(
        ProspectSearch(
            industry=[profile.industry],
            city=profile.city,
            sort=ProspectSort.REVIEW_COUNT,
            limit=AUTO_COMPETITORS + 1,
        )
    )
    return [a.id for a in page.items if a.id != account_id][:AUTO_COMPETITORS]


async def competitive_analysis(
    ctx: Context[AppState, Any],
    account_id: AccountArg = None,
    business: BusinessArg = None,
    competitor_ids: Annotated[
        list[uuid.UUID] | None,
        Field(max_length=MAX_COMPETITORS, description="CRM accounts to compare against"),
    ] = None,
    competitors: Annotated[
        list[BusinessProfile] | None,
        Field(max_length=MAX_COMPETITORS, description="Competitors given inline"),
    ] = None,
) -> CompetitiveOut:
    """One business against its competitors: percentile rank on rating, review count,
    recent reviews, photos, website, hours and review sentiment; strengths (top quartile),
    gaps (bottom quartile) and the competitor to watch, with why.

    The business: `account_id` or `business` inline. Competitors: `competitor_ids` (CRM
    accounts) and/or `competitors` inline; with neither, for an account, the CRM's accounts
    of the same industry and city (up to 10, most reviewed first).
    """
    _exactly_one(account_id, business, "business")
    repository, _, _ = await _crm(ctx)
    profile = await _profile(repository, account_id, business)
    ids = list(competitor_ids or [])
    if not ids and not competitors:
        if account_id is None:
            raise ToolError("give competitor_ids or competitors to compare an inline business")
        with tool_errors():
            ids = await _nearby_competitors(repository, account_id, profile)
        if not ids:
            raise ToolError(
                f"no other {profile.industry} account in {profile.city} in the CRM; pass "
                "competitor_ids or competitors inline"
            )
    rivals = [await _account_business(repository, i) for i in ids] + list(competitors or [])
    with tool_errors():
        result = compare_competitors(profile, rivals, as_of=datetime.now(UTC))
    fence = Fence()
    out = CompetitiveOut.model_validate(
        {**result.model_dump(), "account_id": account_id, "competitor_ids": ids}
    )
    ranks = [
        r.model_copy(update={"best_competitor": fence.wrap(r.best_competitor)}) for r in out.ranks
    ]
    return fence_fields(
        out.model_copy(update={"ranks": ranks}),
        fence,
        ["business", "strengths", "gaps", "competitor_to_watch", "watch_reason", "explanation"],
    )


ANALYSIS_TOOLS = [
    ToolSpec(
        fn=qualify_lead,
        title="Qualify a lead (and save it)",
        access=ToolAccess.WRITE,
        # Saves a new qualification each call (not idempotent); may emit lead_qualified,
        # which starts workflows on external platforms (open world). Adds, never destroys.
        annotations=ToolAnnotations(
            read_only_hint=False,
            destructive_hint=False,
            idempotent_hint=False,
            open_world_hint=True,
        ),
        fenced=True,
    ),
    ToolSpec(
        fn=score_lead,
        title="Score a lead (read-only)",
        access=ToolAccess.READ,
        annotations=READ,
        fenced=True,
    ),
    ToolSpec(
        fn=analyze_sentiment,
        title="Analyze review sentiment",
        access=ToolAccess.READ,
        annotations=READ,
        fenced=True,
    ),
    ToolSpec(
        fn=identify_growth_signals,
        title="Identify growth signals",
        access=ToolAccess.READ,
        annotations=READ,
        fenced=True,
    ),
    ToolSpec(
        fn=competitive_analysis,
        title="Competitive analysis",
        access=ToolAccess.READ,
        annotations=READ,
        fenced=True,
    ),
]
