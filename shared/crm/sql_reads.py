"""The statements behind `get_account` and `search_accounts`, built once, bound per call.

Building a SQLAlchemy Core statement on every call (and then its cache key) cost more than
running it: an account is five point lookups that SQLite answers in 50 µs. So the account
reads are built once, a search's once per shape (which filters it has, its sort and
direction, where its page starts; `search_statements` keeps them), and a call supplies only
bind values. Every statement binds `tenant`: an id from another tenant reads as missing.

On SQLite the account is five statements (the caller runs them without round trips); on
Postgres it is one, its lists as JSON aggregates, so a call is one round trip.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import aggregate_order_by

from shared.crm.cursor import KeysetPosition
from shared.crm.models import AccountDetail, AccountSummary, ProspectSearch, ProspectSort
from shared.crm.text_search import TextMatch, account_text_condition, text_match
from shared.db.crm_tables import (
    accounts,
    activities,
    ai_lead_qualification,
    contacts,
    customer_health_scores,
    deals,
    reviews,
)
from shared.db.types import UUID, UtcDateTime, utcnow

__all__ = [
    "ACCOUNT_READS_POSTGRES",
    "ACCOUNT_READS_SQLITE",
    "OPEN_DEAL_STAGES",
    "RECENT_ITEMS",
    "SORT_COLUMNS",
    "SearchStatements",
    "account_detail",
    "account_detail_from_json",
    "search_statements",
    "search_values",
]

RECENT_ITEMS = 10
OPEN_DEAL_STAGES = ("new", "proposal", "negotiation")

SORT_COLUMNS: dict[ProspectSort, sa.Column[Any]] = {
    ProspectSort.NAME: accounts.c.name,
    ProspectSort.RATING: accounts.c.gmb_rating,
    ProspectSort.REVIEW_COUNT: accounts.c.gmb_review_count,
    ProspectSort.LEAD_SCORE: accounts.c.lead_score,
    ProspectSort.UPDATED_AT: accounts.c.updated_at,
}
_SUMMARY_COLUMNS = [accounts.c[name] for name in AccountSummary.model_fields]
_DETAIL_COLUMNS = [
    accounts.c[name]
    for name in AccountDetail.model_fields
    if name in accounts.c and name != "tenant_id"
]

TENANT = sa.bindparam("tenant", type_=UUID)
ACCOUNT = sa.bindparam("account", type_=UUID)

# -- get_account -------------------------------------------------------------------------------

_Order = Callable[[sa.ColumnCollection[str, Any]], list[sa.ColumnElement[Any]]]


@dataclass(frozen=True)
class _AccountList:
    """One list of an account's rows: `field` of AccountDetail, in `order`, at most `limit`."""

    field: str
    table: sa.Table
    order: _Order  # of a column collection: the table's, or a subquery's over it
    limit: int | None = None
    only_open_deals: bool = False

    def select(self) -> sa.Select[Any]:
        stmt = sa.select(self.table).where(
            self.table.c.tenant_id == TENANT, self.table.c.account_id == ACCOUNT
        )
        if self.only_open_deals:
            stmt = stmt.where(self.table.c.stage.in_(OPEN_DEAL_STAGES))
        return stmt.order_by(*self.order(self.table.c)).limit(self.limit)


_LISTS = (
    _AccountList("contacts", contacts, lambda c: [c.is_primary.desc(), c.last_name, c.id]),
    _AccountList("open_deals", deals, lambda c: [c.created_at.desc(), c.id], only_open_deals=True),
    _AccountList(
        "recent_activities", activities, lambda c: [c.created_at.desc(), c.id], RECENT_ITEMS
    ),
    _AccountList("recent_reviews", reviews, lambda c: [c.reviewed_at.desc(), c.id], RECENT_ITEMS),
)
# (field of AccountDetail, table, the column whose greatest value is the latest row)
_LATEST = (
    ("latest_qualification", ai_lead_qualification, ai_lead_qualification.c.created_at),
    ("latest_health", customer_health_scores, customer_health_scores.c.computed_at),
)


def _latest_id(table: sa.Table, newest: sa.Column[Any]) -> sa.ScalarSelect[Any]:
    return (
        sa.select(table.c.id)
        .where(table.c.tenant_id == TENANT, table.c.account_id == ACCOUNT)
        .order_by(newest.desc())
        .limit(1)
        .scalar_subquery()
    )


def _sqlite_account_reads() -> list[sa.Select[Any]]:
    """The account row carrying its latest qualification and health score (prefixed columns
    of two outer joins), then one statement per list, in `_LISTS` order."""
    joined = accounts
    prefixed: list[sa.ColumnElement[Any]] = []
    for field, table, newest in _LATEST:
        joined = joined.outerjoin(table, table.c.id == _latest_id(table, newest))
        prefixed += [c.label(f"{field}__{c.name}") for c in table.c]
    account = (
        sa.select(*_DETAIL_COLUMNS, *prefixed)
        .select_from(joined)
        .where(accounts.c.id == ACCOUNT, accounts.c.tenant_id == TENANT)
    )
    return [account, *(one.select() for one in _LISTS)]


