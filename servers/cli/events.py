"""`switchboard events ...`: emit, list, replay and prune queued events; custom types."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from orchestration.events.capture import ChangePoller, install_change_capture
from orchestration.events.custom_types import (
    STANDARD_TYPES,
    add_custom_event_types,
    custom_event_types,
    remove_custom_event_types,
)
from orchestration.events.models import CustomerEvent, EventPriority, EventSource
from orchestration.events.publish import PublishResult, publish
from orchestration.queue.config import QueueConfig
from orchestration.queue.retention import RetentionReport
from orchestration.queue.sql_store import SqlQueueStore
from orchestration.queue.store import EventStatus, QueuedEvent, ReplayFilter
from orchestration.worker import retention_policy
from servers.cli.common import echo_json, fail, open_database, run
from shared.config import get_settings
from shared.db.database import Database
from shared.tenants import Tenant, resolve_tenant

app = typer.Typer(help="Events: emit, list, replay, prune.", no_args_is_help=True)
types_app = typer.Typer(help="Tenant-defined custom event types.", no_args_is_help=True)
app.add_typer(types_app, name="types")

TenantOption = Annotated[
    str | None,
    typer.Option("--tenant", help="Tenant name or id (default: SWITCHBOARD_TENANT, or demo)"),
]
EXAMPLE = '{"score": 90}'
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts")]


async def _tenant(db: Database, name: str | None) -> Tenant:
    return await resolve_tenant(db, name or get_settings().tenant)


def _parse_data(raw: str) -> dict[str, Any]:
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        fail(
            f"--data is not valid JSON ({exc.msg} at character {exc.pos}); e.g. '{{\"score\": 90}}'"
        )
        raise AssertionError from None  # fail() exits
    if not isinstance(data, dict):
        fail(f"--data must be a JSON object such as '{EXAMPLE}'")
    return dict(data)  # pyright: ignore[reportUnknownArgumentType]


def _parse_choice(value: str, choices: type[EventPriority] | type[EventSource], flag: str) -> Any:
    try:
        return choices(value.lower())
    except ValueError:
        fail(f"{flag} must be one of {', '.join(c.value for c in choices)}, not '{value}'")


def _parse_time(value: str | None, flag: str) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        fail(f"{flag} must be an ISO date or time such as 2026-01-31 or 2026-01-31T09:00+00:00")
        raise AssertionError from None
    if parsed.tzinfo is None:
        fail(f"{flag} needs a time zone, e.g. {value}+00:00")
    return parsed


@app.command("emit")
def emit_command(
    event_type: Annotated[str, typer.Option("--type", help="Event type, e.g. lead_qualified")],
    customer: Annotated[str | None, typer.Option("--customer", help="Customer id")] = None,
    data: Annotated[str, typer.Option("--data", help="Event data as a JSON object")] = "{}",
    priority: Annotated[str, typer.Option(help="low | medium | high | critical")] = "medium",
    event_id: Annotated[
        str | None, typer.Option("--id", help="Event id; a repeat with the same id is ignored")
    ] = None,
    source: Annotated[str, typer.Option(help="crm | n8n | make | clickup | apify | ...")] = "crm",
    at: Annotated[str | None, typer.Option("--at", help="Run later: ISO time with zone")] = None,
    tenant: TenantOption = None,
    as_json: JsonOption = False,
) -> None:
    """Queue one event (validated and deduplicated like every other publisher's)."""
    payload = _parse_data(data)
    level = _parse_choice(priority, EventPriority, "--priority")
    origin = _parse_choice(source, EventSource, "--source")
    schedule_at = _parse_time(at, "--at")

    async def main() -> tuple[CustomerEvent, PublishResult]:
        async with open_database() as db:
            owner = await _tenant(db, tenant)
            fields: dict[str, Any] = {
                "tenantId": owner.id,
                "customerId": customer,
                "eventType": event_type,
                "eventData": payload,
                "priority": level,
                "source": origin,
            }
            if event_id is not None:
                fields["eventId"] = event_id
            try:
                event = CustomerEvent.model_validate(fields)
            except ValidationError as exc:
                first = exc.errors()[0]
                where = ".".join(str(p) for p in first["loc"])
                fail(f"{where}: {first['msg']}")
                raise AssertionError from None
            return event, await publish(db, event, schedule_at=schedule_at)

    event, result = run(main)
    if as_json:
        echo_json(
            {
                "queue_id": str(result.queue_id),
                "event_id": event.event_id,
                "accepted": result.accepted,
            }
        )
    elif result.accepted:
        typer.echo(f"queued {event.event_type} {result.queue_id} (event id {event.event_id})")
    else:
        typer.echo(f"already queued as {result.queue_id} (event id {event.event_id}); ignored")


def _line(event: QueuedEvent) -> str:
    when = event.created_at.strftime("%Y-%m-%d %H:%M:%S") if event.created_at else ""
    tries = f"{event.attempts}/{event.max_retries + 1}"
    return (
        f"{event.id}  {when}  {event.status:<10} p{event.priority}  {tries:<5} {event.event_type}"
    )


@app.command("list")
def list_command(
    status: Annotated[
        str | None, typer.Option(help="pending | processing | completed | failed")
    ] = None,
    event_type: Annotated[str | None, typer.Option("--type", help="Only this type")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="At most this many")] = 50,
    tenant: TenantOption = None,
    as_json: JsonOption = False,
) -> None:
    """List the tenant's newest events first."""
    if status is not None and status not in {s.value for s in EventStatus}:
        fail(f"--status must be one of {', '.join(s.value for s in EventStatus)}, not '{status}'")

    async def main() -> list[QueuedEvent]:
        async with open_database() as db:
            owner = await _tenant(db, tenant)
            return await SqlQueueStore(db).list_events(
                tenant_id=owner.id, status=status, event_type=event_type, limit=limit
            )

    found = run(main)
    if as_json:
        echo_json([e.as_dict() for e in found])
        return
    if not found:
        typer.echo("no events" + (f" with status {status}" if status else ""))
    for event in found:
        typer.echo(_line(event))


