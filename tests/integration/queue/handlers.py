"""Handler factories the worker subprocess tests load with `--handler MODULE:FACTORY`.

Each writes a marker file into $SWITCHBOARD_TEST_MARKER_DIR so the test can see progress
without sleeping.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from orchestration.queue.types import ClaimedEvent, EventHandler, HandlerOutcome, OutcomeKind
from shared.db.database import Database


def _marker(name: str) -> Path:
    return Path(os.environ["SWITCHBOARD_TEST_MARKER_DIR"]) / name


def hang(db: Database) -> EventHandler:
    """Announces it holds the event, then never finishes (the test SIGKILLs the process)."""

    async def handler(event: ClaimedEvent) -> HandlerOutcome:
        _marker(f"started-{os.getpid()}").write_text(str(event.id))
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    return handler


def complete(db: Database) -> EventHandler:
    """Completes every event, recording which process did it."""

    async def handler(event: ClaimedEvent) -> HandlerOutcome:
        _marker(f"done-{event.id}").write_text(str(os.getpid()))
        return HandlerOutcome(OutcomeKind.COMPLETED, result={"pid": os.getpid()})

    return handler


def fail(db: Database) -> EventHandler:
    """Fails every event for good (bad data), so it is dead-lettered at once."""

    async def handler(event: ClaimedEvent) -> HandlerOutcome:
        return HandlerOutcome(OutcomeKind.FAILED, error={"message": "bad data"})

    return handler
