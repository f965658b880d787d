"""The CRM server's resources and prompts."""

from __future__ import annotations

import json

import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError

from servers.mcp.crm import build_crm_server
from tests.unit.servers.mcp.crm_world import CrmWorld


async def test_schema_resource_lists_entities_fields_and_operators(world: CrmWorld) -> None:
    async with Client(build_crm_server(state=world.state())) as client:
        listed = {str(r.uri) for r in (await client.list_resources()).resources}
        contents = (await client.read_resource("crm://schema")).contents
    assert "crm://schema" in listed
    schema = json.loads(contents[0].text)  # type: ignore[union-attr]
    assert set(schema["entities"]) == {
        "accounts",
        "deals",
        "activities",
        "campaigns",
        "transactions",
        "reviews",
    }
    assert "contains" in schema["entities"]["accounts"]["fields"]["name"]["operators"]


async def test_account_resource_is_the_fenced_account(world: CrmWorld) -> None:
    async with Client(build_crm_server(state=world.state())) as client:
        templates = (await client.list_resource_templates()).resource_templates
        contents = (await client.read_resource(f"crm://accounts/{world.smile_id}")).contents
    assert [t.uri_template for t in templates] == ["crm://accounts/{id}"]
    account = json.loads(contents[0].text)  # type: ignore[union-attr]
    assert account["name"] == "Smile Dental"
    assert account["notes"].startswith("<untrusted-data boundary=")


@pytest.mark.parametrize("which", ["foreign", "not-a-uuid"])
async def test_account_resource_of_unknown_id_is_not_found(world: CrmWorld, which: str) -> None:
    target = str(world.foreign_id) if which == "foreign" else "smith-hvac"
    async with Client(build_crm_server(state=world.state())) as client:
        with pytest.raises(MCPError, match="search_prospects"):
            await client.read_resource(f"crm://accounts/{target}")


async def test_prompts_guide_the_model_to_the_tools(world: CrmWorld) -> None:
    async with Client(build_crm_server(state=world.state())) as client:
        prompts = {p.name: p for p in (await client.list_prompts()).prompts}
        weekly = await client.get_prompt("weekly_pipeline_review", {})
        research = await client.get_prompt(
            "prospect_research", {"industry": "dentist", "city": "Austin"}
        )
        briefing = await client.get_prompt("account_briefing", {"account_id": str(world.smile_id)})
    assert set(prompts) == {"weekly_pipeline_review", "prospect_research", "account_briefing"}
    assert {a.name for a in prompts["prospect_research"].arguments or []} == {"industry", "city"}
    assert "pipeline_summary" in weekly.messages[0].content.text  # type: ignore[union-attr]
    text = research.messages[0].content.text  # type: ignore[union-attr]
    assert "search_prospects" in text and "'dentist'" in text and "'Austin'" in text
    assert str(world.smile_id) in briefing.messages[0].content.text  # type: ignore[union-attr]


async def test_account_briefing_refuses_a_non_id(world: CrmWorld) -> None:
    async with Client(build_crm_server(state=world.state())) as client:
        with pytest.raises(MCPError):
            await client.get_prompt("account_briefing", {"account_id": "Smith HVAC"})
