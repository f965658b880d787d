"""The `supabase` data source's reads that are more than a lookup: the prospect search with
keyset pages, structured queries and the pipeline summary.

The search is PostgREST filters (values quoted as PostgREST's grammar wants; text matched as
an escaped regular expression, so nothing a user types acts as a wildcard). Structured
queries and the pipeline counts run in SQL functions of migration 0002 (`crm_query`,
`crm_pipeline_counts`): PostgREST alone cannot bucket by time, and its aggregates are off
by default on Supabase. Results match the `sql` source's exactly:
the contract tests hold both to the same expectations.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any, cast

import anyio
from postgrest import AsyncSelectRequestBuilder
from postgrest.types import CountMethod

from shared.crm.cursor import KeysetPosition, decode_cursor, encode_cursor, search_fingerprint
from shared.crm.models import (
    AccountPage,
    AccountSummary,
    DealStage,
    LifecycleStage,
    Page,
    PipelineSummary,
    ProspectSearch,
    StageTotal,
)
from shared.crm.query import CrmQuery, CrmQueryResult, FieldType, to_cell
from shared.crm.sql_queries import (
    _DEAL_REACHED,  # pyright: ignore[reportPrivateUsage]
    _LIFECYCLE_REACHED,  # pyright: ignore[reportPrivateUsage]
    DEAL_FUNNEL,
    LIFECYCLE_FUNNEL,
    _conversions,  # pyright: ignore[reportPrivateUsage]
    _reached,  # pyright: ignore[reportPrivateUsage]
)
from shared.crm.supabase_client import Rest, Rows
from shared.db.types import utcnow
from shared.errors import SwitchboardError

__all__ = ["pipeline_summary", "run_query", "search_accounts"]

_SUMMARY_SELECT = ",".join(AccountSummary.model_fields)


# -- search_accounts ---------------------------------------------------------------------------


def _quoted(value: object) -> str:
    """A value inside PostgREST's `or=(...)` grammar, where `,.:()` would otherwise split it."""
    text = value.isoformat() if isinstance(value, datetime) else str(value)
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _literal_regex(text: str) -> str:
    """`text` as a POSIX regular expression matching itself: every character but letters and
    digits backslash-escaped. Used with PostgREST's `imatch` (`~*`) rather than `ilike`,
    because PostgREST turns every `*` of a LIKE pattern into `%` and a literal `*` could not
    be searched for."""
    return "".join(c if c.isalnum() else "\\" + c for c in text)


def _filtered(
    request: AsyncSelectRequestBuilder, rest: Rest, search: ProspectSearch
) -> AsyncSelectRequestBuilder:
    """The search's conditions (the `sql` source's, one for one) on a request."""
    request = request.eq("tenant_id", rest.tenant)
    if search.industry:
        request = request.in_("industry", search.industry)
    # Case-insensitive equality, as the sql source's lower(x) = lower(y).
    if search.city:
        request = request.filter("city", "imatch", f"^{_literal_regex(search.city)}$")
    if search.region:
        request = request.filter("region", "imatch", f"^{_literal_regex(search.region)}$")
    for column, low, high in (
        ("gmb_rating", search.rating_min, search.rating_max),
        ("gmb_review_count", search.review_count_min, search.review_count_max),
        ("lead_score", search.lead_score_min, search.lead_score_max),
    ):
        if low is not None:
            request = request.gte(column, low)
        if high is not None:
            request = request.lte(column, high)
    if search.lifecycle_stage:
        request = request.in_("lifecycle_stage", [s.value for s in search.lifecycle_stage])
    either: list[str] = []
    if search.has_website is True:
        request = request.not_.is_("website", "null").neq("website", "")
    elif search.has_website is False:
        either.append('or(website.is.null,website.eq."")')
    if search.text:
        pattern = _quoted(_literal_regex(search.text))
        either.append(f"or(name.imatch.{pattern},notes.imatch.{pattern})")
    if either:  # ANDed groups of ORs: PostgREST's `and=(or(..),or(..))`
        request.request.params = request.request.params.add("and", f"({','.join(either)})")
    if search.not_contacted_since_days is not None:
        cutoff = utcnow() - timedelta(days=search.not_contacted_since_days)
        # An anti-join: keep accounts whose embedded recent activities are empty.
        request = (
            request.eq("activities.tenant_id", rest.tenant)
            .gte("activities.created_at", cutoff.isoformat())
            .is_("activities", "null")
        )
    return request


