"""Who may call which tool: the roles table, generated from the tools' declared access.

Each tool declares one access level (`ToolAccess`: read, write or admin) where it is
defined; this module lists every tool of the three servers with the roles that may call
it, as data (`tool_access()`) and as the Markdown table the README prints and
`switchboard mcp roles` shows. A test compares it with what each server actually lists, and
the README with `roles_markdown()`, so neither can drift from the code.
"""

from __future__ import annotations

from dataclasses import dataclass

from servers.mcp.analysis_tools import ANALYSIS_TOOLS
from servers.mcp.common.caller import Role
from servers.mcp.common.roles import ToolAccess
from servers.mcp.common.tools import ToolSpec
from servers.mcp.crm_tools_analytics import ANALYTICS_TOOLS
from servers.mcp.crm_tools_read import READ_TOOLS
from servers.mcp.crm_tools_write import WRITE_TOOLS
from servers.mcp.orchestration_tools_collect import COLLECT_TOOLS
from servers.mcp.orchestration_tools_platforms import PLATFORM_TOOLS
from servers.mcp.orchestration_tools_runs import RUN_TOOLS
from servers.mcp.orchestration_tools_workflows import WORKFLOW_TOOLS

__all__ = ["ToolAccessRow", "roles_markdown", "tool_access"]

# The same lists, in the same order, that crm.py, analysis.py and orchestration.py serve.
_SERVERS: dict[str, list[ToolSpec]] = {
    "crm": [*READ_TOOLS, *WRITE_TOOLS, *ANALYTICS_TOOLS],
    "analysis": list(ANALYSIS_TOOLS),
    "orchestration": [*WORKFLOW_TOOLS, *RUN_TOOLS, *PLATFORM_TOOLS, *COLLECT_TOOLS],
}


@dataclass(frozen=True)
class ToolAccessRow:
    server: str
    tool: str
    access: ToolAccess

    def allows(self, role: Role) -> bool:
        """Whether `role` may list and call the tool (read-only mode aside)."""
        return role.rank >= self.access.needed_role.rank


def tool_access() -> list[ToolAccessRow]:
    """Every tool of the three servers with its access level, in server order."""
    return [
        ToolAccessRow(server, spec.name or spec.fn.__name__, spec.access)
        for server, specs in _SERVERS.items()
        for spec in specs
    ]


def roles_markdown() -> str:
    """The roles table in Markdown: one row per tool, a column per role."""
    roles = list(Role)
    lines = [
        "| server | tool | " + " | ".join(r.value for r in roles) + " | read-only mode |",
        "|---|---|" + "---|" * len(roles) + "---|",
    ]
    for row in tool_access():
        marks = " | ".join("yes" if row.allows(r) else "-" for r in roles)
        read_only = "hidden" if row.access.changes_state else "yes"
        lines.append(f"| {row.server} | `{row.tool}` | {marks} | {read_only} |")
    return "\n".join(lines)
