"""bench/crm_tools.py's second floor, a bare tool returning a constant page of search
results, is like-for-like with search_prospects: the same output schema and the same
structured content, so search_prospects over it is what the CRM server adds."""

from __future__ import annotations

from mcp import Client

from bench.crm_tools import floor_server
from servers.mcp.crm import build_crm_server
from servers.mcp.crm_models import ProspectPage
from tests.unit.servers.mcp.crm_world import CrmWorld


async def test_the_page_floor_returns_the_search_result_under_the_search_schema(
    world: CrmWorld,
) -> None:
    async with Client(build_crm_server(state=world.state())) as crm:
        search = await crm.call_tool("search_prospects", {"limit": 3})
        tools = {tool.name: tool for tool in (await crm.list_tools()).tools}
    assert search.structured_content is not None
    page = ProspectPage.model_validate(search.structured_content)
    assert len(page.items) == 3

    async with Client(floor_server(page)) as floor:
        bare = {tool.name: tool for tool in (await floor.list_tools()).tools}
        same = await floor.call_tool("constant_page", {})
        constant = await floor.call_tool("constant", {})

    assert bare["constant_page"].output_schema == tools["search_prospects"].output_schema
    assert same.structured_content == search.structured_content
    assert constant.structured_content == {"result": "ok"}
