"""The audit trail: every tool call, dashboard action and admin command leaves exactly one
row of its own; no tool or endpoint can change a recorded row, and the store itself
refuses to (migration 0004), on SQLite and Postgres."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from pydantic import SecretStr
from sqlalchemy.exc import DBAPIError

from servers.http.app import HttpOptions, build_app
from servers.mcp.common.caller import Role
from servers.mcp.common.state import AppState
from shared.audit import AuditEntry, record_audit
from shared.auth.api_keys import create_api_key
from shared.auth.principal import Role as KeyRole
from shared.config import Settings
from shared.crypto import generate_key
from shared.db.database import Database
from shared.db.schema import audit_log
from tests.unit.security.conftest import SECRET_KEY
from tests.unit.security.platform_fakes import AlphaPlatforms
from tests.unit.security.sweep import admin_state, in_memory_clients, sql_repositories
from tests.unit.security.tool_cases import CASES
from tests.unit.security.two_tenants import TwoTenants
from tests.unit.servers.test_cli_foundation import switchboard


async def audit_rows(db: Database) -> list[dict[str, Any]]:
    async with db.engine.connect() as conn:
        rows = (await conn.execute(sa.select(audit_log))).mappings().all()
    return [json.loads(json.dumps(dict(r), default=str)) for r in rows]


async def flush(state: AppState) -> None:
    """Write the audit rows the state's writer may still buffer."""
    writer: Any = getattr(state, "audit", None)
    if writer is not None:
        await writer.flush()


async def test_every_tool_call_leaves_one_row_and_none_changes_earlier_rows(
    two: TwoTenants, alpha_platforms: AlphaPlatforms
) -> None:
    db = two.database
    sentinel = AuditEntry(
        tenant_id=two.a.tenant_id, actor="sentinel", action="sentinel", outcome="ok"
    )
    await record_audit(db, sentinel)
    state = admin_state(db, sql_repositories(db), two.a.tenant_id, SECRET_KEY)
    before = await audit_rows(db)
    calls: Counter[str] = Counter()
    for connect in in_memory_clients(state, alpha_platforms.access()).values():
        async with connect() as client:
            for tool in (await client.list_tools()).tools:
                # Own call, then every probe: each is a call, allowed or not, ok or not.
                for make in [CASES[tool.name].own, *(p.args for p in CASES[tool.name].foreign)]:
                    await client.call_tool(tool.name, make(two))
                    calls[f"tool:{tool.name}"] += 1
    await flush(state)
    after = await audit_rows(db)
    assert all(row in after for row in before), "a tool call changed or removed an audit row"
    tool_rows = Counter(r["action"] for r in after if r["action"].startswith("tool:"))
    assert tool_rows == calls
    new = [r for r in after if r not in before and r["action"].startswith("tool:")]
    assert {r["tenant_id"] for r in new} == {str(two.a.tenant_id)}
    assert all(r["actor"] == "sweep" and r["argument_digest"] for r in new)


async def test_a_refused_call_leaves_one_denied_row(
    two: TwoTenants, alpha_platforms: AlphaPlatforms
) -> None:
    db = two.database
    state = admin_state(db, sql_repositories(db), two.a.tenant_id, SECRET_KEY, role=Role.VIEWER)
    async with in_memory_clients(state, alpha_platforms.access())["crm"]() as client:
        refused = await client.call_tool(
            "update_lifecycle_stage", CASES["update_lifecycle_stage"].own(two)
        )
    await flush(state)
    rows = [r for r in await audit_rows(db) if r["action"] == "tool:update_lifecycle_stage"]
    assert refused.is_error
    assert [(r["outcome"], r["actor_role"]) for r in rows] == [("denied", "viewer")]


