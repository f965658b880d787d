"""The statements behind `search_accounts`, built once per shape, bound per call.

Building a SQLAlchemy Core statement on every call (and then its cache key) cost more than
running it. So a search's statements are built once per shape (which filters it has, how
many items its list filters have, its sort and direction, where its page starts;
`search_statements` keeps them), compiled for the driver (raw_statements), and a call
supplies only bind values. Every statement binds `tenant`. get_account's statements are in
`account_reads`.
"""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from shared.crm.cursor import KeysetPosition
from shared.crm.models import AccountSummary, ProspectSearch, ProspectSort
from shared.crm.text_search import TextMatch, account_text_condition, text_match
from shared.db.crm_tables import accounts, activities
from shared.db.raw_statements import RawStatement
from shared.db.types import UUID, UtcDateTime, utcnow

__all__ = [
    "SORT_COLUMNS",
    "RawSearch",
    "SearchStatements",
    "search_statements",
    "search_values",
]

SORT_COLUMNS: dict[ProspectSort, sa.Column[Any]] = {
    ProspectSort.NAME: accounts.c.name,
    ProspectSort.RATING: accounts.c.gmb_rating,
    ProspectSort.REVIEW_COUNT: accounts.c.gmb_review_count,
    ProspectSort.LEAD_SCORE: accounts.c.lead_score,
    ProspectSort.UPDATED_AT: accounts.c.updated_at,
}
_SUMMARY_COLUMNS = [accounts.c[name] for name in AccountSummary.model_fields]

TENANT = sa.bindparam("tenant", type_=UUID)

# (ProspectSearch field, column, operator): the range filters
_RANGES = (
    ("rating_min", accounts.c.gmb_rating, "ge"),
    ("rating_max", accounts.c.gmb_rating, "le"),
    ("review_count_min", accounts.c.gmb_review_count, "ge"),
    ("review_count_max", accounts.c.gmb_review_count, "le"),
    ("lead_score_min", accounts.c.lead_score, "ge"),
    ("lead_score_max", accounts.c.lead_score, "le"),
)


@dataclass(frozen=True)
class _SearchShape:
    """What decides a search's SQL text (not its values): the cache key of its statements."""

    sqlite: bool
    industries: int  # one parameter per item: see `_conditions`
    city: bool
    region: bool
    ranges: tuple[str, ...]
    stages: int
    has_website: bool | None
    text: TextMatch | None
    not_contacted: bool
    sort: ProspectSort
    descending: bool
    after: bool | None  # None: first page; True: after a row with a sort value; False: without


@dataclass(frozen=True)
class SearchStatements:
    """`valued`: matches with a sort value, in order (None when the page starts past them);
    `unvalued`: matches without one, by id; `count`: how many match, up to `:cap`;
    `first_counted`: the first of the two parts beside the count (column `total`), in one
    statement, a row with no account (id NULL) if the part is empty: one round trip.
    Bind `:wanted` and `:rest` (the rows each part may return) and `search_values`."""

    valued: sa.Select[Any] | None
    unvalued: sa.Select[Any]
    count: sa.Select[Any]
    first_counted: sa.Select[Any]
    raw: RawSearch  # the same, compiled for the shape's database


@dataclass(frozen=True)
class RawSearch:
    """`SearchStatements`' statements compiled for the driver (what the searches run)."""

    valued: RawStatement | None
    unvalued: RawStatement
    count: RawStatement
    first_counted: RawStatement  # Postgres only (SQLite has no LATERAL): the same as count


def _shape(search: ProspectSearch, sqlite: bool, position: KeysetPosition | None) -> _SearchShape:
    return _SearchShape(
        sqlite=sqlite,
        industries=len(search.industry or ()),
        city=bool(search.city),
        region=bool(search.region),
        ranges=tuple(name for name, _, _ in _RANGES if getattr(search, name) is not None),
        stages=len(search.lifecycle_stage or ()),
        has_website=search.has_website,
        text=text_match(search.text, sqlite=sqlite)[0] if search.text else None,
        not_contacted=search.not_contacted_since_days is not None,
        sort=search.sort,
        descending=search.descending,
        after=None if position is None else position.sort_value is not None,
    )


def search_values(
    search: ProspectSearch,
    tenant_id: uuid.UUID,
    position: KeysetPosition | None,
    *,
    sqlite: bool,
) -> dict[str, Any]:
    """The bind values of `search_statements(search, ...)` but `wanted`, `rest` and `cap`."""
    values: dict[str, Any] = {"tenant": tenant_id}
    for i, industry in enumerate(search.industry or ()):
        values[f"industry_{i}"] = industry
    if search.city:
        values["city"] = search.city
    if search.region:
        values["region"] = search.region
    for name, _, _ in _RANGES:
        if getattr(search, name) is not None:
            values[name] = getattr(search, name)
    for i, stage in enumerate(search.lifecycle_stage or ()):
        values[f"stage_{i}"] = stage.value
    if search.text:
        values["text"] = text_match(search.text, sqlite=sqlite)[1]
    if search.not_contacted_since_days is not None:
        values["cutoff"] = utcnow() - timedelta(days=search.not_contacted_since_days)
    if position is not None:
        values["after_id"] = position.id
        if position.sort_value is not None:
            values["after_value"] = position.sort_value
    return values


def search_statements(
    search: ProspectSearch, position: KeysetPosition | None, *, sqlite: bool
) -> SearchStatements:
    return _search_statements(_shape(search, sqlite, position))


