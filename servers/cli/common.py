"""What every CLI command shares: opening the store, running async code, printing results."""

from __future__ import annotations

import asyncio
import getpass
import json
import sys
import time
import uuid
from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import typer

from shared.audit import AuditEntry, record_audit
from shared.config import Settings, get_settings
from shared.db.database import Database
from shared.errors import DatabaseUnavailableError

__all__ = ["audit_cli", "cli_actor", "echo_json", "fail", "open_database", "run"]

T = TypeVar("T")


def run(main: Callable[[], Awaitable[T]]) -> T:
    """Run an async command body to completion."""

    async def wrapper() -> T:
        return await main()

    return asyncio.run(wrapper())


@asynccontextmanager
async def open_database(
    settings: Settings | None = None, *, migrated: bool = True, wait_s: float = 0.0
) -> AsyncGenerator[Database]:
    """The configured store, checked reachable (and migrated, unless `migrated=False`).

    `wait_s`: while the server cannot take connections for now (not up yet, restarting,
    full), try again with backoff for up to this long, saying so on stderr, before giving
    up; a refused password, an unknown database or an unmigrated schema fail at once."""
    settings = settings or get_settings()
    db = Database.from_url(settings.database_url)
    try:
        await _check_store(db, migrated=migrated, wait_s=wait_s)
        yield db
    finally:
        await db.dispose()


_FIRST_RETRY_S = 0.5
_LONGEST_RETRY_S = 5.0


async def _check_store(db: Database, *, migrated: bool, wait_s: float) -> None:
    deadline = time.monotonic() + wait_s
    delay = _FIRST_RETRY_S
    while True:
        try:
            await (db.check_ready() if migrated else db.check_reachable())
            return
        except DatabaseUnavailableError as exc:
            left = deadline - time.monotonic()
            if not exc.transient or left <= 0:
                raise
            pause = min(delay, left)
            stderr(f"{exc}: trying again in {pause:.1f} s (for up to {left:.0f} s more)")
            await asyncio.sleep(pause)
            delay = min(delay * 2, _LONGEST_RETRY_S)


def echo_json(value: Any) -> None:
    typer.echo(json.dumps(value, indent=2, default=str, sort_keys=False))


def fail(message: str, code: int = 1) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def stderr(message: str) -> None:
    print(message, file=sys.stderr)


def cli_actor() -> str:
    """Who ran the command, for the audit log: `cli:<os user>`."""
    try:
        return f"cli:{getpass.getuser()}"
    except (OSError, KeyError):  # no user name in this environment (some containers)
        return "cli"


async def audit_cli(
    db: Database,
    action: str,
    *,
    tenant_id: uuid.UUID | None,
    target: str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """One audit row for an admin command that changed something (never a secret in it)."""
    await record_audit(
        db,
        AuditEntry(
            tenant_id=tenant_id,
            actor=cli_actor(),
            actor_role="admin",
            action=action,
            outcome="ok",
            target=target,
            details=details,
        ),
    )
