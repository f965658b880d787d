"""`switchboard templates ...` as a user runs it, with n8n played by the in-process fake."""

from __future__ import annotations

import asyncio
import io
import json
import os
import sys
import uuid
from collections.abc import Iterator
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from orchestration.platforms.config_store import save_tool_config
from servers.cli import templates as templates_cli
from servers.cli.main import main
from shared.config import get_settings
from shared.crypto import CredentialCipher, generate_key
from shared.db.database import Database
from shared.db.orchestration_tables import workflow_definitions
from shared.tenants import resolve_tenant
from tests.fakes.make import MakeFake
from tests.fakes.n8n import N8nFake

HOOK_HEADER, HOOK_VALUE = "X-Switchboard-Auth", "hook-secret-value-42"


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str


@pytest.fixture
def env(tmp_path: Path) -> Iterator[dict[str, str]]:
    values = {
        "SWITCHBOARD_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.sqlite3'}",
        "SWITCHBOARD_SECRET_KEY": generate_key(),
    }
    yield values


def switchboard(env: dict[str, str], *args: str) -> Result:
    saved_env, saved_argv = dict(os.environ), sys.argv
    out, err = io.StringIO(), io.StringIO()
    os.environ.update(env)
    sys.argv = ["switchboard", *args]
    get_settings.cache_clear()
    code = 0
    try:
        with redirect_stdout(out), redirect_stderr(err):
            try:
                main()
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
    finally:
        sys.argv = saved_argv
        os.environ.clear()
        os.environ.update(saved_env)
        get_settings.cache_clear()
    return Result(code, out.getvalue(), err.getvalue())


def _tenant_store(env: dict[str, str]) -> None:
    assert switchboard(env, "db", "upgrade").code == 0
    assert switchboard(env, "tenants", "create", "acme").code == 0


def _configure_n8n(env: dict[str, str], credentials: dict[str, str]) -> None:
    _configure(env, "n8n", "http://n8n.test", credentials)


def _configure(
    env: dict[str, str],
    tool: str,
    endpoint: str,
    credentials: dict[str, str],
    settings: dict[str, object] | None = None,
) -> None:
    async def save() -> None:
        db = Database.from_url(env["SWITCHBOARD_DATABASE_URL"])
        try:
            tenant = await resolve_tenant(db, "acme")
            await save_tool_config(
                db,
                CredentialCipher(env["SWITCHBOARD_SECRET_KEY"]),
                tenant_id=tenant.id,
                tool_name=tool,
                api_endpoint=endpoint,
                credentials=credentials,
                settings=settings,
            )
        finally:
            await db.dispose()

    asyncio.run(save())


def _platform_refs(env: dict[str, str], name: str) -> tuple[str | None, str | None, object]:
    async def read() -> tuple[str | None, str | None, object]:
        db = Database.from_url(env["SWITCHBOARD_DATABASE_URL"])
        t = workflow_definitions
        try:
            async with db.engine.connect() as conn:
                row = (
                    await conn.execute(
                        sa.select(
                            t.c.primary_platform, t.c.fallback_platform, t.c.platform_refs
                        ).where(t.c.name == name)
                    )
                ).one()
        finally:
            await db.dispose()
        return row[0], row[1], row[2]

    return asyncio.run(read())


def test_list_json_names_every_template_with_platforms(env: dict[str, str]) -> None:
    result = switchboard(env, "templates", "list", "--json")
    assert result.code == 0, result.stderr
    rows = {row["slug"]: row for row in json.loads(result.stdout)}
    assert rows["lead-qualification"]["platforms"] == ["internal", "n8n"]
    assert rows["clickup-sync"]["platforms"] == ["internal", "make"]
    assert rows["churn-prevention"]["category"] == "retention"


