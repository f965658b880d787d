"""The foundation commands as a user runs them: one clear line on error, never a traceback."""

from __future__ import annotations

import io
import json
import os
import sqlite3
import subprocess
import sys
import traceback
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

import pytest

from servers.cli.main import main
from shared.config import Settings, get_settings


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


def switchboard(*args: str, env: dict[str, str] | None = None) -> Result:
    """Run the console entry point in-process, as `switchboard ARGS` with `env` set."""
    saved_env = dict(os.environ)
    saved_argv = sys.argv
    out, err = io.StringIO(), io.StringIO()
    os.environ.update(env or {})
    sys.argv = ["switchboard", *args]
    get_settings.cache_clear()
    code = 0
    try:
        with redirect_stdout(out), redirect_stderr(err):
            try:
                main()
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
            except Exception:
                # --debug re-raises: show it as the traceback a user would see.
                err.write("Traceback (most recent call last):\n" + traceback.format_exc())
                code = 1
    finally:
        sys.argv = saved_argv
        os.environ.clear()
        os.environ.update(saved_env)
        get_settings.cache_clear()
    return Result(code, out.getvalue(), err.getvalue())


def test_console_script_entry_point_runs() -> None:
    """The installed `switchboard` command itself (one subprocess, the rest in-process)."""
    result = subprocess.run(
        [sys.executable, "-m", "servers.cli.main", "config", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "database_url" in json.loads(result.stdout)


@pytest.fixture
def store_env(tmp_path: Path) -> dict[str, str]:
    return {"SWITCHBOARD_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.sqlite3'}"}


def test_upgrade_then_tenants_create_and_list(store_env: dict[str, str]) -> None:
    assert switchboard("db", "upgrade", env=store_env).returncode == 0
    created = switchboard("tenants", "create", "Acme Dental", env=store_env)
    assert created.returncode == 0, created.stderr
    listed = switchboard("tenants", "list", "--json", env=store_env)
    assert [t["name"] for t in json.loads(listed.stdout)] == ["Acme Dental"]


def test_duplicate_tenant_is_one_line_and_exit_1(store_env: dict[str, str]) -> None:
    switchboard("db", "upgrade", env=store_env)
    switchboard("tenants", "create", "acme", env=store_env)
    again = switchboard("tenants", "create", "acme", env=store_env)
    assert again.returncode == 1
    assert again.stderr.strip() == "error: a tenant named 'acme' already exists"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("mysql://u:p@h/db", "unsupported scheme 'mysql'"),
        ("postgresql://u:secretpw@127.0.0.1:1/db", "nothing is listening there"),
    ],
)
def test_bad_database_urls_end_with_one_clear_line(url: str, expected: str) -> None:
    result = switchboard("db", "upgrade", env={"SWITCHBOARD_DATABASE_URL": url})
    assert result.returncode == 1
    assert expected in result.stderr
    assert "Traceback" not in result.stderr
    assert "secretpw" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_unmigrated_store_tells_the_user_to_upgrade(store_env: dict[str, str]) -> None:
    result = switchboard("tenants", "list", env=store_env)
    assert result.returncode == 1
    assert "run `switchboard db upgrade`" in result.stderr


def test_debug_flag_shows_the_traceback(store_env: dict[str, str]) -> None:
    result = switchboard("--debug", "tenants", "list", env=store_env)
    assert result.returncode != 0
    assert "Traceback" in result.stderr


def test_config_masks_secrets_and_passwords() -> None:
    env = {
        "SWITCHBOARD_DATABASE_URL": "postgresql://user:dbsecret@localhost/db",
        "SWITCHBOARD_SUPABASE_KEY": "supersecretkey",
        "SWITCHBOARD_SECRET_KEY": "fernetsecret",
    }
    result = switchboard("config", "--json", env=env)
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert shown["supabase_key"] == "***"
    assert shown["secret_key"] == "***"
    assert "dbsecret" not in result.stdout
    assert "supersecretkey" not in result.stdout
    assert shown["database_url"].startswith("postgresql://user:***@")
    assert "data_dir" in shown


def test_default_store_lives_in_the_user_data_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SWITCHBOARD_DATABASE_URL", raising=False)
    url = Settings().database_url
    assert url.startswith("sqlite:///")
    assert url.endswith("switchboard/switchboard.sqlite3")


def test_backup_is_a_consistent_copy_while_a_writer_holds_the_store(
    store_env: dict[str, str], tmp_path: Path
) -> None:
    switchboard("db", "upgrade", env=store_env)
    switchboard("tenants", "create", "before-backup", env=store_env)
    store = tmp_path / "cli.sqlite3"
    writer = sqlite3.connect(store)
    writer.execute("PRAGMA journal_mode=WAL")
    writer.execute("BEGIN IMMEDIATE")
    writer.execute(
        "INSERT INTO tenants (id, name) VALUES ('00000000000000000000000000000001', 'uncommitted')"
    )
    try:
        result = switchboard("db", "backup", str(tmp_path / "copy.sqlite3"), env=store_env)
    finally:
        writer.rollback()
        writer.close()
    assert result.returncode == 0, result.stderr
    copy = sqlite3.connect(tmp_path / "copy.sqlite3")
    names = [row[0] for row in copy.execute("SELECT name FROM tenants")]
    assert copy.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    copy.close()
    assert names == ["before-backup"]


def test_backup_refuses_to_overwrite_and_explains_postgres(
    store_env: dict[str, str], tmp_path: Path
) -> None:
    switchboard("db", "upgrade", env=store_env)
    target = tmp_path / "exists.sqlite3"
    target.write_text("keep me")
    refused = switchboard("db", "backup", str(target), env=store_env)
    assert refused.returncode == 1
    assert "--force" in refused.stderr
    assert target.read_text() == "keep me"
    pg = switchboard(
        "db",
        "backup",
        str(tmp_path / "x"),
        env={"SWITCHBOARD_DATABASE_URL": "postgresql://u:p@h/db"},
    )
    assert pg.returncode == 1
    assert "pg_dump" in pg.stderr


def test_db_sql_prints_postgres_ddl_without_touching_a_database() -> None:
    result = switchboard(
        "db", "sql", env={"SWITCHBOARD_DATABASE_URL": "postgresql://u:p@nowhere/db"}
    )
    assert result.returncode == 0
    assert "CREATE TABLE event_queue" in result.stdout
    assert "JSONB" in result.stdout


def test_serve_on_an_unmigrated_store_says_what_to_run(store_env: dict[str, str]) -> None:
    result = switchboard("serve", "--port", "1", env=store_env)
    assert result.returncode == 1
    assert "switchboard db upgrade" in result.stderr
    assert "Traceback" not in result.stderr
