"""The Claude Desktop example starts servers that exist, the way a clone runs them."""

from __future__ import annotations

import json
from pathlib import Path

from servers.cli.mcp import app as mcp_app

EXAMPLE = Path(__file__).resolve().parents[2] / "claude_desktop_config.example.json"


def test_every_example_server_is_a_switchboard_mcp_command() -> None:
    servers = json.loads(EXAMPLE.read_text())["mcpServers"]
    known = {command.name for command in mcp_app.registered_commands}
    assert servers, "the example lists no servers"
    for name, entry in servers.items():
        assert entry["command"] == "uv", name
        args = entry["args"]
        assert args[:3] == ["run", "--directory", "/ABSOLUTE/PATH/TO/switchboard"], name
        assert args[3:5] == ["switchboard", "mcp"], name
        assert args[5] in known, f"{name}: `switchboard mcp {args[5]}` does not exist"
