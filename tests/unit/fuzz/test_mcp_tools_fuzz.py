"""Every tool of the three MCP servers, called with hostile arguments derived from its own
`tools/list` inputSchema: wrong types, missing fields, huge strings, unicode edge cases and
injection strings. Each answer is a result or a readable ToolError (no crash, no stack
trace, no internal path), and the server keeps serving: a valid call afterwards succeeds."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from tests.unit.fuzz.mcp_harness import (
    McpHarness,
    check_answer,
    problem_with,
    text_of,
)
from tests.unit.fuzz.profile import fuzz_settings
from tests.unit.fuzz.schema_args import (
    accepts_strings,
    baseline,
    hostile_arguments,
    properties,
    required,
)
from tests.unit.fuzz.strategies import HOSTILE_STRINGS, HUGE_STRING, LONG_LIST, WRONG_TYPES


def _all_tools(harness: McpHarness) -> list[tuple[str, dict[str, Any]]]:
    return [(t.name, t.input_schema) for tools in harness.tools.values() for t in tools]


def test_every_tool_is_listed_for_the_admin(mcp: McpHarness) -> None:
    names = {name for name, _ in _all_tools(mcp)}
    assert {"search_prospects", "query_crm", "qualify_lead", "create_workflow"} <= names
    assert len(names) >= 35


# Every field of every tool gets these; the other hostile values rotate over the tools, so
# each value reaches several tools while the sweep stays within the unit-test time budget.
CORE_WRONG: list[Any] = [2**64, {"a": {"b": [1, "2", None]}}]
CORE_STRINGS = ["nul\x00inside", HUGE_STRING]
ROTATION = 5


def _sweep(harness: McpHarness) -> list[tuple[str, dict[str, Any]]]:
    calls: list[tuple[str, dict[str, Any]]] = []
    others = [
        v for v in [*WRONG_TYPES, LONG_LIST, *HOSTILE_STRINGS] if v not in CORE_WRONG + CORE_STRINGS
    ]
    for index, (name, schema) in enumerate(_all_tools(harness)):
        base = baseline(schema)
        fields = properties(schema)
        for field, field_schema in fields.items():
            strings = accepts_strings(field_schema, schema)
            calls += [(name, {**base, field: v}) for v in CORE_WRONG + strings * CORE_STRINGS]
        string_fields = [f for f, fs in fields.items() if accepts_strings(fs, schema)]
        for offset, value in enumerate(others):
            if (offset + index) % ROTATION == 0 and fields:
                targets = string_fields if isinstance(value, str) and string_fields else [*fields]
                calls.append((name, {**base, targets[offset % len(targets)]: value}))
        calls += [(name, {k: v for k, v in base.items() if k != f}) for f in required(schema)]
        calls.append((name, {**base, "tenant_id": str(harness.world.other_tenant_id)}))
    return calls


def test_each_field_of_each_tool_refuses_hostile_values_readably(mcp: McpHarness) -> None:
    calls = _sweep(mcp)
    problems = [p for name, arguments in calls if (p := problem_with(mcp, name, arguments))]
    assert not problems, f"{len(problems)} of {len(calls)} calls:\n" + "\n".join(problems)


_ARGUMENTS: dict[str, st.SearchStrategy[dict[str, Any]]] = {}


@fuzz_settings(max_examples=60)
@given(data=st.data())
def test_random_hostile_arguments_get_a_result_or_a_readable_error(
    mcp: McpHarness, data: st.DataObject
) -> None:
    name, schema = data.draw(st.sampled_from(_all_tools(mcp)), label="tool")
    if name not in _ARGUMENTS:  # built once per tool: building costs more than drawing
        _ARGUMENTS[name] = hostile_arguments(schema)
    arguments = data.draw(_ARGUMENTS[name], label="arguments")
    check_answer(mcp, name, arguments)


def test_servers_keep_serving_after_hostile_calls(mcp: McpHarness) -> None:
    hostile = {"text": "\ud800" * 10, "limit": "∞", "industry": ["'; DROP TABLE accounts; --"]}
    check_answer(mcp, "search_prospects", hostile)
    found = mcp.call("crm", "search_prospects", {"industry": "dentist"})
    assert not found.is_error, text_of(found)
    assert found.structured_content is not None
    assert {a["name"] for a in found.structured_content["items"]} >= {"Smile Dental"}
    workflows = mcp.call("orchestration", "list_workflows", {})
    assert not workflows.is_error, text_of(workflows)
    sentiment = mcp.call(
        "analysis",
        "analyze_sentiment",
        {"reviews": [{"rating": 5, "text": "great", "reviewed_at": "2026-01-01T00:00:00Z"}]},
    )
    assert not sentiment.is_error, text_of(sentiment)
