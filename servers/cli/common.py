"""What every CLI command shares: opening the store, running async code, printing results."""

from __future__ import annotations

import asyncio
import getpass
import json
import sys
import uuid
from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import typer

from shared.audit import AuditEntry, record_audit
from shared.config import Settings, get_settings
from shared.db.database import Database

__all__ = ["audit_cli", "cli_actor", "echo_json", "fail", "open_database", "run"]

T = TypeVar("T")


def run(main: Callable[[], Awaitable[T]]) -> T:
    """Run an async command body to completion."""

    async def wrapper() -> T:
        return await main()

    return asyncio.run(wrapper())


@asynccontextmanager
async def open_database(
    settings: Settings | None = None, *, migrated: bool = True
) -> AsyncGenerator[Database]:
    """The configured store, checked reachable (and migrated, unless `migrated=False`)."""
    settings = settings or get_settings()
    db = Database.from_url(settings.database_url)
    try:
        if migrated:
            await db.check_ready()
        else:
            await db.check_reachable()
        yield db
    finally:
        await db.dispose()


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
