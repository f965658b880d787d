"""`switchboard workflows ...` and `switchboard executions ...` as a user runs them."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import sys
import uuid
from pathlib import Path

import pytest

from orchestration.workflows.handler import WorkflowEventHandler
from servers.cli.main import main
from shared.db.database import Database
from shared.db.migrate import upgrade
from shared.tenants import create_tenant
from tests.integration.workflows.fakes import claimed, fake_services

FIXTURES = Path(__file__).parents[2] / "fixtures" / "workflows"


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


@pytest.fixture
def tenant_id(tmp_path: Path) -> uuid.UUID:
    """A migrated store with a 'demo' tenant, where the CLI looks (tests/conftest.py sets
    SWITCHBOARD_DATABASE_URL to this file). The CLI runs its own event loop, so tests of
    it are plain functions."""

    async def prepare() -> uuid.UUID:
        db = _store(tmp_path)
        await upgrade(db.engine)
        tenant = await create_tenant(db, "demo")
        await db.dispose()
        return tenant.id

    return asyncio.run(prepare())


def _store(tmp_path: Path) -> Database:
    return Database.from_url(f"sqlite:///{tmp_path / 'store.sqlite3'}")


def test_load_list_and_show_the_spec_templates(
    tenant_id: uuid.UUID, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_cli(monkeypatch, capsys, "workflows", "load", str(FIXTURES))
    assert code == 0, err
    assert "created 'AI Lead Qualification Pipeline' (version 1)" in out
    code, out, _ = run_cli(monkeypatch, capsys, "workflows", "list", "--json")
    listed = json.loads(out)
    assert [(w["name"], w["version"], w["trigger"]) for w in listed] == [
        ("AI Lead Qualification Pipeline", 1, "webhook:/crm/prospect/new"),
        ("Churn Prevention Automation", 1, "schedule:daily"),
    ]
    code, out, _ = run_cli(monkeypatch, capsys, "workflows", "show", "Churn Prevention Automation")
    assert code == 0 and "frequency: daily" in out and "due_date: +3 days" in out
    code, _, _ = run_cli(monkeypatch, capsys, "workflows", "disable", "Churn Prevention Automation")
    code, out, _ = run_cli(monkeypatch, capsys, "workflows", "show", listed[1]["id"], "--json")
    assert json.loads(out)["version"] == 2 and json.loads(out)["active"] is False


def test_load_of_a_malformed_definition_prints_line_and_reason_and_exits_1(
    tenant_id: uuid.UUID,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\ntrigger: {type: manual}\nsteps:\n  - name: a\n    action: nope\n")
    code, out, err = run_cli(monkeypatch, capsys, "workflows", "load", str(bad))
    assert code == 1
    assert f"{bad}: line 5 (steps[1] \"a\".action): unknown action 'nope'" in err
    _, out, _ = run_cli(monkeypatch, capsys, "workflows", "list", "--json")
    assert json.loads(out) == []


def test_executions_list_and_show(
    tenant_id: uuid.UUID,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    code, _, err = run_cli(monkeypatch, capsys, "workflows", "load", str(FIXTURES))
    assert code == 0, err

    async def run_once() -> None:
        db = _store(tmp_path)
        services, _, _ = fake_services()
        tick = claimed(tenant_id, "schedule_tick", {}, triggers=["Churn Prevention Automation"])
        await WorkflowEventHandler(db, services)(tick)
        await db.dispose()

    asyncio.run(run_once())
    code, out, err = run_cli(monkeypatch, capsys, "executions", "list", "--json")
    assert code == 0, err
    (execution,) = json.loads(out)
    assert execution["status"] == "failed"  # no MCP client is wired in this test
    assert "MCP client" in execution["error_details"]["message"]
    code, out, _ = run_cli(monkeypatch, capsys, "executions", "show", execution["id"], "--json")
    shown = json.loads(out)
    assert shown["steps"]["detect_at_risk_customers"]["status"] == "completed"
    code, out, _ = run_cli(monkeypatch, capsys, "executions", "show", execution["id"])
    assert "Generate Retention Strategy" in out
    code, _, err = run_cli(monkeypatch, capsys, "executions", "list", "--status", "bogus")
    assert code == 1 and "--status must be one of" in err


def test_run_queues_a_named_workflow_with_its_input(
    tenant_id: uuid.UUID,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    run_cli(monkeypatch, capsys, "workflows", "load", str(FIXTURES))
    name = "AI Lead Qualification Pipeline"
    code, out, err = run_cli(
        monkeypatch, capsys, "workflows", "run", name, "--data", '{"company_domain": "a.com"}'
    )
    assert code == 0, err
    assert f"queued run of '{name}'" in out
    with sqlite3.connect(tmp_path / "store.sqlite3") as conn:
        rows = conn.execute("SELECT event_type, event_data FROM event_queue").fetchall()
    assert [(r[0], json.loads(r[1])) for r in rows] == [
        ("workflow_run", {"company_domain": "a.com"})
    ]
    code, _, err = run_cli(monkeypatch, capsys, "workflows", "run", name, "--data", "[1]")
    assert code == 1 and "must be a JSON object" in err
    code, _, err = run_cli(monkeypatch, capsys, "workflows", "run", "nope")
    assert code == 1 and "no workflow 'nope'" in err