async def test_each_dashboard_action_leaves_one_row(two: TwoTenants, tmp_path: Path) -> None:
    db = two.database
    key = (await create_api_key(db, two.a.tenant_id, KeyRole.OPERATOR)).token
    viewer = (await create_api_key(db, two.a.tenant_id, KeyRole.VIEWER)).token
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'store.sqlite3'}", secret_key=SecretStr(SECRET_KEY)
    )
    app = build_app(settings, HttpOptions(embedded_worker=False))
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),  # closes the app's own connections at the end
        httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http,
    ):
        ok = {"Authorization": f"Bearer {key}"}
        answers = [
            await http.post(f"/api/dashboard/retry/{two.a.execution_id}", headers=ok),
            await http.post(f"/api/dashboard/replay/{two.a.spare_dead_letter_id}", headers=ok),
            await http.post(f"/api/dashboard/retry/{two.b.execution_id}", headers=ok),
            await http.post(
                f"/api/dashboard/replay/{two.a.dead_letter_id}",
                headers={"Authorization": f"Bearer {viewer}"},
            ),
            await http.get("/api/dashboard", headers=ok),  # a read: not an action
        ]
    assert [a.status_code for a in answers] == [202, 202, 404, 403, 200]
    rows = [r for r in await audit_rows(db) if r["action"].startswith("dashboard.")]
    assert sorted((r["action"], r["outcome"]) for r in rows) == [
        ("dashboard.replay_event", "denied"),
        ("dashboard.replay_event", "ok"),
        ("dashboard.retry_execution", "error"),
        ("dashboard.retry_execution", "ok"),
    ]


def _cli_rows(url: str) -> list[dict[str, Any]]:
    async def read() -> list[dict[str, Any]]:
        db = Database.from_url(url)
        try:
            return await audit_rows(db)
        finally:
            await db.dispose()

    return asyncio.run(read())


def test_each_admin_command_leaves_one_row_without_secrets(tmp_path: Path) -> None:
    env = {
        "SWITCHBOARD_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.sqlite3'}",
        "SWITCHBOARD_SECRET_KEY": generate_key(),
    }
    assert switchboard("db", "upgrade", env=env).returncode == 0
    secret = "cli-audit-credential-9911"
    commands = [
        ("cli.tenants.create", ["tenants", "create", "acme"]),
        ("cli.keys.create", ["keys", "create", "--tenant", "acme", "--role", "operator"]),
        (
            "cli.tools.configure",
            ["tools", "configure", "generic", "--credential", f"webhook_secret={secret}",
             "--tenant", "acme"],
        ),
        ("cli.tools.rotate_keys", ["tools", "rotate-keys"]),
    ]  # fmt: skip
    outputs: list[str] = []
    for _action, args in commands:
        result = switchboard(*args, env=env)
        assert result.returncode == 0, result.stderr
        outputs.append(result.stdout)
    key_id = outputs[1].strip().split("_")[1]
    revoked = switchboard("keys", "revoke", key_id, env=env)
    assert revoked.returncode == 0, revoked.stderr
    rows = _cli_rows(env["SWITCHBOARD_DATABASE_URL"])
    actions = Counter(r["action"] for r in rows)
    assert actions == Counter([a for a, _ in commands] + ["cli.keys.revoke"])
    assert all(r["actor"].startswith("cli") and r["outcome"] == "ok" for r in rows)
    assert {r["target"] for r in rows if r["action"].startswith("cli.keys")} == {f"key:{key_id}"}
    text = json.dumps(rows)
    assert secret not in text and outputs[1].strip() not in text


async def test_the_store_refuses_to_change_an_audit_row(any_db: Database) -> None:
    await record_audit(any_db, AuditEntry(tenant_id=None, actor="x", action="a", outcome="ok"))
    with pytest.raises(DBAPIError, match="append-only"):
        async with any_db.engine.begin() as conn:
            await conn.execute(sa.update(audit_log).values(outcome="forged"))
    if any_db.dialect == "postgresql":
        with pytest.raises(DBAPIError, match="append-only"):
            async with any_db.engine.begin() as conn:
                await conn.execute(sa.text("TRUNCATE audit_log"))
    assert [r["outcome"] for r in await audit_rows(any_db)] == ["ok"]
