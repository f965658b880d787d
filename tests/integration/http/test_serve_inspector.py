"""The MCP Inspector CLI, a third-party client, over `serve`'s streamable HTTP with a bearer
token: a viewer sees no write tools, and a tenant's token cannot reach another tenant."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from servers.http.app import build_app
from shared.auth.api_keys import create_api_key
from shared.auth.principal import Role
from shared.config import Settings
from shared.db.database import Database
from shared.db.migrate import upgrade
from tests.fakes.server import serve_in_thread
from tests.integration.mcp.test_crm_inspector import INSPECTOR, NPM_CACHE, require_npx
from tests.unit.servers.mcp.crm_world import CrmWorld, build_world


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[tuple[CrmWorld, dict[str, str], str]]:
    url = f"sqlite:///{tmp_path / 'inspector.sqlite3'}"
    db = Database.from_url(url)
    await upgrade(db.engine)
    built = await build_world(db)
    keys = {
        "viewer_a": (await create_api_key(db, built.tenant_id, Role.VIEWER)).token,
        "operator_b": (await create_api_key(db, built.other_tenant_id, Role.OPERATOR)).token,
    }
    yield built, keys, url
    await db.dispose()


@pytest.fixture
def base_url(world: tuple[CrmWorld, dict[str, str], str]) -> Iterator[str]:
    _built, _keys, url = world
    with serve_in_thread(build_app(Settings(database_url=url)), lifespan="on") as base:
        yield base


async def inspector(base_url: str, token: str, *method_args: str) -> tuple[int, Any]:
    npx = require_npx()
    command = [
        npx, "-y", INSPECTOR, "--cli", f"{base_url}/mcp/crm/", "--transport", "http",
        "--header", f"Authorization: Bearer {token}", *method_args,
    ]  # fmt: skip
    env = {**os.environ, "npm_config_cache": str(NPM_CACHE)}
    with anyio.fail_after(240):  # first use downloads the package
        done = await anyio.run_process(command, env=env, check=False)
    output = done.stdout.decode()
    return done.returncode, json.loads(output) if output.strip().startswith("{") else output


async def test_the_inspector_as_a_viewer_sees_no_write_tools(
    base_url: str, world: tuple[CrmWorld, dict[str, str], str]
) -> None:
    _built, keys, _url = world
    code, listed = await inspector(base_url, keys["viewer_a"], "--method", "tools/list")
    assert code == 0, listed
    names = {tool["name"] for tool in listed["tools"]}
    assert "search_prospects" in names
    assert not names & {"update_lifecycle_stage", "log_activity", "create_campaign"}


async def test_the_inspector_cannot_reach_another_tenants_account(
    base_url: str, world: tuple[CrmWorld, dict[str, str], str]
) -> None:
    built, keys, _url = world
    code, answer = await inspector(
        base_url, keys["operator_b"], "--method", "tools/call", "--tool-name", "get_account",
        "--tool-arg", f"account_id={built.smile_id}",
    )  # fmt: skip
    assert code == 5, answer  # the Inspector's exit code for a tool that returned isError
    assert "not in this workspace" in json.dumps(answer)