def test_export_prints_n8n_json_and_make_blueprint(env: dict[str, str]) -> None:
    n8n = switchboard(env, "templates", "export", "lead-qualification", "--platform", "n8n")
    assert n8n.code == 0, n8n.stderr
    assert json.loads(n8n.stdout)["name"] == "AI Lead Qualification Pipeline"
    make = switchboard(
        env, "templates", "export", "Multi-Channel Campaign Orchestration", "--platform", "make"
    )
    assert json.loads(make.stdout)["flow"][0]["module"] == "gateway:CustomWebHook"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("export", "nope", "--platform", "n8n"), "error: no template 'nope'; known templates"),
        (("export", "clickup-sync", "--platform", "n8n"), "has no n8n version (exports: make)"),
        (("install", "nope"), "error: no template 'nope'"),
    ],
)
def test_bad_names_and_platforms_are_one_line_and_exit_1(
    env: dict[str, str], args: tuple[str, ...], expected: str
) -> None:
    result = switchboard(env, "templates", *args)
    assert result.code == 1
    assert expected in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_install_internal_saves_a_valid_definition_then_reinstall_keeps_it(
    env: dict[str, str],
) -> None:
    _tenant_store(env)
    first = switchboard(env, "templates", "install", "churn-prevention", "--tenant", "acme")
    assert first.code == 0, first.stderr
    assert "installed 'Churn Prevention Automation' (version 1) on internal" in first.stdout
    again = switchboard(env, "templates", "install", "churn-prevention", "--tenant", "acme")
    assert "kept 'Churn Prevention Automation' (version 1)" in again.stdout
    shown = switchboard(env, "workflows", "list", "--tenant", "acme", "--json")
    (row,) = json.loads(shown.stdout)
    assert row["trigger"] == "schedule:daily" and row["primary_platform"] == "internal"


def test_install_on_n8n_without_n8n_configured_is_one_clear_line(env: dict[str, str]) -> None:
    _tenant_store(env)
    result = switchboard(
        env, "templates", "install", "lead-qualification", "--tenant", "acme", "--platform", "n8n"
    )
    assert result.code == 1
    assert result.stderr.strip() == (
        "error: n8n is not configured for this tenant; add it with "
        "`switchboard tools configure n8n --endpoint URL`"
    )