def _select(
    rest: Rest, search: ProspectSearch, columns: str, *, count: CountMethod | None = None
) -> AsyncSelectRequestBuilder:
    """This tenant's accounts matching `search`, selecting `columns`."""
    if search.not_contacted_since_days is not None:
        columns += ",activities!fk_activities_account_id_accounts()"
    return _filtered(rest.table("accounts").select(columns, count=count), rest, search)


async def search_accounts(rest: Rest, search: ProspectSearch) -> Page[AccountSummary]:
    """A keyset page as the `sql` source reads it: rows with a sort value by (value, id),
    then rows without one by id; the total counted alongside."""
    tenant_id = uuid.UUID(rest.tenant)
    fingerprint = search_fingerprint(search, tenant_id)
    position = decode_cursor(search.cursor, search, fingerprint) if search.cursor else None
    column = search.sort.value
    wanted = search.limit + 1
    total = 0

    async def count() -> None:
        nonlocal total
        response = await rest.response(
            _select(rest, search, "id", count=CountMethod.exact).limit(1)
        )
        total = response.count or 0

    found: Rows = []

    async def page() -> None:
        rows = found
        ordering = "lt" if search.descending else "gt"
        if position is None or position.sort_value is not None:
            request = _select(rest, search, _SUMMARY_SELECT).not_.is_(column, "null")
            if position is not None:
                value, key = _quoted(position.sort_value), _quoted(position.id)
                request = request.or_(
                    f"{column}.{ordering}.{value},and({column}.eq.{value},id.{ordering}.{key})"
                )
            request = (
                request.order(column, desc=search.descending)
                .order("id", desc=search.descending)
                .limit(wanted)
            )
            rows.extend(await rest.rows(request))
        if len(rows) < wanted:
            request = _select(rest, search, _SUMMARY_SELECT).is_(column, "null")
            if position is not None and position.sort_value is None:
                request = request.filter("id", ordering, str(position.id))
            request = request.order("id", desc=search.descending).limit(wanted - len(rows))
            rows.extend(await rest.rows(request))

    try:  # the count and the page concurrently: two round trips cost one
        async with anyio.create_task_group() as group:
            group.start_soon(count)
            group.start_soon(page)
    except* SwitchboardError as failed:
        first = failed.exceptions[0]
        raise (
            first if isinstance(first, SwitchboardError) else SwitchboardError(str(first))
        ) from None
    items = [AccountSummary.model_validate(row) for row in found[: search.limit]]
    next_cursor = None
    if len(found) > search.limit:
        last = items[-1]
        next_cursor = encode_cursor(fingerprint, KeysetPosition(getattr(last, column), last.id))
    return AccountPage(items=items, total=total, next_cursor=next_cursor)


# -- query_crm ---------------------------------------------------------------------------------


def _query_spec(query: CrmQuery) -> dict[str, Any]:
    """The validated query as the `crm_query` SQL function reads it."""
    spec = query.spec
    columns: list[dict[str, Any]] = []
    if not query.is_aggregate:
        columns = [{"field": name} for name in query.record_fields]
    else:
        if query.time_bucket:
            columns.append({"bucket": query.time_bucket.field, "unit": query.time_bucket.unit})
        columns.extend({"field": name} for name in query.group_by)
        columns.extend({"fn": m.fn, "field": m.field} for m in query.effective_metrics)
    names = query.result_columns()
    order = [
        {"column": names.index(o.by), "desc": o.descending}
        for o in query.effective_order()
        if o.by in names
    ]
    filters = [
        {"field": f.field, "op": f.op.value, "value": _json_value(f.typed_value)}
        for f in query.filters
    ]
    return {
        "table": spec.table,
        "filters": filters,
        "columns": columns,
        "order": order,
        "limit": query.limit + 1,
    }


