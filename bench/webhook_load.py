"""The webhook half of bench/http.py: a lean load generator for signed deliveries, and the
check afterwards that the queue holds exactly what was acknowledged.

The load generator must not starve the server of the machine's two cores, so it is not an
HTTP library: each of a few keep-alive connections writes a pre-built, pre-signed HTTP/1.1
request and reads the answer (status line, Content-Length, body), about 60 us of CPU a
delivery. Signing happens before the clock starts (the signatures stay well inside the
300 s replay window for any run this bench makes).

After the timed run: the store must hold one row per delivery (no loss, no duplicates),
and redelivering some of them must be answered `202 duplicate` and add nothing.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import asyncpg  # pyright: ignore[reportMissingTypeStubs]
import psutil
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from shared.db.database import Database
from shared.db.schema import event_queue
from shared.webhooks.signing import sign_switchboard

__all__ = ["IngestRun", "run_ingest", "throwaway_postgres"]

RUN_PREFIX = "bench-"
WARMUP = 200  # deliveries before the clock starts: connections open, sender cache filled
REDELIVER = 200  # deliveries sent a second time after the run: each must be a duplicate


def signed_delivery(port: int, tenant_id: str, secret: str, event_id: str) -> bytes:
    """One complete HTTP/1.1 request: a lead event signed the way n8n or Make would sign it."""
    body = json.dumps(
        {
            "eventId": event_id,
            "eventType": "lead_qualified",
            "customerId": f"cust-{event_id}",
            "eventData": {"qualification_score": 90, "source": "bench"},
        }
    ).encode()
    headers = {
        "Host": f"127.0.0.1:{port}",
        "Content-Type": "application/json",
        "Content-Length": str(len(body)),
        **sign_switchboard(secret, body),
    }
    head = f"POST /webhooks/generic?tenant={tenant_id} HTTP/1.1\r\n" + "".join(
        f"{name}: {value}\r\n" for name, value in headers.items()
    )
    return (head + "\r\n").encode() + body


@dataclass
class _Answers:
    latencies_ms: list[float] = field(default_factory=list[float])
    statuses: Counter[int] = field(default_factory=Counter[int])
    duplicates: int = 0


async def _connection(port: int, requests: Iterator[bytes], answers: _Answers) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for request in requests:  # shared by every connection: each takes the next one
            started = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            body = await reader.readexactly(length)
            answers.latencies_ms.append((time.perf_counter() - started) * 1000)
            status = int(head[9:12])
            answers.statuses[status] += 1
            answers.duplicates += status == 202 and b'"duplicate":true' in body
    finally:
        writer.close()


async def _send(port: int, requests: list[bytes], connections: int) -> _Answers:
    answers = _Answers()
    shared = iter(requests)
    await asyncio.gather(*(_connection(port, shared, answers) for _ in range(connections)))
    return answers


async def _queued(database_url: str, tenant_id: str) -> tuple[int, int]:
    """(rows, distinct event ids) of this run's deliveries in the queue."""
    db = Database.from_url(database_url)
    try:
        async with db.engine.connect() as conn:
            row = (
                await conn.execute(
                    sa.select(
                        sa.func.count(), sa.func.count(sa.distinct(event_queue.c.event_id))
                    ).where(
                        event_queue.c.tenant_id == uuid.UUID(tenant_id),
                        event_queue.c.event_id.like(f"{RUN_PREFIX}%"),
                    )
                )
            ).one()
        return int(row[0]), int(row[1])
    finally:
        await db.dispose()


@dataclass
class IngestRun:
    store: str
    sent: int
    connections: int
    elapsed_s: float
    answers: _Answers
    server_cpu_s: float
    queued: int
    distinct: int
    redelivered: int
    redelivered_duplicates: int
    queued_after_redelivery: int

    @property
    def rate(self) -> float:
        return self.sent / self.elapsed_s

    def problems(self) -> list[str]:
        """What would make the figure meaningless: loss, duplicates, refusals."""
        found: list[str] = []
        refused = {s: n for s, n in self.answers.statuses.items() if s != 202}
        if refused:
            found.append(f"answers other than 202: {refused}")
        if self.answers.duplicates:
            found.append(f"{self.answers.duplicates} first deliveries answered as duplicates")
        if (self.queued, self.distinct) != (self.sent, self.sent):
            found.append(
                f"queue holds {self.queued} rows ({self.distinct} distinct) for {self.sent} "
                "acknowledged deliveries"
            )
        if self.redelivered_duplicates != self.redelivered:
            found.append(
                f"{self.redelivered - self.redelivered_duplicates} of {self.redelivered} "
                "redeliveries were not answered as duplicates"
            )
        if self.queued_after_redelivery != self.queued:
            found.append("redeliveries added rows to the queue")
        return found

    def lines(self) -> list[str]:
        ordered = sorted(self.answers.latencies_ms)
        p50 = statistics.median(ordered)
        p99 = ordered[max(0, int(len(ordered) * 0.99) - 1)]
        verdict = "; ".join(self.problems()) or (
            f"queue holds exactly the {self.queued} accepted (no loss, no duplicates); "
            f"{self.redelivered} redeliveries answered 202 duplicate, nothing added"
        )
        return [
            f"{self.store:<9} {self.rate:>8,.0f}/s  p50 {p50:6.1f} ms  p99 {p99:6.1f} ms  "
            f"server CPU {self.server_cpu_s / self.sent * 1e6:4.0f} us/delivery  "
            f"({self.sent} deliveries, {self.connections} keep-alive connections)",
            f"{'':<9} check: {verdict}",
        ]


def _cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


async def run_ingest(
    *,
    store: str,
    port: int,
    server_pid: int,
    database_url: str,
    tenant_id: str,
    secret: str,
    total: int,
    connections: int,
) -> IngestRun:
    """Warm up, send `total` distinct signed deliveries, then check the queue and redeliver."""
    warmup = [signed_delivery(port, tenant_id, secret, f"warmup-{i}") for i in range(WARMUP)]
    await _send(port, warmup, connections)
    requests = [signed_delivery(port, tenant_id, secret, f"{RUN_PREFIX}{i}") for i in range(total)]
    server = psutil.Process(server_pid)
    cpu_before = _cpu_seconds(server)
    started = time.perf_counter()
    answers = await _send(port, requests, connections)
    elapsed = time.perf_counter() - started
    server_cpu = _cpu_seconds(server) - cpu_before
    queued, distinct = await _queued(database_url, tenant_id)
    again = requests[: min(REDELIVER, total)]
    redelivery = await _send(port, again, connections)
    queued_after, _ = await _queued(database_url, tenant_id)
    return IngestRun(
        store=store,
        sent=total,
        connections=connections,
        elapsed_s=elapsed,
        answers=answers,
        server_cpu_s=server_cpu,
        queued=queued,
        distinct=distinct,
        redelivered=len(again),
        redelivered_duplicates=redelivery.duplicates,
        queued_after_redelivery=queued_after,
    )


@asynccontextmanager
async def throwaway_postgres(server_url: str) -> AsyncIterator[str]:
    """An empty database beside the one in `server_url` (the CLI migrates it), dropped after."""
    base = make_url(server_url)
    name = f"sb_bench_webhooks_{uuid.uuid4().hex[:8]}"
    admin_url = base.set(drivername="postgresql", database="postgres", query={})
    admin = await asyncpg.connect(admin_url.render_as_string(hide_password=False))
    try:
        await admin.execute(f"CREATE DATABASE {name}")
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await admin.close()
