"""`switchboard tools ...` as a user runs it: credentials go in encrypted and never come out."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import stamina

from shared.crypto import generate_key
from shared.db.database import Database
from shared.db.orchestration_tables import external_tool_configs
from tests.fakes.n8n import N8nFake
from tests.fakes.server import free_port, serve_in_thread
from tests.unit.servers.test_cli_foundation import Result, switchboard

SECRET = "pk_12345_SECRETTOKENVALUE"
N8N_KEY = "n8n_api_SECRET_key_12345"


@pytest.fixture(autouse=True)
def _instant_retries() -> Iterator[None]:
    with stamina.set_testing(True, attempts=1):
        yield


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    values = {
        "SWITCHBOARD_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.sqlite3'}",
        "SWITCHBOARD_SECRET_KEY": generate_key(),
    }
    assert switchboard("db", "upgrade", env=values).returncode == 0
    assert switchboard("tenants", "create", "demo", env=values).returncode == 0
    return values


def _stored_credentials(env: dict[str, str]) -> list[Any]:
    async def read() -> list[Any]:
        db = Database.from_url(env["SWITCHBOARD_DATABASE_URL"])
        try:
            async with db.engine.connect() as conn:
                rows = await conn.execute(sa.select(external_tool_configs.c.credentials))
                return [r[0] for r in rows]
        finally:
            await db.dispose()

    return asyncio.run(read())


def _configure_clickup(env: dict[str, str]) -> Result:
    return switchboard(
        "tools", "configure", "clickup",
        "--endpoint", "https://api.clickup.com/api/v2",
        "--credential", f"api_token={SECRET}",
        "--setting", 'lists={"qualified_prospects": "901"}',
        "--rate-limit", "50",
        env=env,
    )  # fmt: skip


def test_configure_then_list_never_shows_the_secret(env: dict[str, str]) -> None:
    configured = _configure_clickup(env)
    assert configured.returncode == 0, configured.stderr
    assert "api_token=***" in configured.stdout
    listed = switchboard("tools", "list", env=env)
    as_json = switchboard("tools", "list", "--json", env=env)
    for result in (configured, listed, as_json):
        assert SECRET not in result.stdout + result.stderr
    (tool,) = json.loads(as_json.stdout)
    assert tool["credentials"] == {"api_token": "***"}
    assert tool["rate_limits"] == {"requests_per_minute": 50}
    assert tool["settings"] == {"lists": {"qualified_prospects": "901"}}
    (stored,) = _stored_credentials(env)
    assert set(stored) == {"ciphertext"} and SECRET not in json.dumps(stored)


def test_configure_merges_new_credentials_and_keeps_the_endpoint(env: dict[str, str]) -> None:
    _configure_clickup(env)
    again = switchboard(
        "tools", "configure", "clickup", "--credential", "webhook_secret=whsec_abcdef", env=env
    )
    assert again.returncode == 0, again.stderr
    assert "clickup updated" in again.stdout
    (tool,) = json.loads(switchboard("tools", "list", "--json", env=env).stdout)
    assert tool["endpoint"] == "https://api.clickup.com/api/v2"
    assert tool["credentials"] == {"api_token": "***", "webhook_secret": "***"}


def test_bad_configure_input_is_one_clear_line(env: dict[str, str]) -> None:
    unknown = switchboard("tools", "configure", "zapier", "--endpoint", "https://x", env=env)
    assert unknown.returncode == 1 and "choose one of n8n, make, clickup, apify" in unknown.stderr
    no_equals = switchboard(
        "tools", "configure", "n8n", "--endpoint", "https://n8n.test", "--credential", SECRET,
        env=env,
    )  # fmt: skip
    assert no_equals.returncode == 1 and "KEY=VALUE" in no_equals.stderr
    assert SECRET not in no_equals.stderr
    bad_json = switchboard(
        "tools", "configure", "n8n", "--endpoint", "https://n8n.test", "--setting", "zone=eu1",
        env=env,
    )  # fmt: skip
    assert bad_json.returncode == 1 and "not JSON" in bad_json.stderr
    no_endpoint = switchboard("tools", "configure", "n8n", "--credential", "api_key=x", env=env)
    assert no_endpoint.returncode == 1 and "--endpoint" in no_endpoint.stderr


def test_without_a_secret_key_configure_and_rotate_say_what_to_set(env: dict[str, str]) -> None:
    keyless = {**env, "SWITCHBOARD_SECRET_KEY": ""}
    configure = ("tools", "configure", "n8n", "--endpoint", "https://n8n.test", "--credential")
    for args in (("tools", "rotate-keys"), ("tools", "list"), (*configure, "api_key=x")):
        result = switchboard(*args, env=keyless)
        assert result.returncode == 1
        assert "SWITCHBOARD_SECRET_KEY is not set" in result.stderr
        assert "Traceback" not in result.stderr


def test_rotate_keys_re_encrypts_under_the_newest_key(env: dict[str, str]) -> None:
    _configure_clickup(env)
    (before,) = _stored_credentials(env)
    new_key = generate_key()
    rotating = {**env, "SWITCHBOARD_SECRET_KEY": f"{new_key},{env['SWITCHBOARD_SECRET_KEY']}"}
    rotated = switchboard("tools", "rotate-keys", env=rotating)
    assert rotated.returncode == 0, rotated.stderr
    assert "re-encrypted 1 credential set" in rotated.stdout
    (after,) = _stored_credentials(env)
    assert after != before
    only_new = {**env, "SWITCHBOARD_SECRET_KEY": new_key}  # the old key is gone
    listed = switchboard("tools", "list", "--json", env=only_new)
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout)[0]["credentials"] == {"api_token": "***"}


def test_check_reports_each_tool_and_exits_1_when_one_is_down(env: dict[str, str]) -> None:
    fake = N8nFake(api_key=N8N_KEY)
    with serve_in_thread(fake.app()) as base_url:
        switchboard(
            "tools", "configure", "n8n", "--endpoint", base_url,
            "--credential", f"api_key={N8N_KEY}", env=env,
        )  # fmt: skip
        healthy = switchboard("tools", "check", "n8n", env=env)
    assert healthy.returncode == 0, healthy.stderr
    assert healthy.stdout.split()[:3] == ["n8n", "ok", "active"]
    switchboard(
        "tools", "configure", "make", "--endpoint", f"http://127.0.0.1:{free_port()}",
        "--credential", "api_token=make-SECRET-token", env=env,
    )  # fmt: skip
    both = switchboard("tools", "check", env=env)
    assert both.returncode == 1
    lines = {line.split()[0]: line for line in both.stdout.splitlines()}
    assert "FAILED" in lines["make"] and "down" in lines["make"]
    assert "make-SECRET-token" not in both.stdout + both.stderr
    (make,) = [t for t in json.loads(switchboard("tools", "list", "--json", env=env).stdout)
               if t["tool"] == "make"]  # fmt: skip
    assert make["connection_status"] == "down"
