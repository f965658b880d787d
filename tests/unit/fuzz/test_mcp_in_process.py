"""Strings that JSON clients cannot send but in-process callers can: the workflow engine calls
our own servers in memory (orchestration/runtime/mcp_caller.py) with values taken from event
data, and a webhook body parsed by `json.loads` may carry lone surrogates. A tool must refuse
them with a readable error, as it does every other bad argument, and keep serving."""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.fuzz.mcp_harness import McpHarness, text_of
from tests.unit.fuzz.strategies import INTERNAL_MARKERS

LONE_SURROGATE_CALLS: list[tuple[str, str, dict[str, Any]]] = [
    ("crm", "search_prospects", {"city": "Austin\ud800"}),
    ("crm", "create_campaign", {"name": "\udfff", "kind": "retention", "channel": "sms"}),
    ("crm", "get_industry_benchmarks", {"industry": "dentist\ud800"}),
    ("orchestration", "get_workflow", {"workflow": "\ud800"}),
    ("orchestration", "emit_event", {"event_type": "deal_closed", "data": {"note": "\ud800"}}),
]


def test_query_crm_refuses_unstorable_text_by_field(mcp: McpHarness) -> None:
    for value in ("\ud800", "a\x00b"):
        result = mcp.call(
            "crm",
            "query_crm",
            {"entity": "accounts", "filters": [{"field": "city", "op": "eq", "value": value}]},
        )
        message = text_of(result)
        assert result.is_error and "filters[0].value contains a NUL" in message, message
    assert not mcp.take_crashes()


@pytest.mark.parametrize(("server", "tool", "arguments"), LONE_SURROGATE_CALLS)
def test_lone_surrogates_in_process_get_a_readable_error(
    mcp: McpHarness, server: str, tool: str, arguments: dict[str, Any]
) -> None:
    result = mcp.call(server, tool, arguments)
    crashes = mcp.take_crashes()
    text = text_of(result)
    assert not crashes, crashes
    assert result.is_error and "surrogate" in text, text
    assert not [m for m in INTERNAL_MARKERS if m in text]
    after = mcp.call("crm", "search_prospects", {"city": "Austin"})
    assert not after.is_error, text_of(after)