@app.command("replay")
def replay_command(
    event_ids: Annotated[list[str] | None, typer.Argument(help="Queue ids to run again")] = None,
    failed: Annotated[bool, typer.Option("--failed", help="Every dead-lettered event")] = False,
    event_type: Annotated[str | None, typer.Option("--type", help="With --failed")] = None,
    since: Annotated[str | None, typer.Option(help="With --failed: created at or after")] = None,
    tenant: TenantOption = None,
) -> None:
    """Queue dead-lettered (or completed) events again with fresh attempts."""
    ids: list[uuid.UUID] = []
    for raw in event_ids or []:
        try:
            ids.append(uuid.UUID(raw))
        except ValueError:
            fail(f"'{raw}' is not an event queue id; `switchboard events list` shows them")
    if not ids and not failed:
        fail("name event ids to replay, or pass --failed for every dead-lettered event")
    after = _parse_time(since, "--since")

    async def main() -> int:
        async with open_database() as db:
            owner = await _tenant(db, tenant)
            where = (
                ReplayFilter(event_type=event_type, tenant_id=owner.id, since=after)
                if failed
                else None
            )
            return await SqlQueueStore(db).replay(ids=ids, where=where)

    typer.echo(f"replayed {run(main)} event(s)")


@app.command("prune")
def prune_command(
    older_than_days: Annotated[
        float | None,
        typer.Option(min=0, help="Finished before this (default SWITCHBOARD_QUEUE_RETENTION_DAYS)"),
    ] = None,
    mode: Annotated[
        str | None,
        typer.Option(help="archive or delete (default SWITCHBOARD_QUEUE_RETENTION_MODE)"),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Apply retention now: completed events and their finished executions older than N days
    move to the archive tables (or are deleted); archives past their own period are deleted.
    Workers do the same on a schedule."""
    try:
        config = QueueConfig()
    except ValueError as exc:
        fail(f"queue settings (SWITCHBOARD_QUEUE_*) are invalid: {exc}")
        raise AssertionError from None
    if mode is not None and mode not in ("archive", "delete"):
        fail(f"--mode must be archive or delete, not '{mode}'")
    days = config.retention_days if older_than_days is None else older_than_days
    chosen = {"retention_days": days, "retention_mode": mode or config.retention_mode}
    policy = retention_policy(config.model_copy(update=chosen))

    async def main() -> RetentionReport:
        async with open_database() as db:
            store = SqlQueueStore(db)
            try:
                return await store.retain(policy)
            finally:
                await store.close()

    report = run(main)
    if as_json:
        echo_json({"mode": policy.mode, **report.as_dict()})
        return
    verb = "archived" if policy.mode == "archive" else "deleted"
    typer.echo(
        f"{verb} {report.events} completed event(s) and {report.executions} finished "
        f"execution(s) older than {days:g} day(s); {report.archived_deleted} expired "
        "archive row(s) deleted"
    )


@types_app.command("list")
def types_list_command(tenant: TenantOption = None, as_json: JsonOption = False) -> None:
    """The standard event types and the tenant's custom ones."""

    async def main() -> frozenset[str]:
        async with open_database() as db:
            owner = await _tenant(db, tenant)
            async with db.engine.connect() as conn:
                return await custom_event_types(conn, owner.id)

    custom = run(main)
    if as_json:
        echo_json({"standard": sorted(STANDARD_TYPES), "custom": sorted(custom)})
        return
    for name in sorted(STANDARD_TYPES):
        typer.echo(f"{name}  (standard)")
    for name in sorted(custom):
        typer.echo(f"{name}  (custom)")


@types_app.command("add")
def types_add_command(
    names: Annotated[list[str], typer.Argument(help="New type names")], tenant: TenantOption = None
) -> None:
    """Allow custom event types for the tenant."""

    async def main() -> frozenset[str]:
        async with open_database() as db:
            owner = await _tenant(db, tenant)
            async with db.transaction() as conn:
                return await add_custom_event_types(conn, owner.id, names)

    typer.echo("custom event types: " + ", ".join(sorted(run(main))))


@types_app.command("remove")
def types_remove_command(
    names: Annotated[list[str], typer.Argument(help="Type names")], tenant: TenantOption = None
) -> None:
    """Stop allowing custom event types (events already queued stay)."""

    async def main() -> frozenset[str]:
        async with open_database() as db:
            owner = await _tenant(db, tenant)
            async with db.transaction() as conn:
                return await remove_custom_event_types(conn, owner.id, names)

    remaining = sorted(run(main))
    typer.echo("custom event types: " + (", ".join(remaining) if remaining else "(none)"))


capture_app = typer.Typer(help="CRM change capture (triggers or polling).", no_args_is_help=True)
app.add_typer(capture_app, name="capture")


@capture_app.command("install")
def capture_install_command() -> None:
    """Install the Postgres triggers that queue CRM changes as events (safe to rerun)."""

    async def main() -> None:
        async with open_database() as db, db.transaction() as conn:
            await install_change_capture(conn)

    run(main)
    typer.echo("change capture installed: accounts, deals, customer_health_scores")


@capture_app.command("poll")
def capture_poll_command(
    interval: Annotated[float, typer.Option(min=0.5, help="Seconds between polls")] = 10,
    lookback_minutes: Annotated[
        float, typer.Option(min=0, help="On start, also read changes this old")
    ] = 60,
    once: Annotated[bool, typer.Option("--once", help="Poll once and exit")] = False,
) -> None:
    """Queue CRM changes by polling updated_at (for a CRM where triggers cannot be installed)."""

    async def main() -> int:
        total = 0
        async with open_database() as db:
            since = datetime.now(UTC) - timedelta(minutes=lookback_minutes)
            poller = ChangePoller(db, since=since)
            while True:
                queued = await poller.poll_once()
                total += queued
                if queued:
                    typer.echo(f"queued {queued} event(s) from CRM changes")
                if once:
                    return total
                await asyncio.sleep(interval)

    typer.echo(f"queued {run(main)} event(s)")
