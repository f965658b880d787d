"""`switchboard events ...` and `switchboard worker --drain` as a user runs them (SQLite)."""

from __future__ import annotations

import io
import json
import sys
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass

import pytest

from servers.cli.main import main
from shared.config import get_settings


@dataclass
class Result:
    code: int
    out: str
    err: str


def switchboard(*args: str) -> Result:
    out, err = io.StringIO(), io.StringIO()
    saved = sys.argv
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
        sys.argv = saved
    return Result(code, out.getvalue(), err.getvalue())


@pytest.fixture(autouse=True)
def _store() -> None:
    assert switchboard("db", "upgrade").code == 0
    assert switchboard("tenants", "create", "demo").code == 0


def test_emit_then_list_shows_the_event() -> None:
    emitted = switchboard(
        "events", "emit", "--type", "lead_qualified", "--customer", "c1",
        "--data", '{"score": 91}', "--priority", "critical", "--id", "e-1", "--json",
    )  # fmt: skip
    assert emitted.code == 0, emitted.err
    assert json.loads(emitted.out)["accepted"] is True
    listed = switchboard("events", "list", "--json")
    [event] = json.loads(listed.out)
    assert (event["event_id"], event["priority"], event["event_data"]) == ("e-1", 1, {"score": 91})


def test_repeated_emit_with_same_id_is_ignored() -> None:
    args = ("events", "emit", "--type", "deal_closed", "--id", "same")
    assert switchboard(*args).code == 0
    again = switchboard(*args)
    assert again.code == 0 and "already queued" in again.out
    assert len(json.loads(switchboard("events", "list", "--json").out)) == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--type", "lead_qualified", "--data", "{bad"), "--data is not valid JSON"),
        (("--type", "lead_qualified", "--data", "[1]"), "--data must be a JSON object"),
        (("--type", "no_such_type"), "unknown event type 'no_such_type'"),
        (("--type", "lead_qualified", "--priority", "urgent"), "--priority must be one of"),
    ],
)
def test_bad_emit_input_is_one_clear_line(args: tuple[str, ...], message: str) -> None:
    result = switchboard("events", "emit", *args)
    assert result.code == 1
    assert message in result.err
    assert "Traceback" not in result.err and len(result.err.strip().splitlines()) == 1


def test_worker_drain_completes_events_and_exits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWITCHBOARD_TEST_MARKER_DIR", ".")
    for n in range(3):
        assert switchboard("events", "emit", "--type", "deal_closed", "--id", f"d{n}").code == 0
    result = switchboard(
        "worker", "--drain", "--concurrency", "2",
        "--handler", "tests.integration.queue.handlers:complete",
    )  # fmt: skip
    assert result.code == 0, result.err
    assert "3 completed" in result.out
    statuses = {e["status"] for e in json.loads(switchboard("events", "list", "--json").out)}
    assert statuses == {"completed"}


def test_replay_failed_requeues_dead_letters(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWITCHBOARD_TEST_MARKER_DIR", ".")
    assert switchboard("events", "emit", "--type", "deal_closed").code == 0
    failing = switchboard("worker", "--drain", "--handler", "tests.integration.queue.handlers:fail")
    assert failing.code == 0 and "1 dead-lettered" in failing.out
    assert [e["status"] for e in json.loads(switchboard("events", "list", "--json").out)] == [
        "failed"
    ]
    replayed = switchboard("events", "replay", "--failed")
    assert replayed.code == 0 and "replayed 1" in replayed.out
    assert switchboard("events", "list", "--status", "pending").out.count("deal_closed") == 1


def test_replay_without_target_says_what_to_pass() -> None:
    result = switchboard("events", "replay")
    assert result.code == 1 and "--failed" in result.err


def test_prune_archives_completed_events(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWITCHBOARD_TEST_MARKER_DIR", ".")
    for n in range(2):
        assert switchboard("events", "emit", "--type", "deal_closed", "--id", f"p{n}").code == 0
    handler = ("--handler", "tests.integration.queue.handlers:complete")
    assert switchboard("worker", "--drain", *handler).code == 0
    pruned = switchboard("events", "prune", "--older-than-days", "0", "--json")
    assert pruned.code == 0, pruned.err
    assert json.loads(pruned.out) == {
        "mode": "archive", "events": 2, "executions": 0, "archived_deleted": 0
    }  # fmt: skip
    assert json.loads(switchboard("events", "list", "--json").out) == []


def test_prune_with_an_unknown_mode_says_what_is_allowed() -> None:
    result = switchboard("events", "prune", "--mode", "shred")
    assert result.code == 1 and "archive or delete" in result.err