def _json_value(value: Any) -> Any:
    if isinstance(value, list):
        return [_json_value(v) for v in cast(list[Any], value)]
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def _timestamp_columns(query: CrmQuery) -> set[int]:
    """Result columns holding a timestamp, which Postgres renders in its session's zone:
    those are rendered again in UTC as the `sql` source does."""
    spec = query.spec

    def is_timestamp(field: str | None) -> bool:
        if field is None:
            return False
        fs = spec.fields[field]
        return fs.type is FieldType.DATE and fs.timestamp

    if not query.is_aggregate:
        return {i for i, name in enumerate(query.record_fields) if is_timestamp(name)}
    offset = (1 if query.time_bucket else 0) + len(query.group_by)
    return {
        offset + i
        for i, m in enumerate(query.effective_metrics)
        if m.fn in ("min", "max") and is_timestamp(m.field)
    }


async def run_query(rest: Rest, query: CrmQuery) -> CrmQueryResult:
    data = await rest.call("crm_query", {"p_tenant_id": rest.tenant, "p_spec": _query_spec(query)})
    rows = cast(list[list[Any]], data if isinstance(data, list) else [])
    timestamps = _timestamp_columns(query)
    cells = [
        [
            to_cell(datetime.fromisoformat(v).astimezone(UTC))
            if i in timestamps and isinstance(v, str)
            else to_cell(v)
            for i, v in enumerate(row)
        ]
        for row in rows[: query.limit]
    ]
    return CrmQueryResult(
        columns=query.result_columns(),
        rows=cells,
        row_count=len(cells),
        truncated=len(rows) > query.limit,
    )


# -- pipeline_summary --------------------------------------------------------------------------


async def pipeline_summary(rest: Rest, start: datetime, end: datetime) -> PipelineSummary:
    """The `sql` source's summary (see `shared.crm.sql_queries.pipeline_summary`), from the
    counts `crm_pipeline_counts` returns in one call."""
    data = await rest.call(
        "crm_pipeline_counts",
        {"p_tenant_id": rest.tenant, "p_start": start.isoformat(), "p_end": end.isoformat()},
    )
    if not isinstance(data, dict):
        raise SwitchboardError("crm_pipeline_counts returned no counts; is migration 0002 applied?")
    counts = cast(dict[str, Any], data)
    by_stage: dict[str, tuple[int, float]] = {
        str(k): (int(v[0]), float(v[1])) for k, v in counts["deals_by_stage"].items()
    }
    by_lifecycle: dict[str, int] = {str(k): int(v) for k, v in counts["accounts_by_stage"].items()}
    deal_reached = _reached(
        {DealStage(k): v[0] for k, v in by_stage.items()}, DEAL_FUNNEL, _DEAL_REACHED
    )
    lifecycle_reached = _reached(
        {LifecycleStage(k): v for k, v in by_lifecycle.items()},
        LIFECYCLE_FUNNEL,
        _LIFECYCLE_REACHED,
    )
    won_count, won_revenue = counts["won"]
    return PipelineSummary(
        period_start=start,
        period_end=end,
        deals_by_stage=[
            StageTotal(
                stage=s.value,
                count=by_stage.get(s.value, (0, 0.0))[0],
                value=by_stage.get(s.value, (0, 0.0))[1],
            )
            for s in DealStage
        ],
        accounts_by_lifecycle_stage=[
            StageTotal(stage=s.value, count=by_lifecycle.get(s.value, 0), value=0.0)
            for s in LifecycleStage
        ],
        conversion=[
            *_conversions(deal_reached, [s.value for s in DEAL_FUNNEL]),
            *_conversions(lifecycle_reached, [s.value for s in LIFECYCLE_FUNNEL]),
        ],
        won_count=int(won_count),
        won_revenue=float(won_revenue),
        lost_count=int(counts["lost"]),
        new_deals=int(counts["new_deals"]),
    )