@functools.lru_cache(maxsize=512)
def _search_statements(shape: _SearchShape) -> SearchStatements:
    conditions = _conditions(shape)
    column, key = SORT_COLUMNS[shape.sort], accounts.c.id
    order = sa.desc if shape.descending else sa.asc
    valued = None
    if shape.after is not False:
        valued = sa.select(*_SUMMARY_COLUMNS).where(*conditions, column.is_not(None))
        if shape.after:
            pair = sa.tuple_(column, key)
            after = sa.tuple_(
                sa.bindparam("after_value", type_=column.type), sa.bindparam("after_id", type_=UUID)
            )
            valued = valued.where(pair < after if shape.descending else pair > after)
        valued = valued.order_by(order(column), order(key)).limit(
            sa.bindparam("wanted", type_=sa.Integer())
        )
    unvalued = sa.select(*_SUMMARY_COLUMNS).where(*conditions, column.is_(None))
    if shape.after is False:
        after_id = sa.bindparam("after_id", type_=UUID)
        unvalued = unvalued.where(key < after_id if shape.descending else key > after_id)
    unvalued = unvalued.order_by(order(key)).limit(sa.bindparam("rest", type_=sa.Integer()))
    # Counting stops at :cap: an exact count of a broad search is a second pass over every
    # match, far dearer than the page itself.
    matches = (
        sa.select(sa.literal(1))
        .where(*conditions)
        .limit(sa.bindparam("cap", type_=sa.Integer()))
        .subquery()
    )
    count = sa.select(sa.func.count().label("total")).select_from(matches)
    first = valued if valued is not None else unvalued
    page = first.lateral("page")
    counted = count.subquery("counted")
    first_order = [order(page.c[column.name])] if valued is not None else []
    first_counted = (
        sa.select(*[counted.c.total, *page.c])
        .select_from(counted.outerjoin(page, sa.true()))
        .order_by(*first_order, order(page.c.id))
    )
    dialect = "sqlite" if shape.sqlite else "postgresql"

    def raw(stmt: sa.Select[Any]) -> RawStatement:
        return RawStatement.compile(stmt, dialect)

    raw_count = raw(count)
    raw_search = RawSearch(
        raw(valued) if valued is not None else None,
        raw(unvalued),
        raw_count,
        raw_count if shape.sqlite else raw(first_counted),
    )
    return SearchStatements(valued, unvalued, count, first_counted, raw_search)


def _conditions(shape: _SearchShape) -> list[sa.ColumnElement[bool]]:
    c = accounts.c
    where: list[sa.ColumnElement[bool]] = [c.tenant_id == TENANT]
    # An IN list of one parameter per item, not one expanding parameter: Postgres plans
    # `industry IN ($1)` as an equality (an ordered index scan), `= ANY($1)` it cannot; and
    # the statement's text is then fixed per shape, so it is compiled and prepared once.
    if shape.industries:
        where.append(c.industry.in_(_text_params("industry", shape.industries)))
    for column, present in ((c.city, shape.city), (c.region, shape.region)):
        if present:
            where.append(_same_place(shape, column, sa.bindparam(column.name, type_=sa.Text())))
    for name, column, op in _RANGES:
        if name in shape.ranges:
            bound = sa.bindparam(name, type_=column.type)
            where.append(_unselective(shape, column >= bound if op == "ge" else column <= bound))
    if shape.stages:
        where.append(c.lifecycle_stage.in_(_text_params("stage", shape.stages)))
    if shape.has_website is not None:
        has_one = sa.and_(c.website.is_not(None), c.website != "")
        where.append(has_one if shape.has_website else sa.not_(has_one))
    if shape.text is not None:
        where.append(account_text_condition(shape.text, sa.bindparam("text", type_=sa.Text())))
    if shape.not_contacted:
        recent = sa.select(activities.c.id).where(
            activities.c.tenant_id == TENANT,
            activities.c.account_id == c.id,
            activities.c.created_at >= sa.bindparam("cutoff", type_=UtcDateTime()),
        )
        where.append(~recent.exists())
    return where


def _text_params(prefix: str, count: int) -> list[sa.BindParameter[str]]:
    """`prefix_0` .. `prefix_<count-1>`: the items of a list filter (`search_values`)."""
    return [sa.bindparam(f"{prefix}_{i}", type_=sa.Text()) for i in range(count)]


def _unselective(shape: _SearchShape, term: sa.ColumnElement[bool]) -> sa.ColumnElement[bool]:
    """A range filter, marked likely true for SQLite's planner. Without ANALYZE statistics
    (a store filled by ordinary writes never gets them) SQLite rates `rating >= 4` as
    narrower than industry = ? AND city = ?, and scans most of the tenant through the
    (tenant_id, gmb_rating) index. likely() changes only that estimate, not the result."""
    if shape.sqlite:
        return sa.func.likely(term, type_=sa.Boolean())
    return term


def _same_place(
    shape: _SearchShape, column: sa.Column[Any], place: sa.BindParameter[str]
) -> sa.ColumnElement[bool]:
    """Case-insensitive equality, spelled so an index serves it: SQLite's city and region
    columns are NOCASE, Postgres has an index on lower(city) (migration 0001)."""
    if shape.sqlite:
        return column == place
    return sa.func.lower(column) == sa.func.lower(place)
