"""The MCP Inspector CLI, a third-party client, sees the same tools and schemas over stdio
as the SDK's in-memory client, and gets the same fenced answers."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from servers.mcp.crm import build_crm_server
from tests.integration.mcp.conftest import REPO_ROOT, SeededStore
from tests.services import REQUIRE_SERVICES

INSPECTOR = "@modelcontextprotocol/inspector@2.12.0"
NPM_CACHE = Path.home() / ".cache" / "switchboard-ci" / "npm"


def require_npx() -> str:
    """Skip (developer machine) or fail (CI) when npx is not installed."""
    npx = shutil.which("npx")
    if npx is not None:
        return npx
    reason = "npx (Node.js) is not installed; the MCP Inspector CLI runs through it"
    if REQUIRE_SERVICES:
        pytest.fail(reason)
    pytest.skip(reason)


async def _inspector(store: SeededStore, *method_args: str) -> tuple[int, Any]:
    npx = require_npx()
    env = {**os.environ, "npm_config_cache": str(NPM_CACHE)}
    server_env = [
        part
        for key, value in store.env().items()
        if key.startswith("SWITCHBOARD_") or key == "PYTHONPATH"
        for part in ("-e", f"{key}={value}")
    ]
    command = [
        npx,
        "-y",
        INSPECTOR,
        "--cli",
        *server_env,
        sys.executable,
        "-m",
        "servers.cli.main",
        "mcp",
        "crm",
        *method_args,
    ]
    with anyio.fail_after(240):  # first use downloads the package
        done = await anyio.run_process(
            command, env=env, cwd=str(REPO_ROOT), check=False, stderr=subprocess.PIPE
        )
    assert done.returncode in (0, 5), done.stderr.decode(errors="replace")[-2000:]
    return done.returncode, json.loads(done.stdout)


def _wire(tool: Any) -> dict[str, Any]:
    return {
        "title": tool["title"],
        "description": tool["description"],
        "inputSchema": tool["inputSchema"],
        "outputSchema": tool["outputSchema"],
        "annotations": tool["annotations"],
    }


async def test_inspector_sees_the_same_tools_and_schemas(seeded_store: SeededStore) -> None:
    _, listed = await _inspector(seeded_store, "--method", "tools/list")
    async with Client(build_crm_server(state=seeded_store.world.state())) as client:
        expected = (await client.list_tools()).tools
    by_name = {t["name"]: _wire(t) for t in listed["tools"]}
    assert set(by_name) == {t.name for t in expected}
    for tool in expected:
        dumped = tool.model_dump(by_alias=True, mode="json", exclude_none=True)
        assert by_name[tool.name] == _wire(dumped), tool.name
    assert by_name["get_account"]["annotations"]["readOnlyHint"] is True
    assert by_name["update_lifecycle_stage"]["annotations"]["destructiveHint"] is True


async def test_inspector_calls_get_account_and_gets_fenced_text(seeded_store: SeededStore) -> None:
    account_id = str(seeded_store.world.smile_id)
    code, result = await _inspector(
        seeded_store,
        "--method",
        "tools/call",
        "--tool-name",
        "get_account",
        "--tool-arg",
        f"account_id={account_id}",
    )
    assert code == 0
    content = result["structuredContent"]
    assert content["name"] == "Smile Dental"
    assert content["notes"].startswith("<untrusted-data boundary=")
