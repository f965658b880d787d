"""Compiles a validated `CrmQuery` to SQLAlchemy Core, and the pipeline summary.

Only names from `shared.crm.query.ENTITIES` become columns and every value is a bound
parameter, so nothing a caller wrote is ever SQL text. Every statement is tenant-scoped.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.crm.models import (
    DealStage,
    LifecycleStage,
    PipelineSummary,
    StageConversion,
    StageTotal,
)
from shared.crm.query import (
    CrmQuery,
    CrmQueryResult,
    FieldType,
    FilterOp,
    QueryFilter,
    QueryMetric,
    TimeBucket,
    to_cell,
)
from shared.db.crm_tables import accounts, deals, metadata

__all__ = ["compile_query", "like_pattern", "pipeline_summary", "run_query"]

# Funnel order: a deal or an account at a later stage has passed through the earlier ones.
DEAL_FUNNEL = (DealStage.NEW, DealStage.PROPOSAL, DealStage.NEGOTIATION, DealStage.WON)
LIFECYCLE_FUNNEL = (
    LifecycleStage.PROSPECT,
    LifecycleStage.LEAD,
    LifecycleStage.QUALIFIED,
    LifecycleStage.CUSTOMER,
)
# at_risk and churned accounts were customers; a lost deal's furthest stage is not recorded.
_LIFECYCLE_REACHED = {LifecycleStage.AT_RISK: 3, LifecycleStage.CHURNED: 3}
_DEAL_REACHED = {DealStage.LOST: 0}


def like_pattern(text: str) -> str:
    """`%text%` with LIKE's wildcards escaped (escape character: backslash)."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _condition(column: sa.ColumnElement[Any], f: QueryFilter, text: bool) -> sa.ColumnElement[bool]:
    value = f.typed_value
    match f.op:
        case FilterOp.EQ:
            return column == value
        case FilterOp.NE:  # "not X" includes rows with no value, as a person means it
            return column.is_distinct_from(value)
        case FilterOp.LT:
            return column < value
        case FilterOp.LTE:
            return column <= value
        case FilterOp.GT:
            return column > value
        case FilterOp.GTE:
            return column >= value
        case FilterOp.IN:
            return column.in_(value)
        case FilterOp.CONTAINS:
            assert text
            return column.ilike(like_pattern(str(value)), escape="\\")
        case FilterOp.IS_NULL:
            return column.is_(None) if value else column.is_not(None)


def _bucket(
    dialect: str, column: sa.ColumnElement[Any], bucket: TimeBucket, *, timestamp: bool
) -> tuple[sa.ColumnElement[Any], sa.ColumnElement[Any]]:
    """(what to group by, the first day of the period as 'YYYY-MM-DD'); UTC, ISO weeks start
    on Monday. Grouping works on the cheapest form: a text prefix on SQLite (dates and
    UtcDateTime values are stored as ISO text there), a timestamp on Postgres (formatted only
    once per group, not once per row)."""
    if dialect == "sqlite":
        if bucket.unit == "day":
            day = sa.func.substr(column, 1, 10, type_=sa.Text())
            return day, day
        if bucket.unit == "month":
            month = sa.func.substr(column, 1, 7, type_=sa.Text()).concat("-01")
            return month, month
        # 'weekday 0' moves forward to Sunday (or stays), then back six days to Monday
        week = sa.func.date(column, "weekday 0", "-6 days")
        return week, week
    # timestamptz is cut in UTC, whatever the session's time zone is
    utc = sa.func.timezone("UTC", column) if timestamp else column
    period = sa.func.date_trunc(bucket.unit, utc)
    return period, sa.func.to_char(period, "YYYY-MM-DD")


def _as_number(expr: sa.ColumnElement[Any], column: sa.ColumnElement[Any]) -> Any:
    """Decimal columns as floats on both databases (SQLite hands back 100 for 100.0)."""
    numeric = isinstance(column.type, sa.Numeric) and not isinstance(column.type, sa.Float)
    return sa.cast(expr, sa.Float()) if numeric else expr


def _metric(table: sa.Table, metric: QueryMetric) -> sa.ColumnElement[Any]:
    if metric.field is None:
        return sa.func.count()
    column = table.c[metric.field]
    match metric.fn:
        case "count":
            return sa.func.count(column)
        case "sum":
            return _as_number(sa.func.sum(column), column)
        case "avg":
            return sa.cast(sa.func.avg(column), sa.Float())
        case "min":
            return _as_number(sa.func.min(column, type_=column.type), column)
        case "max":
            return _as_number(sa.func.max(column, type_=column.type), column)


def compile_query(dialect: str, tenant_id: uuid.UUID, query: CrmQuery) -> sa.Select[Any]:
    """A SELECT of `query.result_columns()` in order, at most limit+1 rows (to see truncation)."""
    spec = query.spec
    table = metadata.tables[spec.table]
    where: list[sa.ColumnElement[bool]] = [table.c.tenant_id == tenant_id]
    for f in query.filters:
        where.append(_condition(table.c[f.field], f, spec.field(f.field).type is FieldType.TEXT))
    selected: dict[str, sa.ColumnElement[Any]] = {}
    groups: list[sa.ColumnElement[Any]] = []
    if not query.is_aggregate:
        selected = {name: _as_number(table.c[name], table.c[name]) for name in query.record_fields}
        tiebreak = [table.c.id]
    else:
        if query.time_bucket:
            bucket = query.time_bucket
            period, selected["bucket"] = _bucket(
                dialect,
                table.c[bucket.field],
                bucket,
                timestamp=spec.field(bucket.field).timestamp,
            )
            groups.append(period)
        selected.update({name: table.c[name] for name in query.group_by})
        groups += [table.c[name] for name in query.group_by]
        selected.update({m.alias: _metric(table, m) for m in query.effective_metrics})
        tiebreak = groups
    order: list[sa.ColumnElement[Any]] = []
    for o in query.effective_order():
        expr = selected.get(o.by, table.c.get(o.by))
        if expr is None:
            continue
        order.append((expr.desc() if o.descending else expr.asc()).nulls_last())
    stmt = sa.select(*(expr.label(name) for name, expr in selected.items())).where(*where)
    if groups:
        stmt = stmt.group_by(*groups)
    return stmt.order_by(*order, *tiebreak).limit(query.limit + 1)


