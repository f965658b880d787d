"""`switchboard mcp crm` over stdio, driven by the MCP SDK's own client as a subprocess."""

from __future__ import annotations

import sys

from mcp import Client, StdioServerParameters

from tests.integration.mcp.conftest import REPO_ROOT, SeededStore

COMMAND = [sys.executable, "-m", "servers.cli.main", "mcp", "crm"]


def _params(store: SeededStore, *extra_args: str, **env: str) -> StdioServerParameters:
    return StdioServerParameters(
        command=COMMAND[0],
        args=[*COMMAND[1:], *extra_args],
        env=store.env(**env),
        cwd=str(REPO_ROOT),
    )


async def test_stdio_server_lists_tools_and_answers_calls(seeded_store: SeededStore) -> None:
    world = seeded_store.world
    async with Client(_params(seeded_store)) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        page = await client.call_tool("search_prospects", {"industry": "dentist", "city": "Austin"})
        account = await client.call_tool("get_account", {"account_id": str(world.smile_id)})
        schema = await client.read_resource("crm://schema")
    assert "update_lifecycle_stage" in tools and tools["search_prospects"].output_schema
    assert page.structured_content is not None
    assert [i["name"] for i in page.structured_content["items"]] == ["Smile Dental", "Bright Teeth"]
    assert account.structured_content is not None
    assert account.structured_content["notes"].startswith("<untrusted-data boundary=")
    assert "entities" in schema.contents[0].text  # type: ignore[union-attr]


async def test_stdio_read_only_flag_hides_and_refuses_writes(seeded_store: SeededStore) -> None:
    world = seeded_store.world
    async with Client(_params(seeded_store, "--read-only")) as client:
        names = {t.name for t in (await client.list_tools()).tools}
        refused = await client.call_tool(
            "update_lifecycle_stage", {"account_id": str(world.smile_id), "stage": "churned"}
        )
    assert "update_lifecycle_stage" not in names and "get_account" in names
    assert refused.is_error and "read-only" in refused.content[0].text  # type: ignore[union-attr]
