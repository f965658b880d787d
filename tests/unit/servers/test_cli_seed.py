"""`switchboard db seed`, driven through the console-script entry point as a user runs it."""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

import pytest

from servers.cli.main import main
from shared.config import get_settings


def run_cli(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str
) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["switchboard", *args])
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err


def tenant_names(store: Path) -> list[str]:
    with sqlite3.connect(store) as conn:
        return sorted(r[0] for r in conn.execute("SELECT name FROM tenants"))


def count(store: Path, table: str) -> int:
    with sqlite3.connect(store) as conn:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


SEED = ("db", "seed", "--demo", "--accounts", "60", "--tenants", "2", "--as-of", "2026-11-26")


def test_seed_demo_migrates_an_empty_store_and_creates_the_demo_tenant(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, err = run_cli(monkeypatch, capsys, *SEED)
    assert code == 0, err
    store = tmp_path / "store.sqlite3"
    assert tenant_names(store) == ["Summit Growth Partners", "demo"]
    assert count(store, "accounts") == 60
    assert "migrated it first" in out
    assert "accounts" in out and "transactions" in out and "rows/s" in out


def test_seeding_twice_refuses_with_one_line_and_exit_code_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert run_cli(monkeypatch, capsys, *SEED)[0] == 0
    code, _, err = run_cli(monkeypatch, capsys, *SEED)
    assert code == 1
    assert err.startswith("error: demo data is already seeded") and "--replace" in err
    assert "Traceback" not in err and err.count("\n") == 1
    assert count(tmp_path / "store.sqlite3", "accounts") == 60


def test_replace_seeds_again_without_duplicating(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert run_cli(monkeypatch, capsys, *SEED)[0] == 0
    code, out, err = run_cli(monkeypatch, capsys, *SEED, "--replace")
    assert code == 0, err
    assert "deleted the earlier demo tenants" in out
    assert count(tmp_path / "store.sqlite3", "accounts") == 60
    assert count(tmp_path / "store.sqlite3", "tenants") == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--accounts", "-5"), "--accounts must be between"),
        (("--accounts", "999999999"), "--accounts must be between"),
        (("--tenants", "0"), "--tenants must be between"),
        (("--tenants", "51"), "--tenants must be between"),
        (("--accounts", "2", "--tenants", "3"), "--accounts must be between"),
        (("--as-of", "yesterday"), "--as-of must be a date"),
    ],
)
def test_bad_values_get_one_clear_line_and_exit_code_1(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    args: tuple[str, ...],
    message: str,
) -> None:
    code, _, err = run_cli(monkeypatch, capsys, "db", "seed", "--demo", *args)
    assert code == 1
    assert err.startswith(f"error: {message}") and "Traceback" not in err
    assert not (tmp_path / "store.sqlite3").exists()  # refused before touching the store


def test_seed_without_demo_says_what_it_needs(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _, err = run_cli(monkeypatch, capsys, "db", "seed")
    assert code == 1
    assert "switchboard db seed --demo" in err
    assert not (tmp_path / "store.sqlite3").exists()


def test_same_seed_gives_the_same_ids_in_two_stores(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    stores = [tmp_path / "a.sqlite3", tmp_path / "b.sqlite3"]
    for store in stores:
        monkeypatch.setenv("SWITCHBOARD_DATABASE_URL", f"sqlite:///{store}")
        get_settings.cache_clear()
        assert run_cli(monkeypatch, capsys, *SEED, "--seed", "42")[0] == 0

    def ids(store: Path) -> list[str]:
        with sqlite3.connect(store) as conn:
            return [r[0] for r in conn.execute("SELECT id FROM accounts ORDER BY id")]

    assert ids(stores[0]) == ids(stores[1]) and len(ids(stores[0])) == 60
