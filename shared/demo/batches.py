"""Where the seed's encoded batches come from: a worker thread, or a child process.

Generating and encoding rows is pure Python; SQLite's inserts are C that releases the GIL
around every row's step and takes it back to bind the next row. A generator in a thread of
the same process therefore holds up the insert thread on every row (the GIL's 5 ms switch
interval), and the two run nearly one after the other. Big runs generate in a child process
instead, so generation and inserting really use both cores; the child sends pickled batches
through a pipe, whose small buffer keeps it at most a batch or two ahead (bounded memory).
Small runs keep the thread: starting a Python process costs more than they take.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import traceback
from collections.abc import AsyncGenerator, Iterator
from multiprocessing.connection import Connection
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect, make_url

from shared.db.schema import (
    accounts,
    activities,
    campaigns,
    contacts,
    deals,
    reviews,
    tenants,
    transactions,
)
from shared.demo.encoding import RowEncoder
from shared.demo.generator import TABLE_ORDER, Batch, iter_tenant_batches, tenant_row
from shared.demo.plan import DemoParams, TenantPlan, plan_tenants

__all__ = ["SEEDED_TABLES", "Encoded", "encoded_batches"]

SEEDED_TABLES: dict[str, sa.Table] = {
    "tenants": tenants,
    "accounts": accounts,
    "contacts": contacts,
    "deals": deals,
    "activities": activities,
    "campaigns": campaigns,
    "reviews": reviews,
    "transactions": transactions,
}
PROCESS_MIN_ACCOUNTS = 20_000  # below this a child process costs more than it saves

Encoded = list[tuple[str, str, list[Any]]]  # (table, INSERT, parameter tuples), insert order


def _encode_batch(encoder: RowEncoder, batch: Batch) -> Encoded:
    encoded: Encoded = []
    for name in TABLE_ORDER:
        rows = batch[name]
        if rows:
            sql, params = encoder.encode(name, rows)
            encoded.append((name, sql, params))
    return encoded


def _all_batches(
    params: DemoParams, plans: list[TenantPlan], dialect: Dialect, batch_accounts: int
) -> Iterator[Encoded]:
    encoder = RowEncoder(dialect, SEEDED_TABLES)
    for plan in plans:
        yield [("tenants", *encoder.encode("tenants", [tenant_row(params, plan)]))]
        for batch in iter_tenant_batches(params, plan, batch_accounts):
            yield _encode_batch(encoder, batch)


async def _from_thread(items: Iterator[Encoded]) -> AsyncGenerator[Encoded]:
    """Yield `items`, computing the next one in a worker thread while the caller works."""
    pending = asyncio.ensure_future(asyncio.to_thread(next, items, None))
    try:
        while (item := await pending) is not None:
            pending = asyncio.ensure_future(asyncio.to_thread(next, items, None))
            yield item
    finally:
        await asyncio.wait([pending])  # never leave the generator running in its thread


def _produce(params: DemoParams, driver: str, batch_accounts: int, sender: Connection) -> None:
    """Child process: send every encoded batch, then None; or ("error", traceback)."""
    try:
        dialect = make_url(f"{driver}://").get_dialect()()
        for encoded in _all_batches(params, plan_tenants(params), dialect, batch_accounts):
            sender.send(encoded)
        sender.send(None)
    except BaseException:
        sender.send(("error", traceback.format_exc()))
    finally:
        sender.close()


def _receive(receiver: Connection) -> Encoded | None:
    try:
        item = receiver.recv()
    except EOFError:
        raise RuntimeError("the demo data generator process exited unexpectedly") from None
    if isinstance(item, tuple):
        raise RuntimeError(f"the demo data generator failed:\n{item[1]}")
    return item  # pyright: ignore[reportUnknownVariableType]


async def _from_process(
    params: DemoParams, driver: str, batch_accounts: int
) -> AsyncGenerator[Encoded]:
    context = multiprocessing.get_context("spawn")  # fork is unsafe beside threads and a loop
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(
        target=_produce, args=(params, driver, batch_accounts, sender), daemon=True
    )
    child.start()
    sender.close()  # the child holds the only writing end, so its exit means EOF here
    try:
        pending = asyncio.ensure_future(asyncio.to_thread(_receive, receiver))
        try:
            while (item := await pending) is not None:
                pending = asyncio.ensure_future(asyncio.to_thread(_receive, receiver))
                yield item
        finally:
            if not pending.done():
                child.terminate()  # unblocks the pending receive with EOF
            await asyncio.wait([pending])
    finally:
        child.terminate()
        await asyncio.to_thread(child.join)
        receiver.close()


def encoded_batches(
    params: DemoParams, plans: list[TenantPlan], dialect: Dialect, batch_accounts: int
) -> AsyncGenerator[Encoded]:
    """Every tenant row, then its batches, as (table, SQL, parameters) ready to execute."""
    if params.accounts >= PROCESS_MIN_ACCOUNTS:
        return _from_process(params, f"{dialect.name}+{dialect.driver}", batch_accounts)
    return _from_thread(_all_batches(params, plans, dialect, batch_accounts))
