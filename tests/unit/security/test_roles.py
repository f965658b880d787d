"""The roles table (servers/mcp/access_table.py), tested both ways for every tool and role:
an allowed role sees the tool in tools/list and its call works; a forbidden role does not
see it, and calling it anyway is refused and changes nothing. The table must name exactly
the tools the servers serve, and README must print the table the code generates."""

from __future__ import annotations

from pathlib import Path

import pytest

from servers.mcp.access_table import roles_markdown, tool_access
from servers.mcp.common.caller import Role
from tests.unit.security.conftest import SECRET_KEY
from tests.unit.security.platform_fakes import AlphaPlatforms
from tests.unit.security.sweep import admin_state, in_memory_clients, result_text, sql_repositories
from tests.unit.security.tool_cases import CASES
from tests.unit.security.two_tenants import TwoTenants, tenant_rows

README = Path(__file__).parents[3] / "README.md"
START, END = "<!-- roles-table:start -->", "<!-- roles-table:end -->"


async def test_the_table_names_exactly_the_tools_each_server_lists(
    two: TwoTenants, alpha_platforms: AlphaPlatforms
) -> None:
    state = admin_state(two.database, sql_repositories(two.database), two.a.tenant_id, SECRET_KEY)
    served: dict[str, set[str]] = {}
    for server, connect in in_memory_clients(state, alpha_platforms.access()).items():
        async with connect() as client:
            served[server] = {t.name for t in (await client.list_tools()).tools}
    in_table: dict[str, set[str]] = {}
    for row in tool_access():
        in_table.setdefault(row.server, set()).add(row.tool)
    assert in_table == served, "servers/mcp/access_table.py lists other tools than the servers"
    assert {row.tool for row in tool_access()} == set(CASES)


def test_readme_prints_the_generated_roles_table() -> None:
    text = README.read_text(encoding="utf-8")
    assert START in text and END in text, f"README needs the roles table between {START} / {END}"
    printed = text.split(START, 1)[1].split(END, 1)[0].strip()
    assert printed == roles_markdown(), (
        "README's roles table is stale: paste the output of `switchboard mcp roles`"
    )


@pytest.mark.parametrize("role", list(Role))
async def test_each_role_sees_and_calls_exactly_its_tools(
    two: TwoTenants, alpha_platforms: AlphaPlatforms, role: Role
) -> None:
    state = admin_state(
        two.database, sql_repositories(two.database), two.a.tenant_id, SECRET_KEY, role=role
    )
    failures: list[str] = []
    for server, connect in in_memory_clients(state, alpha_platforms.access()).items():
        rows = [row for row in tool_access() if row.server == server]
        async with connect() as client:
            listed = {t.name for t in (await client.list_tools()).tools}
            for row in rows:
                args = CASES[row.tool].own(two)
                allowed = row.allows(role)
                if allowed != (row.tool in listed):
                    failures.append(f"{row.tool}: listed={row.tool in listed}, allowed={allowed}")
                before = None if allowed else await tenant_rows(two.database, two.a.tenant_id)
                result = await client.call_tool(row.tool, args)
                text = result_text(result)
                explains = CASES[row.tool].own_explains
                if allowed and result.is_error and not (explains and explains in text):
                    failures.append(f"{row.tool} as {role.value} failed: {text[:300]}")
                if not allowed:
                    if not (result.is_error and f"needs the {row.access.needed_role}" in text):
                        failures.append(f"{row.tool} as {role.value} not refused: {text[:200]}")
                    if await tenant_rows(two.database, two.a.tenant_id) != before:
                        failures.append(f"{row.tool} as {role.value} was refused but wrote")
    assert failures == [], "\n".join(failures)
