"""`switchboard mcp crm` refuses to start, with one readable line, when it cannot serve."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from servers.cli.main import main
from shared.config import get_settings


def _run(monkeypatch: pytest.MonkeyPatch, *args: str) -> int:
    monkeypatch.setattr(sys, "argv", ["switchboard", *args])
    get_settings.cache_clear()
    with pytest.raises(SystemExit) as exited:
        main()
    return int(exited.value.code or 0)


def test_unknown_tenant_is_one_line_on_stderr(
    migrated_sqlite_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    shutil.copyfile(migrated_sqlite_file, tmp_path / "store.sqlite3")  # SWITCHBOARD_DATABASE_URL
    code = _run(monkeypatch, "mcp", "crm", "--tenant", "nope")
    out, err = capsys.readouterr()
    assert code == 1 and out == ""
    assert "tenant 'nope' does not exist" in err and "Traceback" not in err


def test_unmigrated_store_says_how_to_fix_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code = _run(monkeypatch, "mcp", "crm")
    out, err = capsys.readouterr()
    assert code == 1 and out == ""
    assert "switchboard db upgrade" in err
