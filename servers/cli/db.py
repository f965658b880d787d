"""`switchboard db ...`: migrations, the Postgres DDL, demo data, backups."""

from __future__ import annotations

import sqlite3
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated

import typer

from servers.cli.common import fail, open_database, run
from shared.config import get_settings
from shared.db.migrate import current_revision, postgres_ddl, upgrade
from shared.db.url import mask_password, parse_database_url
from shared.demo.plan import DemoParams
from shared.demo.seed import SeedProgress, SeedReport, seed_demo, validate_sizes
from shared.errors import ValidationFailedError

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


@app.command("seed")
def seed_command(
    demo: Annotated[
        bool, typer.Option("--demo", help="Generate the demo book of business")
    ] = False,
    accounts: Annotated[int, typer.Option(help="Accounts across all tenants")] = 500,
    tenants: Annotated[int, typer.Option(help="Tenants; the first is named 'demo'")] = 3,
    seed: Annotated[int, typer.Option(help="Random seed: same seed, same data")] = 1,
    as_of: Annotated[
        str | None, typer.Option(help="'Today' in the data, YYYY-MM-DD (default: today, UTC)")
    ] = None,
    replace: Annotated[
        bool, typer.Option(help="Delete the tenants an earlier seed made, then seed again")
    ] = False,
) -> None:
    """Create demo tenants with accounts, contacts, deals, activities, reviews, purchases.

    Migrates an empty store first. All or nothing: one transaction for the whole run.
    """
    if not demo:
        fail(
            "`db seed` only generates demo data so far: run `switchboard db seed --demo` "
            "(options: --accounts N --tenants N --seed S)"
        )
    try:
        validate_sizes(accounts, tenants)
        today = date.fromisoformat(as_of) if as_of else datetime.now(UTC).date()
    except ValidationFailedError as exc:
        fail(str(exc))
        return
    except ValueError:
        fail(f"--as-of must be a date like 2026-01-31, not {as_of!r}")
        return
    params = DemoParams(
        seed=seed,
        accounts=accounts,
        tenants=tenants,
        as_of=datetime(today.year, today.month, today.day, tzinfo=UTC),
    )
    last_shown = time.monotonic()

    def show_progress(progress: SeedProgress) -> None:
        nonlocal last_shown
        if time.monotonic() - last_shown >= 5:  # big runs say they are alive; small ones don't
            last_shown = time.monotonic()
            typer.echo(
                f"  {progress.tenant}: {progress.accounts_done:,}/{progress.accounts_total:,} "
                f"accounts, {progress.rows_written:,} rows so far",
                err=True,
            )

    async def main() -> tuple[bool, SeedReport]:
        async with open_database(migrated=False) as db:
            migrated = await current_revision(db.engine) is None
            if migrated:
                await upgrade(db.engine)
            await db.check_ready()
            report = await seed_demo(db, params, replace=replace, on_progress=show_progress)
            return migrated, report

    migrated, report = run(main)
    _print_seed_report(report, migrated, params)


def _print_seed_report(report: SeedReport, migrated: bool, params: DemoParams) -> None:
    if migrated:
        typer.echo("the store was empty: migrated it first")
    if report.replaced:
        typer.echo(f"deleted the earlier demo tenants: {', '.join(report.replaced)}")
    rate = report.total_rows / report.elapsed_s if report.elapsed_s > 0 else 0.0
    typer.echo(
        f"seeded {len(report.tenants)} tenant(s) with seed {params.seed}, as of "
        f"{params.as_of.date()}: {report.total_rows:,} rows in {report.elapsed_s:.1f} s "
        f"({rate:,.0f} rows/s)"
    )
    width = max(len(t.name) for t in report.tenants)
    typer.echo("tenants:")
    for tenant in report.tenants:
        typer.echo(f"  {tenant.name.ljust(width)}  {tenant.accounts:>9,} accounts  {tenant.id}")
    typer.echo("rows created:")
    for table, count in sorted(report.rows.items()):
        typer.echo(f"  {table.ljust(width)}  {count:>9,}")
