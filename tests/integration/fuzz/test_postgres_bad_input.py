"""Bad input that SQLite tolerates but Postgres refuses (NUL bytes, lone surrogates, numbers
past 64 bits, dates that leave years 1..9999 in UTC): on both stores it must be a validation
error before any SQL, never a database error.

`any_db` runs each test on SQLite and on the Postgres at SWITCHBOARD_TEST_DATABASE_URL.
"""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from orchestration.events.models import CustomerEvent
from orchestration.events.publish import publish
from shared.crm.query import CrmQuery
from shared.crm.sql import SqlCrmRepository
from shared.db.database import Database
from shared.errors import SwitchboardError
from shared.tenants import create_tenant

EDGE_FILTERS: list[tuple[str, str, Any]] = [
    ("name", "eq", "a\x00b"),
    ("name", "contains", "\ud800"),
    ("city", "in", ["Austin", "nul\x00"]),
    ("gmb_rating", "gt", 2**64),
    ("lead_score", "in", [1, -(2**70)]),
    ("gmb_rating", "lt", float("inf")),
    ("created_at", "gt", "0001-01-01T00:00:00+01:00"),
    ("updated_at", "lte", "9999-12-31T23:59:59-01:00"),
]
STORABLE_EDGES: list[tuple[str, str, Any]] = [
    ("name", "contains", "%_\\"),
    ("name", "eq", "\u202eRTL مرحبا 👩‍👩‍👧‍👦 e\u0301"),
    ("gmb_rating", "gte", 1e15),
    ("created_at", "gt", "0001-01-01"),
    ("created_at", "lt", "9999-12-31T23:59:59Z"),
]


@pytest.mark.parametrize(("field", "op", "value"), EDGE_FILTERS)
def test_unstorable_filter_values_are_refused_before_sql(field: str, op: str, value: Any) -> None:
    with pytest.raises(ValidationError) as caught:
        CrmQuery.model_validate(
            {"entity": "accounts", "filters": [{"field": field, "op": op, "value": value}]}
        )
    assert field in str(caught.value)


@pytest.mark.parametrize(("field", "op", "value"), STORABLE_EDGES)
async def test_edge_filter_values_run_on_every_store(
    any_db: Database, field: str, op: str, value: Any
) -> None:
    tenant = await create_tenant(any_db, "fuzz")
    query = CrmQuery.model_validate(
        {"entity": "accounts", "filters": [{"field": field, "op": op, "value": value}]}
    )
    result = await SqlCrmRepository(any_db, tenant.id).query(query)
    assert result.rows == [] and not result.truncated


UNSTORABLE_EVENTS: list[dict[str, Any]] = [
    {"eventId": "nul\x00id"},
    {"customerId": "nul\x00"},
    {"eventData": {"note": "\ud800"}},
    {"eventData": {"nul\x00key": 1}},
    {"timestamp": "0001-01-01T00:00:00+01:00"},
]


@pytest.mark.parametrize("extra", UNSTORABLE_EVENTS)
async def test_unstorable_events_are_refused_not_a_database_error(
    any_db: Database, extra: dict[str, Any]
) -> None:
    tenant = await create_tenant(any_db, "fuzz")
    try:
        event = CustomerEvent.model_validate(
            {"eventType": "deal_closed", "tenantId": tenant.id, **extra}
        )
        await publish(any_db, event)
    except (ValidationError, SwitchboardError):
        return
    pytest.fail(f"{extra!r} was queued; Postgres refuses it, so a webhook batch would fail")