def test_install_on_n8n_refuses_without_webhook_auth_credentials(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = N8nFake()
    _tenant_store(env)
    _configure_n8n(env, {"api_key": fake.api_key})
    monkeypatch.setattr(
        templates_cli,
        "http_client_factory",
        lambda: httpx.AsyncClient(transport=httpx.ASGITransport(app=fake.app())),
    )
    result = switchboard(
        env, "templates", "install", "lead-qualification", "--tenant", "acme", "--platform", "n8n"
    )
    assert result.code == 1
    assert "lack 'webhook_auth_header' and 'webhook_auth_value'" in result.stderr
    assert fake.workflows == {}  # nothing half-installed


def test_install_on_n8n_creates_activates_and_records_the_webhook(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = N8nFake()
    _tenant_store(env)
    _configure_n8n(
        env,
        {"api_key": fake.api_key, "webhook_auth_header": HOOK_HEADER,
         "webhook_auth_value": HOOK_VALUE},
    )  # fmt: skip
    monkeypatch.setattr(
        templates_cli,
        "http_client_factory",
        lambda: httpx.AsyncClient(transport=httpx.ASGITransport(app=fake.app())),
    )
    args = ("templates", "install", "lead-qualification", "--tenant", "acme", "--platform", "n8n")
    result = switchboard(env, *args)
    assert result.code == 0, result.stderr
    assert "on n8n" in result.stdout and "fallback: internal" in result.stdout
    assert HOOK_VALUE not in result.stdout + result.stderr

    (workflow,) = fake.workflows.values()
    assert workflow["active"] is True
    hook = next(n for n in workflow["nodes"] if n["type"] == "n8n-nodes-base.webhook")
    credential = fake.credentials[hook["credentials"]["httpHeaderAuth"]["id"]]
    assert credential["data"] == {"name": HOOK_HEADER, "value": HOOK_VALUE}

    primary, fallback, refs = _platform_refs(env, "AI Lead Qualification Pipeline")
    assert (primary, fallback) == ("n8n", "internal")
    assert isinstance(refs, dict)
    assert refs["n8n"]["workflow_id"] == workflow["id"]
    assert refs["n8n"]["webhook_path"] == hook["parameters"]["path"]
    assert refs["n8n"]["http_method"] == "POST"

    # Installing again updates the same n8n workflow and header credential in place.
    assert switchboard(env, *args).code == 0
    assert list(fake.workflows) == [workflow["id"]]
    assert list(fake.credentials) == [hook["credentials"]["httpHeaderAuth"]["id"]]
    uuid.UUID(hook["webhookId"])  # n8n needs a webhookId per webhook node


def _with_make(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch, **settings: object
) -> MakeFake:
    fake = MakeFake(token="make-SECRET-token-4242")
    _tenant_store(env)
    _configure(
        env, "make", "http://eu1.make.test/api/v2", {"api_token": fake.token}, dict(settings)
    )
    monkeypatch.setattr(
        templates_cli,
        "http_client_factory",
        lambda: httpx.AsyncClient(transport=httpx.ASGITransport(app=fake.app())),
    )
    return fake


def test_install_on_make_creates_an_active_scenario_on_its_own_webhook_then_updates_it(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = _with_make(env, monkeypatch, team_id=7)
    args = ("templates", "install", "clickup-sync", "--tenant", "acme", "--platform", "make")
    result = switchboard(env, *args)
    assert result.code == 0, result.stderr
    assert "on make" in result.stdout and "fallback: internal" in result.stdout
    assert fake.token not in result.stdout + result.stderr

    (scenario,) = fake.scenarios.values()
    (hook,) = fake.hook_records.values()
    assert scenario["isActive"] is True and scenario["teamId"] == 7
    assert scenario["scheduling"] == {"type": "immediately"}
    assert scenario["name"].startswith("Real-time ClickUp Synchronization [")
    assert scenario["blueprint"]["flow"][0]["parameters"]["hook"] == hook["id"]
    assert hook["name"] == scenario["name"] and hook["teamId"] == 7

    primary, fallback, refs = _platform_refs(env, "Real-time ClickUp Synchronization")
    assert (primary, fallback) == ("make", "internal")
    assert isinstance(refs, dict)
    assert refs["make"] == {
        "scenario_id": scenario["id"], "hook_id": hook["id"], "webhook_url": hook["url"],
        "team_id": 7,
    }  # fmt: skip
    assert hook["url"] in result.stdout

    # Installing again updates the same scenario and reuses the hook: nothing twice.
    again = switchboard(env, *args)
    assert again.code == 0, again.stderr
    assert list(fake.scenarios) == [scenario["id"]]
    assert list(fake.hook_records) == [hook["id"]]
    assert len(fake.plan.matching("PATCH", f"/api/v2/scenarios/{scenario['id']}")) == 1


def test_install_on_make_without_a_team_is_one_clear_line_and_creates_nothing(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = _with_make(env, monkeypatch)
    result = switchboard(
        env, "templates", "install", "campaign-orchestration", "--tenant", "acme",
        "--platform", "make",
    )  # fmt: skip
    assert result.code == 1
    assert len(result.stderr.strip().splitlines()) == 1
    assert "make settings lack a numeric 'team_id'" in result.stderr
    assert fake.scenarios == {} and fake.hook_records == {}


def test_install_refuses_a_platform_the_template_has_no_version_for(env: dict[str, str]) -> None:
    _tenant_store(env)
    result = switchboard(
        env, "templates", "install", "clickup-sync", "--tenant", "acme", "--platform", "n8n"
    )
    assert result.code == 1
    assert "has no n8n version; install it with platform one of: internal, make" in (result.stderr)
