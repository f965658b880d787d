"""What every CLI command shares: opening the store, running async code, printing results."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import typer

from shared.config import Settings, get_settings
from shared.db.database import Database

__all__ = ["echo_json", "fail", "open_database", "run"]

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
