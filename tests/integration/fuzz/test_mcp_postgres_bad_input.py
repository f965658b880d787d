"""Every tool of the three MCP servers on Postgres, each text argument given a NUL byte
(valid JSON, refused by Postgres text columns): the answer is a result or a readable
ToolError, never a crash, and the servers keep serving."""

from __future__ import annotations

from typing import Any

from tests.unit.fuzz.mcp_harness import McpHarness, problem_with, serve_mcp_at, text_of
from tests.unit.fuzz.schema_args import accepts_strings, baseline, properties

NUL = "nul\x00inside"


def _nul_calls(harness: McpHarness) -> list[tuple[str, dict[str, Any]]]:
    calls: list[tuple[str, dict[str, Any]]] = []
    for tools in harness.tools.values():
        for tool in tools:
            base = baseline(tool.input_schema)
            for field, schema in properties(tool.input_schema).items():
                if accepts_strings(schema, tool.input_schema):
                    calls.append((tool.name, {**base, field: NUL}))
    return calls


def test_nul_in_any_text_argument_is_refused_readably_on_postgres(postgres_url: str) -> None:
    with serve_mcp_at(postgres_url) as harness:
        calls = _nul_calls(harness)
        problems = [p for name, args in calls if (p := problem_with(harness, name, args))]
        after = harness.call("crm", "search_prospects", {"city": "Austin"})
    assert not after.is_error, text_of(after)
    assert not problems, f"{len(problems)} of {len(calls)} calls:\n" + "\n".join(problems)