async def run_query(conn: AsyncConnection, tenant_id: uuid.UUID, query: CrmQuery) -> CrmQueryResult:
    stmt = compile_query(conn.dialect.name, tenant_id, query)
    rows = (await conn.execute(stmt)).all()
    truncated = len(rows) > query.limit
    cells = [[to_cell(value) for value in row] for row in rows[: query.limit]]
    return CrmQueryResult(
        columns=query.result_columns(), rows=cells, row_count=len(cells), truncated=truncated
    )


def _conversions(reached: list[int], names: list[str]) -> list[StageConversion]:
    return [
        StageConversion(
            from_stage=names[i],
            to_stage=names[i + 1],
            rate=round(reached[i + 1] / reached[i], 4) if reached[i] else None,
        )
        for i in range(len(names) - 1)
    ]


async def pipeline_summary(
    conn: AsyncConnection, tenant_id: uuid.UUID, start: datetime, end: datetime
) -> PipelineSummary:
    """The pipeline during [start, end).

    deals_by_stage: deals created before `end` that are still open or closed in the period,
    by current stage. Conversion between consecutive funnel stages (new → proposal →
    negotiation → won; prospect → lead → qualified → customer) is reached-next / reached-this
    over those deals and over all accounts created before `end`, where a later stage counts
    as having reached the earlier ones (at_risk and churned count as customers; a lost deal
    only as `new`, since its furthest stage is not recorded). won/lost: closed in the period.
    """
    d = deals.c
    closed_in_period = sa.and_(d.closed_at >= start, d.closed_at < end)
    in_pipeline = sa.and_(
        d.tenant_id == tenant_id,
        d.created_at < end,
        sa.or_(d.stage.in_(["new", "proposal", "negotiation"]), closed_in_period),
    )
    by_stage = {
        str(stage): (int(count), float(value or 0))
        for stage, count, value in (
            await conn.execute(
                sa.select(d.stage, sa.func.count(), sa.func.sum(d.amount, type_=sa.Float()))
                .where(in_pipeline)
                .group_by(d.stage)
            )
        ).all()
    }
    deal_totals = [
        StageTotal(
            stage=s.value,
            count=by_stage.get(s.value, (0, 0.0))[0],
            value=by_stage.get(s.value, (0, 0.0))[1],
        )
        for s in DealStage
    ]
    a = accounts.c
    by_lifecycle = {
        str(stage): int(count)
        for stage, count in (
            await conn.execute(
                sa.select(a.lifecycle_stage, sa.func.count())
                .where(a.tenant_id == tenant_id, a.created_at < end)
                .group_by(a.lifecycle_stage)
            )
        ).all()
    }
    lifecycle_totals = [
        StageTotal(stage=s.value, count=by_lifecycle.get(s.value, 0), value=0.0)
        for s in LifecycleStage
    ]
    deal_reached = _reached(
        {DealStage(k): v[0] for k, v in by_stage.items()}, DEAL_FUNNEL, _DEAL_REACHED
    )
    lifecycle_reached = _reached(
        {LifecycleStage(k): v for k, v in by_lifecycle.items()},
        LIFECYCLE_FUNNEL,
        _LIFECYCLE_REACHED,
    )
    won = (
        await conn.execute(
            sa.select(sa.func.count(), sa.func.sum(d.amount, type_=sa.Float())).where(
                d.tenant_id == tenant_id, d.stage == "won", closed_in_period
            )
        )
    ).one()
    lost = await conn.scalar(
        sa.select(sa.func.count()).where(
            d.tenant_id == tenant_id, d.stage == "lost", closed_in_period
        )
    )
    new_deals = await conn.scalar(
        sa.select(sa.func.count()).where(
            d.tenant_id == tenant_id, d.created_at >= start, d.created_at < end
        )
    )
    return PipelineSummary(
        period_start=start,
        period_end=end,
        deals_by_stage=deal_totals,
        accounts_by_lifecycle_stage=lifecycle_totals,
        conversion=[
            *_conversions(deal_reached, [s.value for s in DEAL_FUNNEL]),
            *_conversions(lifecycle_reached, [s.value for s in LIFECYCLE_FUNNEL]),
        ],
        won_count=int(won[0]),
        won_revenue=float(won[1] or 0),
        lost_count=int(lost or 0),
        new_deals=int(new_deals or 0),
    )


def _reached(
    counts: dict[Any, int], funnel: tuple[Any, ...], furthest: dict[Any, int]
) -> list[int]:
    """How many reached each funnel stage: those at it or at any later stage."""
    reached = [0] * len(funnel)
    for stage, count in counts.items():
        index = funnel.index(stage) if stage in funnel else furthest.get(stage, 0)
        for i in range(index + 1):
            reached[i] += count
    return reached
