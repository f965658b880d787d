"""The statements behind `get_account`, built once, bound per call, and the AccountDetail
made from their rows.

An account is five point lookups that SQLite answers in 50 µs: building the statements per
call cost more than running them. On SQLite the account is five statements (the caller runs
them in one read, without round trips); on Postgres it is one, its lists as JSON aggregates,
so a call is one round trip. Every statement binds `tenant`: an id from another tenant
reads as missing. `RAW_*` are the same compiled for the driver (raw_statements).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import aggregate_order_by

from shared.crm.models import AccountDetail
from shared.db.crm_tables import (
    accounts,
    activities,
    ai_lead_qualification,
    contacts,
    customer_health_scores,
    deals,
    reviews,
)
from shared.db.raw_statements import RawStatement
from shared.db.types import UUID, UtcDateTime

__all__ = [
    "ACCOUNT_READS_POSTGRES",
    "ACCOUNT_READS_SQLITE",
    "OPEN_DEAL_STAGES",
    "RAW_ACCOUNT_READS_SQLITE",
    "RAW_ACCOUNT_READ_POSTGRES",
    "RECENT_ITEMS",
    "account_detail",
    "account_detail_from_json",
]

RECENT_ITEMS = 10
OPEN_DEAL_STAGES = ("new", "proposal", "negotiation")

_DETAIL_COLUMNS = [
    accounts.c[name]
    for name in AccountDetail.model_fields
    if name in accounts.c and name != "tenant_id"
]

TENANT = sa.bindparam("tenant", type_=UUID)
ACCOUNT = sa.bindparam("account", type_=UUID)

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
            # literals, not an expanding list: a fixed text (raw_statements)
            stmt = stmt.where(self.table.c.stage.in_([sa.literal(s) for s in OPEN_DEAL_STAGES]))
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
RAW_ACCOUNT_READS_SQLITE = tuple(RawStatement.compile(s, "sqlite") for s in ACCOUNT_READS_SQLITE)
RAW_ACCOUNT_READ_POSTGRES = RawStatement.compile(ACCOUNT_READS_POSTGRES, "postgresql")


def _unprefix(fields: dict[str, Any], prefix: str) -> dict[str, Any] | None:
    """Take the `prefix`ed columns of an outer-joined row out of `fields`; None when the join
    found no row (its id is NULL)."""
    joined = {
        name[len(prefix) :]: fields.pop(name) for name in list(fields) if name.startswith(prefix)
    }
    return joined if joined.get("id") is not None else None


def account_detail(
    account: dict[str, Any], lists: Sequence[Sequence[Mapping[str, Any]]]
) -> AccountDetail:
    """AccountDetail from the rows of `ACCOUNT_READS_SQLITE`: the account row (taken
    over), then the rows of each list."""
    fields = account
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


def account_detail_from_json(row: dict[str, Any]) -> AccountDetail:
    """AccountDetail from the one row of `ACCOUNT_READS_POSTGRES` (taken over)."""
    fields = row
    for one in _LISTS:
        fields[one.field] = [_from_json(one.table, item) for item in fields[one.field]]
    for field, table, _ in _LATEST:
        if fields[field] is not None:
            fields[field] = _from_json(table, fields[field])
    return AccountDetail.model_validate(fields)
