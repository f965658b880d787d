"""`switchboard mcp crm` on the Supabase source checks its key before the handshake."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import anyio

from shared.db.database import Database
from shared.db.migrate import upgrade
from shared.tenants import create_tenant
from tests.integration.supabase.conftest import RestTenant
from tests.integration.supabase.postgrest import user_key
from tests.services import POSTGREST_URL


async def test_a_refused_supabase_key_is_one_line_and_exit_1(
    rest_db: Database, tenant_a: RestTenant, tmp_path: Path
) -> None:
    local = f"sqlite:///{tmp_path / 'local.sqlite3'}"
    store = Database.from_url(local)
    await upgrade(store.engine)
    await create_tenant(store, "acme")
    await store.dispose()
    forged = user_key(tenant_a.id, secret="not-the-project-secret-0123456789abcdef")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SWITCHBOARD_")} | {
        "SWITCHBOARD_DATABASE_URL": local,
        "SWITCHBOARD_TENANT": "acme",
        "SWITCHBOARD_CRM_SOURCE": "supabase",
        "SWITCHBOARD_SUPABASE_URL": POSTGREST_URL,
        "SWITCHBOARD_SUPABASE_KEY": forged,
    }
    with anyio.fail_after(120):
        result = await anyio.run_process(
            [sys.executable, "-m", "servers.cli.main", "mcp", "crm"],
            env=env,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    stderr = result.stderr.decode()
    assert result.returncode == 1
    assert result.stdout == b""  # nothing on the protocol channel
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: the Supabase key was refused")
    assert forged not in stderr
