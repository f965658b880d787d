"""`switchboard db ...`: migrations, the Postgres DDL, demo data, backups."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Annotated

import typer

from servers.cli.common import fail, open_database, run
from shared.config import get_settings
from shared.db.migrate import postgres_ddl, upgrade
from shared.db.url import mask_password, parse_database_url

app = typer.Typer(help="The store: migrations, DDL, demo data, backups.", no_args_is_help=True)


@app.command("upgrade")
def upgrade_command() -> None:
    """Apply every pending migration (safe to run again)."""

    async def main() -> str:
        async with open_database(migrated=False) as db:
            return await upgrade(db.engine)

    revision = run(main)
    typer.echo(f"database at revision {revision}: {mask_password(get_settings().database_url)}")


@app.command("sql")
def sql_command() -> None:
    """Print the Postgres DDL of all migrations (for a Supabase migrations folder)."""
    typer.echo(postgres_ddl())


@app.command("backup")
def backup_command(
    path: Annotated[Path, typer.Argument(help="File to write the copy to")],
    force: Annotated[bool, typer.Option(help="Overwrite PATH if it exists")] = False,
) -> None:
    """Write a consistent copy of the SQLite store, safe while Switchboard is running."""
    target = parse_database_url(get_settings().database_url)
    if not target.is_sqlite:
        fail(
            "Switchboard does not copy a Postgres database itself: use your provider's "
            "backups (Supabase: Project Settings > Database > Backups, with point-in-time "
            "recovery on paid plans) or `pg_dump --format=custom DATABASE_URL`"
        )
    assert target.sqlite_path is not None
    if not target.sqlite_path.exists():
        fail(f"there is no store at {target.sqlite_path} yet; run `switchboard db upgrade`")
    if path.exists() and not force:
        fail(f"{path} already exists; choose another path or pass --force")
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    # SQLite's online backup API copies pages under a read lock, so concurrent writers in
    # WAL mode keep working and the copy is a consistent snapshot.
    source = sqlite3.connect(f"file:{target.sqlite_path}?mode=ro", uri=True)
    try:
        destination = sqlite3.connect(partial)
        try:
            source.backup(destination)
        finally:
            destination.close()
    finally:
        source.close()
    partial.replace(path)
    typer.echo(f"backed up {target.sqlite_path} to {path} ({path.stat().st_size} bytes)")
