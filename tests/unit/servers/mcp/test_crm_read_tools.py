"""The CRM read tools through the in-memory MCP client, on SQLite."""

from __future__ import annotations

import json
from typing import Any

from mcp import Client

from servers.mcp.crm import build_crm_server
from shared.crm.models import ProspectSearch, ProspectSort
from shared.crm.sql import SqlCrmRepository
from tests.unit.servers.mcp.crm_world import CrmWorld

# What issue 3 asks a search result to show for each business.
SEARCH_ROW_FIELDS = {
    "id",
    "name",
    "industry",
    "city",
    "gmb_rating",
    "gmb_review_count",
    "lifecycle_stage",
    "lead_score",
    "has_website",
}
READ_TOOLS = {"search_prospects", "get_account", "query_crm", "pipeline_summary"}
WRITE_TOOLS = {
    "update_lifecycle_stage",
    "log_activity",
    "create_campaign",
    "record_lead_qualification",
}


async def _call(world: CrmWorld, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    async with Client(build_crm_server(state=world.state())) as client:
        result = await client.call_tool(name, arguments)
    assert not result.is_error, result.content
    assert result.structured_content is not None
    return result.structured_content


async def test_every_tool_has_a_title_annotations_and_output_schema(world: CrmWorld) -> None:
    async with Client(build_crm_server(state=world.state())) as client:
        tools = (await client.list_tools()).tools
    assert {t.name for t in tools} >= READ_TOOLS | WRITE_TOOLS  # other issues add more
    for tool in tools:
        assert tool.title and tool.description and len(tool.description) > 100
        assert tool.output_schema is not None and tool.output_schema.get("type") == "object"
        annotations = tool.annotations
        assert annotations is not None and annotations.read_only_hint is not None
        if tool.name in READ_TOOLS | WRITE_TOOLS:
            assert annotations.read_only_hint is (tool.name in READ_TOOLS)
        assert annotations.destructive_hint is not None
        assert annotations.idempotent_hint is not None
        assert annotations.open_world_hint is not None
        assert "tenant" not in str(tool.input_schema.get("properties", {})).lower()


async def test_search_prospects_filters_austin_dentists_of_this_tenant_only(
    world: CrmWorld,
) -> None:
    page = await _call(world, "search_prospects", {"industry": "dentist", "city": "Austin"})
    names = [item["name"] for item in page["items"]]
    assert names == ["Smile Dental", "Bright Teeth"]  # by lead score, descending
    assert page["total"] == 2
    assert page["truncated"] is False


async def test_search_rows_are_the_repository_summaries_projected(world: CrmWorld) -> None:
    """A search row is a summary of the repository's AccountSummary: the same values for the
    fields it keeps, has_website true exactly when the account has a (non-empty) website."""
    page = await _call(world, "search_prospects", {"sort": "name", "descending": False})
    repository = SqlCrmRepository(world.database, world.tenant_id)
    summaries = (
        await repository.search_accounts(ProspectSearch(sort=ProspectSort.NAME, descending=False))
    ).items
    assert [row["id"] for row in page["items"]] == [str(s.id) for s in summaries]
    for row, summary in zip(page["items"], summaries, strict=True):
        expected = summary.model_dump(mode="json", include=set(row) - {"has_website"})
        assert {k: v for k, v in row.items() if k != "has_website"} == expected
        assert row["has_website"] is bool(summary.website)
        assert set(row) >= SEARCH_ROW_FIELDS
    assert {row["name"]: row["has_website"] for row in page["items"]}["Bright Teeth"] is False


async def test_search_row_schema_requires_every_field_and_carries_no_titles(
    world: CrmWorld,
) -> None:
    async with Client(build_crm_server(state=world.state())) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
    schema = tools["search_prospects"].output_schema
    assert schema is not None
    row = schema["properties"]["items"]["items"]
    assert set(row["required"]) == set(row["properties"]) >= SEARCH_ROW_FIELDS
    assert "$ref" not in json.dumps(row) and "anyOf" not in json.dumps(row)
    assert not any(
        "title" in field for name, field in row["properties"].items() if name != "lifecycle_stage"
    )


async def test_search_prospects_rating_and_website_filters(world: CrmWorld) -> None:
    page = await _call(
        world,
        "search_prospects",
        {"rating_min": 4.5, "has_website": True, "sort": "name", "descending": False},
    )
    assert [item["name"] for item in page["items"]] == ["Cool Air HVAC", "Smile Dental"]


async def test_search_prospects_pages_on_with_next_cursor(world: CrmWorld) -> None:
    async with Client(build_crm_server(state=world.state())) as client:
        first = (await client.call_tool("search_prospects", {"limit": 2})).structured_content
        assert first is not None and first["total"] == 3 and first["next_cursor"]
        second = (
            await client.call_tool("search_prospects", {"limit": 2, "cursor": first["next_cursor"]})
        ).structured_content
    assert second is not None
    seen = [i["name"] for i in first["items"]] + [i["name"] for i in second["items"]]
    assert sorted(seen) == ["Bright Teeth", "Cool Air HVAC", "Smile Dental"]
    assert second["next_cursor"] is None


async def test_search_prospects_clamps_limit_to_100(world: CrmWorld) -> None:
    page = await _call(world, "search_prospects", {"limit": 5000})
    assert page["total"] == 3 and len(page["items"]) == 3


async def test_get_account_returns_the_full_picture(world: CrmWorld) -> None:
    account = await _call(world, "get_account", {"account_id": str(world.smile_id)})
    assert account["name"] == "Smile Dental"
    assert [c["first_name"] for c in account["contacts"]] == ["Dana"]
    assert [d["title"] for d in account["open_deals"]] == ["Website + SEO"]
    assert len(account["recent_activities"]) == 1
    assert len(account["recent_reviews"]) == 2


async def test_get_account_of_another_tenant_is_not_found(world: CrmWorld) -> None:
    async with Client(build_crm_server(state=world.state())) as client:
        result = await client.call_tool("get_account", {"account_id": str(world.foreign_id)})
    assert result.is_error
    text = result.content[0].text  # type: ignore[union-attr]
    assert "search_prospects" in text and "Other Tenant" not in text


async def test_query_crm_aggregates_won_revenue_by_month(world: CrmWorld) -> None:
    table = await _call(
        world,
        "query_crm",
        {
            "entity": "deals",
            "filters": [{"field": "stage", "op": "eq", "value": "won"}],
            "time_bucket": {"field": "closed_at", "unit": "month"},
            "metrics": [{"fn": "sum", "field": "amount"}, {"fn": "count"}],
        },
    )
    assert table["columns"] == ["bucket", "sum_amount", "count"]
    assert len(table["rows"]) == 1 and table["rows"][0][1:] == [12000.0, 1]


async def test_query_crm_groups_accounts_by_stage(world: CrmWorld) -> None:
    table = await _call(world, "query_crm", {"entity": "accounts", "group_by": ["lifecycle_stage"]})
    counts = {row[0]: row[1] for row in table["rows"]}
    assert counts == {"lead": 1, "prospect": 1, "customer": 1}


async def test_pipeline_summary_for_this_month(world: CrmWorld) -> None:
    summary = await _call(world, "pipeline_summary", {"period": "last_30_days"})
    assert summary["won_count"] == 1 and summary["won_revenue"] == 12000.0
    assert summary["new_deals"] == 2
    stages = {s["stage"]: s["count"] for s in summary["accounts_by_lifecycle_stage"]}
    assert stages["customer"] == 1


async def test_pipeline_summary_takes_explicit_dates(world: CrmWorld) -> None:
    summary = await _call(world, "pipeline_summary", {"start": "2020-01-01", "end": "2020-01-31"})
    assert summary["period_start"].startswith("2020-01-01")
    assert summary["period_end"].startswith("2020-02-01")
    assert summary["won_count"] == 0
