"""Bad arguments never reach the database: each comes back as a tool error saying what is
allowed. The store is closed during these calls, so any query would fail differently."""

from __future__ import annotations

from typing import Any

import pytest
from mcp import Client

from servers.mcp.common.state import AppState
from servers.mcp.crm import build_crm_server
from shared.crm.repository import CrmRepository
from tests.unit.servers.mcp.crm_world import CrmWorld

ACCOUNT = "00000000-0000-4000-8000-000000000001"

CASES: list[tuple[str, dict[str, Any], list[str]]] = [
    ("search_prospects", {"limit": "many"}, ["limit", "valid integer"]),
    ("search_prospects", {"limit": 0}, ["limit", "greater than or equal to 1"]),
    ("search_prospects", {"rating_min": 7}, ["rating_min", "less than or equal to 5"]),
    ("search_prospects", {"rating_min": 4, "rating_max": 3}, ["rating_min", "greater than"]),
    ("search_prospects", {"lifecycle_stage": "vip"}, ["'prospect'", "'churned'"]),
    ("search_prospects", {"sort": "revenue"}, ["sort", "'gmb_rating'"]),
    ("search_prospects", {"tenant_id": ACCOUNT}, ["unknown argument", "tenant_id"]),
    ("search_prospects", {"text": ""}, ["text", "at least 1 character"]),
    ("get_account", {}, ["account_id", "required"]),
    ("get_account", {"account_id": "smith-hvac"}, ["account_id", "UUID"]),
    ("query_crm", {"entity": "users"}, ["entity", "'accounts'", "'reviews'"]),
    (
        "query_crm",
        {"entity": "accounts", "filters": [{"field": "password", "op": "eq", "value": 1}]},
        ["unknown field 'password'", "allowed:", "gmb_rating"],
    ),
    (
        "query_crm",
        {"entity": "accounts", "filters": [{"field": "name", "op": "like", "value": "a"}]},
        ["op", "'contains'"],
    ),
    (
        "query_crm",
        {
            "entity": "accounts",
            "filters": [{"field": "gmb_rating", "op": "contains", "value": "4"}],
        },
        ["operator 'contains' does not apply", "allowed:"],
    ),
    (
        "query_crm",
        {"entity": "deals", "metrics": [{"fn": "median", "field": "amount"}]},
        ["fn", "'count'", "'max'"],
    ),
    (
        "query_crm",
        {"entity": "deals", "filters": [{"field": "stage", "op": "eq", "value": "closed"}]},
        ["'closed' is not a value of 'stage'", "won"],
    ),
    ("pipeline_summary", {"period": "fortnight"}, ["period", "'this_month'"]),
    ("pipeline_summary", {"start": "2026-03-01", "end": "2026-01-01"}, ["before"]),
    ("pipeline_summary", {"period": "this_month", "start": "2026-01-01"}, ["not both"]),
    (
        "update_lifecycle_stage",
        {"account_id": ACCOUNT, "stage": "vip"},
        ["stage", "'qualified'", "'at_risk'"],
    ),
    (
        "log_activity",
        {"account_id": ACCOUNT, "kind": "call", "subject": "x", "follow_up_in_days": 0},
        ["follow_up_in_days", "greater than or equal to 1"],
    ),
    ("log_activity", {"account_id": ACCOUNT, "kind": "fax", "subject": "x"}, ["kind", "'call'"]),
    (
        "create_campaign",
        {"name": "x", "kind": "upsell", "channel": "email"},
        ["kind", "'retention'"],
    ),
    (
        "record_lead_qualification",
        {"account_id": ACCOUNT, "score": 140, "grade": "A"},
        ["score", "less than or equal to 100"],
    ),
    (
        "record_lead_qualification",
        {"account_id": ACCOUNT, "score": 90, "grade": "E"},
        ["grade", "'A'"],
    ),
]


class ExplodingRepository:
    """Fails the test if any call reaches the data source."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"bad arguments reached the repository ({name})")


@pytest.mark.parametrize(("tool", "arguments", "expected"), CASES)
async def test_bad_argument_is_refused_with_what_is_allowed(
    world: CrmWorld, tool: str, arguments: dict[str, Any], expected: list[str]
) -> None:
    state: AppState = world.state()

    async def exploding(tenant_id: object) -> CrmRepository:
        return ExplodingRepository()  # type: ignore[return-value]

    state.repository_factory = exploding
    async with Client(build_crm_server(state=state)) as client:
        result = await client.call_tool(tool, arguments)
    assert result.is_error
    text = result.content[0].text  # type: ignore[union-attr]
    for fragment in expected:
        assert fragment in text, text
    assert "Traceback" not in text and "errors.pydantic.dev" not in text
