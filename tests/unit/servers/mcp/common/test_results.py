"""`tool_result` (one serialization per call) returns what the SDK's own conversion returned:
the same structured content, and a text copy that is the same JSON, only compact."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime
from functools import partial
from typing import Any, cast

import pytest
from mcp import Client
from mcp.server.mcpserver.utilities.func_metadata import FuncMetadata
from mcp.types import CallToolResult, TextContent
from pydantic import BaseModel

import servers.mcp.common.results as results_module
import servers.mcp.common.tools as tools_module
import servers.mcp.crm_tools_read as crm_tools_read
from servers.mcp.common.budget import json_size
from servers.mcp.common.fence import Fence
from servers.mcp.common.results import measured_size, tool_result
from servers.mcp.common.roles import ToolAccess
from servers.mcp.common.server import SwitchboardServer
from servers.mcp.common.state import borrowed, lifespan_from
from servers.mcp.common.tools import READ_ONLY, ToolSpec, build_tools
from servers.mcp.crm import build_crm_server
from servers.mcp.crm_models import ActivityOut, ProspectPage, ProspectRow, QueryResultOut
from shared.crm.models import AccountSummary, LifecycleStage
from tests.unit.servers.mcp.crm_world import CrmWorld

READ_CALLS: list[tuple[str, dict[str, Any]]] = [
    ("search_prospects", {"industry": "dentist", "limit": 5}),
    ("query_crm", {"entity": "reviews", "fields": ["rating", "text", "author", "source"]}),
    ("query_crm", {"entity": "deals", "group_by": ["stage"], "metrics": [{"fn": "count"}]}),
    ("pipeline_summary", {"period": "this_year"}),
]
_BOUNDARY = re.compile(r'boundary="[^"]+"')


def _text(result: CallToolResult) -> str:
    [block] = result.content
    assert isinstance(block, TextContent)
    return block.text


def _same_boundary(data: Any) -> Any:
    """Each response draws its own fence boundary: make two responses comparable."""
    if isinstance(data, str):
        return _BOUNDARY.sub('boundary="B"', data)
    if isinstance(data, list):
        return [_same_boundary(item) for item in cast("list[Any]", data)]
    if isinstance(data, dict):
        return {k: _same_boundary(v) for k, v in cast("dict[str, Any]", data).items()}
    return data


async def _answers(
    world: CrmWorld, calls: list[tuple[str, dict[str, Any]]], budget: int = 20_000
) -> list[Any]:
    async with Client(build_crm_server(state=world.state(budget=budget))) as client:
        results = [await client.call_tool(name, arguments) for name, arguments in calls]
    for result in results:
        assert not result.is_error, result.content
    return [
        _same_boundary({"structured": r.structured_content, "text": json.loads(_text(r))})
        for r in results
    ]


async def test_every_crm_read_tool_answers_as_the_sdk_conversion_did(
    world: CrmWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = [*READ_CALLS, ("get_account", {"account_id": str(world.smile_id)})]
    fast = await _answers(world, calls)
    # and with a budget so small that search_prospects and get_account truncate
    small_calls = [("search_prospects", {}), calls[-1]]
    fast_small = await _answers(world, small_calls, budget=1_000)
    assert fast_small[0]["structured"]["truncated"] and fast_small[1]["structured"]["truncated"]
    # The slow path: the SDK's conversion, and the budget measured as before.
    monkeypatch.setattr(
        tools_module, "tool_result", lambda metadata, result: metadata.convert_result(result)
    )
    monkeypatch.setattr(crm_tools_read, "measured_size", json_size)
    slow = await _answers(world, calls)
    assert fast == slow
    assert fast_small == await _answers(world, small_calls, budget=1_000)
    for answer in fast:  # the text copy carries exactly the structured content
        assert answer["text"] == answer["structured"]
    assert any('boundary=\\"B\\"' in json.dumps(answer) for answer in fast)  # fenced text compared


def _metadata(fn: Any) -> FuncMetadata:
    [tool] = build_tools([ToolSpec(fn, "t", ToolAccess.READ, READ_ONLY)])
    return tool.fn_metadata


async def _page() -> ProspectPage: ...


async def _table() -> QueryResultOut: ...


async def _activity() -> ActivityOut: ...


async def _plain() -> str: ...


def _both(metadata: FuncMetadata, value: Any) -> tuple[CallToolResult, CallToolResult]:
    fast, slow = tool_result(metadata, value), metadata.convert_result(value)
    assert isinstance(fast, CallToolResult) and isinstance(slow, CallToolResult)
    return fast, slow


@pytest.mark.parametrize("unicode_text", ["Café «Zürich» 東京 🦷", 'quote " and \\ and \n'])
def test_awkward_values_convert_as_the_sdk_converts_them(unicode_text: str) -> None:
    fence = Fence()
    row = ProspectRow.from_summary(
        AccountSummary(
            id=uuid.uuid4(),
            name=unicode_text,
            lifecycle_stage=LifecycleStage.LEAD,
            gmb_rating=4.25,
            updated_at=datetime(2026, 3, 1, 12, 30, tzinfo=UTC),
        )
    )
    cases: list[tuple[Any, BaseModel]] = [
        (_page, ProspectPage(items=[row], total=1, next_cursor=None)),
        (
            _table,
            QueryResultOut(columns=["a", "b"], rows=[[None, 1.5], [unicode_text, 2]], row_count=2),
        ),
    ]
    activity = ActivityOut.model_validate(
        {
            "id": uuid.uuid4(),
            "account_id": uuid.uuid4(),
            "kind": "call",
            "subject": unicode_text,
            "due_at": datetime(2026, 1, 2, tzinfo=UTC),
        },
        context=fence.context(),
    )
    cases.append((_activity, activity))
    for fn, value in cases:
        fast, slow = _both(_metadata(fn), value)
        assert fast.structured_content == slow.structured_content
        assert json.loads(_text(fast)) == json.loads(_text(slow)) == fast.structured_content
    assert fence.boundary in json.dumps(activity.model_dump(mode="json"))  # a fenced field too


def test_values_that_are_not_the_declared_model_take_the_sdks_path() -> None:
    metadata = _metadata(_plain)  # a str return is wrapped as {"result": ...}
    fast, slow = _both(metadata, "ok")
    assert fast == slow
    assert fast.structured_content == {"result": "ok"}


class _Opaque(BaseModel):
    model_config = {"arbitrary_types_allowed": True}
    value: object


async def test_a_result_that_cannot_be_serialized_is_a_generic_tool_error(
    world: CrmWorld,
) -> None:
    async def opaque() -> _Opaque:
        """Returns something JSON cannot carry."""
        return _Opaque(value=object())

    server = SwitchboardServer(
        "t",
        tools=build_tools([ToolSpec(opaque, "t", ToolAccess.READ, READ_ONLY)]),
        lifespan=lifespan_from(partial(borrowed, world.state())),
    )
    async with Client(server) as client:
        result = await client.call_tool("opaque", {})
    assert result.is_error
    assert _text(result) == "Error executing tool opaque"


def _counting_serializations(monkeypatch: pytest.MonkeyPatch) -> list[BaseModel]:
    seen: list[BaseModel] = []
    real = results_module._serialized  # pyright: ignore[reportPrivateUsage]

    def counted(model: BaseModel) -> tuple[dict[str, Any], str]:
        seen.append(model)
        return real(model)

    monkeypatch.setattr(results_module, "_serialized", counted)
    return seen


def test_a_measured_result_is_serialized_once_and_sent_as_measured(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen = _counting_serializations(monkeypatch)
    metadata = _metadata(_table)
    table = QueryResultOut(columns=["a"], rows=[["Café 🦷"], [2.5]], row_count=2)
    size = measured_size(table)
    fast = tool_result(metadata, table)
    assert seen == [table]  # measured once, reused by tool_result
    slow = metadata.convert_result(table)
    assert isinstance(fast, CallToolResult) and isinstance(slow, CallToolResult)
    assert fast.structured_content == slow.structured_content
    assert size == len(_text(fast)) == len(table.model_dump_json(by_alias=True))
    # another model than the one measured is serialized afresh, never sent as the other
    other = QueryResultOut(columns=["a"], rows=[], row_count=0)
    measured_size(table)
    assert json.loads(_text(tool_result(metadata, other))) == {
        "truncated": False,
        "truncation_note": None,
        "columns": ["a"],
        "rows": [],
        "row_count": 0,
    }


async def test_search_and_get_account_serialize_their_answer_once(
    world: CrmWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = _counting_serializations(monkeypatch)
    async with Client(build_crm_server(state=world.state())) as client:
        for name, arguments in (
            ("search_prospects", {"industry": "dentist"}),
            ("get_account", {"account_id": str(world.smile_id)}),
        ):
            seen.clear()
            result = await client.call_tool(name, arguments)
            assert not result.is_error
            assert len(seen) == 1, name