def _postgres_account_read() -> sa.Select[Any]:
    """One statement: the account's columns, each list as a JSON array, each latest row as a
    JSON object (or NULL)."""
    fields: list[sa.ColumnElement[Any]] = []
    for one in _LISTS:
        rows = one.select().subquery("r")
        listed = sa.func.json_agg(aggregate_order_by(rows.table_valued(), *one.order(rows.c)))
        fields.append(
            sa.select(sa.func.coalesce(listed, sa.literal_column("'[]'::json")))
            .scalar_subquery()
            .label(one.field)
        )
    for field, table, newest in _LATEST:
        latest = sa.select(table).where(table.c.id == _latest_id(table, newest)).subquery("l")
        row = sa.func.row_to_json(latest.table_valued())
        fields.append(sa.select(row).scalar_subquery().label(field))
    return sa.select(*_DETAIL_COLUMNS, *fields).where(
        accounts.c.id == ACCOUNT, accounts.c.tenant_id == TENANT
    )


ACCOUNT_READS_SQLITE = _sqlite_account_reads()
ACCOUNT_READS_POSTGRES = _postgres_account_read()


def _unprefix(fields: dict[str, Any], prefix: str) -> dict[str, Any] | None:
    """Take the `prefix`ed columns of an outer-joined row out of `fields`; None when the join
    found no row (its id is NULL)."""
    joined = {
        name[len(prefix) :]: fields.pop(name) for name in list(fields) if name.startswith(prefix)
    }
    return joined if joined.get("id") is not None else None


def account_detail(
    account: sa.RowMapping, lists: Sequence[Sequence[sa.RowMapping]]
) -> AccountDetail:
    """AccountDetail from the rows of `ACCOUNT_READS_SQLITE`: the account row, then the
    rows of each list."""
    fields = dict(account)
    for field, _, _ in _LATEST:
        fields[field] = _unprefix(fields, f"{field}__")
    for one, rows in zip(_LISTS, lists, strict=True):
        fields[one.field] = [dict(row) for row in rows]
    return AccountDetail.model_validate(fields)


_TIMESTAMPS = {
    table.name: frozenset(c.name for c in table.c if isinstance(c.type, UtcDateTime))
    for table in (*(one.table for one in _LISTS), *(table for _, table, _ in _LATEST))
}


def _from_json(table: sa.Table, row: dict[str, Any]) -> dict[str, Any]:
    """A row that came back as JSON, with its timestamps as UTC datetimes: JSON spells them
    in the session's time zone, the other reads return them in UTC."""
    for name in _TIMESTAMPS[table.name]:
        value = row.get(name)
        if value is not None:
            row[name] = datetime.fromisoformat(value).astimezone(UTC)
    return row


def account_detail_from_json(row: sa.RowMapping) -> AccountDetail:
    """AccountDetail from the one row of `ACCOUNT_READS_POSTGRES`."""
    fields = dict(row)
    for one in _LISTS:
        fields[one.field] = [_from_json(one.table, item) for item in fields[one.field]]
    for field, table, _ in _LATEST:
        if fields[field] is not None:
            fields[field] = _from_json(table, fields[field])
    return AccountDetail.model_validate(fields)


# -- search_accounts ---------------------------------------------------------------------------

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
    industry: bool
    city: bool
    region: bool
    ranges: tuple[str, ...]
    stages: bool
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


def _shape(search: ProspectSearch, sqlite: bool, position: KeysetPosition | None) -> _SearchShape:
    return _SearchShape(
        sqlite=sqlite,
        industry=bool(search.industry),
        city=bool(search.city),
        region=bool(search.region),
        ranges=tuple(name for name, _, _ in _RANGES if getattr(search, name) is not None),
        stages=bool(search.lifecycle_stage),
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
    if search.industry:
        values["industry"] = list(search.industry)
    if search.city:
        values["city"] = search.city
    if search.region:
        values["region"] = search.region
    for name, _, _ in _RANGES:
        if getattr(search, name) is not None:
            values[name] = getattr(search, name)
    if search.lifecycle_stage:
        values["stages"] = [stage.value for stage in search.lifecycle_stage]
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
    return SearchStatements(valued, unvalued, count, first_counted)


def _conditions(shape: _SearchShape) -> list[sa.ColumnElement[bool]]:
    c = accounts.c
    where: list[sa.ColumnElement[bool]] = [c.tenant_id == TENANT]
    if shape.industry:
        where.append(c.industry.in_(sa.bindparam("industry", expanding=True)))
    for column, present in ((c.city, shape.city), (c.region, shape.region)):
        if present:
            where.append(_same_place(shape, column, sa.bindparam(column.name, type_=sa.Text())))
    for name, column, op in _RANGES:
        if name in shape.ranges:
            bound = sa.bindparam(name, type_=column.type)
            where.append(_unselective(shape, column >= bound if op == "ge" else column <= bound))
    if shape.stages:
        where.append(c.lifecycle_stage.in_(sa.bindparam("stages", expanding=True)))
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
