"""Platform faults: workflow success, recovery by retry or failover, p99 completion (issue 8).

Workflows run through the real worker runtime (routing, retries, circuit breakers, failover)
against the contract fakes of n8n, Make and ClickUp on 127.0.0.1, each behind a
`FaultInjector` (tests/fakes/faults.py) that answers `--rate` of the calls that run work
with a timeout (a proxy's 504 after a delay), a 5xx, a 429 with Retry-After or a malformed
body. Each workflow's primary is n8n, its fallback Make, then the internal engine, whose
step creates a ClickUp task (so every tier can fail).

Figures, against the spec: workflow success rate (target >= 95 %), the share of injected
faults whose workflow still completed through a retry or a failover (target >= 90 %), and
p99 completion time (publish to completed). Every fault is attributed to its workflow by a
marker in the request body. The store is a fresh SQLite file with one in-process worker.

    uv run python bench/faults.py                      # 300 workflows, 20 % faults
    uv run python bench/faults.py --workflows 50 --rate 0.3
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, bench/ leads sys.path and bench/http.py would shadow the stdlib `http`.
_BENCH = Path(__file__).resolve().parent
sys.path[:] = [str(_BENCH.parent), *(p for p in sys.path if Path(p or ".").resolve() != _BENCH)]

import argparse  # noqa: E402
import asyncio  # noqa: E402
import dataclasses  # noqa: E402
import logging  # noqa: E402
import re  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from collections import Counter  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from contextlib import ExitStack, contextmanager  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from typing import Any  # noqa: E402

import anyio  # noqa: E402
import httpx  # noqa: E402
import sqlalchemy as sa  # noqa: E402
import stamina  # noqa: E402
from pydantic import SecretStr  # noqa: E402

from bench.figures import Figure, add_json_option, at_least, write_figures  # noqa: E402
from orchestration.events.models import CustomerEvent  # noqa: E402
from orchestration.events.publish import publish  # noqa: E402
from orchestration.platforms.config_store import (  # noqa: E402
    Credentials,
    ToolConfig,
    save_tool_config,
)
from orchestration.platforms.n8n import N8nAdapter  # noqa: E402
from orchestration.platforms.resilience import ResilienceRegistry  # noqa: E402
from orchestration.queue.config import QueueConfig  # noqa: E402
from orchestration.runtime import RuntimeConfig, open_worker_runtime  # noqa: E402
from orchestration.templates.install import record_platform_refs  # noqa: E402
from orchestration.worker import create_worker  # noqa: E402
from orchestration.workflows.store import save_definition  # noqa: E402
from shared.config import Settings  # noqa: E402
from shared.crypto import CredentialCipher, generate_key  # noqa: E402
from shared.db.database import Database  # noqa: E402
from shared.db.migrate import upgrade  # noqa: E402
from shared.db.orchestration_tables import event_queue, workflow_executions  # noqa: E402
from shared.tenants import create_tenant  # noqa: E402
from tests.fakes.clickup import ClickUpFake  # noqa: E402
from tests.fakes.faults import FAULT_KINDS, FaultInjector, InjectedFault  # noqa: E402
from tests.fakes.make import MakeFake  # noqa: E402
from tests.fakes.n8n import N8nFake, echo_workflow  # noqa: E402
from tests.fakes.server import serve_in_thread  # noqa: E402

N8N_KEY, MAKE_TOKEN, CLICKUP_TOKEN = "n8n_api_bench_key", "make-bench-token", "pk_1_BENCHTOKEN"
HOOK_HEADER, HOOK_VALUE = "X-Switchboard-Auth", "hook-bench-value"
MARK = re.compile(rb"mark-(\d{6})")
# Only the calls that run work (POSTs carrying the workflow's data, so each fault can be
# traced to its workflow) are faulted; setup, lookups and polling go through untouched.
FAULT_PATHS = {
    "n8n": ("/webhook/",),
    "make": ("/api/v2/scenarios/",),
    "clickup": ("/api/v2/list/",),
}
UNLIMITED = {"requests_per_second": 10_000}

DEFINITION = """
name: Qualified lead follow-up
trigger: {type: event, event_type: lead_qualified}
primary_platform: n8n
fallback_platform: make
retry_policy: {max_attempts: 3, initial_delay_seconds: 0.2, max_delay_seconds: 2}
steps:
  - name: Create task
    action: create_clickup_task
    project: qualified_prospects
    task_name: "Call {{ event.name }}"
"""


@dataclass
class FaultOptions:
    workflows: int = 300
    rate: float = 0.2  # share of work-running calls answered with a fault
    publish_rate: float = 20.0  # workflows started per second
    concurrency: int = 10
    timeout_s: float = 1.0  # how long a `timeout` fault holds the call before its 504
    retry_after_s: float = 1.0
    seed: int | None = 1
    drain_timeout_s: float = 300.0
    cycle_kinds: bool = False  # each fake gives its faults the kinds in turn (short runs)


@dataclass
class FaultFigures:
    workflows: int = 0
    completed: int = 0
    dead_lettered: int = 0
    unfinished: int = 0
    calls: int = 0  # work-running calls that reached an injector
    faults: Counter[str] = field(default_factory=Counter[str])
    faulted_workflows: int = 0
    faults_recovered: int = 0  # faults whose workflow still completed
    recovered_by_failover: int = 0  # ... and ran on another platform than n8n
    faults_unattributed: int = 0
    dead_letters_without_error: int = 0
    ran_on: Counter[str] = field(default_factory=Counter[str])
    error_types: Counter[str] = field(default_factory=Counter[str])  # in events' histories
    dead_letter_reasons: list[str] = field(default_factory=list[str])
    p50_s: float = 0.0
    p99_s: float = 0.0

    @property
    def fault_total(self) -> int:
        return sum(self.faults.values())

    @property
    def success_rate(self) -> float:
        return 100 * self.completed / self.workflows if self.workflows else float("nan")

    @property
    def recovered_share(self) -> float:
        return 100 * self.faults_recovered / self.fault_total if self.fault_total else 100.0

    def as_figures(self, baseline: FaultFigures | None = None) -> list[Figure]:
        clean = f"no faults: p99 {baseline.p99_s:.2f} s" if baseline else None
        return [
            Figure("faults: injected (share of calls)", round(100 * self.fault_total / max(1, self.calls), 1), "%"),  # noqa: E501
            at_least("faults: workflow success rate", round(self.success_rate, 2), 95, "%"),
            at_least("faults: failures recovered by retry or failover", round(self.recovered_share, 2), 90, "%"),  # noqa: E501
            Figure("faults: p99 completion time", round(self.p99_s, 2), "s", baseline=clean),
        ]  # fmt: skip


def _injector(app: Any, platform: str, options: FaultOptions, seed_offset: int) -> FaultInjector:
    injector = FaultInjector(
        app,
        rate=options.rate,
        paths=FAULT_PATHS[platform],
        methods=("POST",),
        timeout_s=options.timeout_s,
        retry_after_s=options.retry_after_s,
        seed=None if options.seed is None else options.seed + seed_offset,
        cycle_kinds=options.cycle_kinds,
    )
    injector.enabled = False  # setup first
    return injector


@contextmanager
def _instant_retries(enabled: bool) -> Iterator[None]:
    if not enabled:
        yield
        return
    with stamina.set_testing(True, attempts=3):
        yield


async def _configure(
    db: Database, tenant_id: uuid.UUID, key: str, urls: dict[str, str]
) -> uuid.UUID:
    cipher = CredentialCipher(key)
    n8n_config = ToolConfig(
        tenant_id=tenant_id,
        tool_name="n8n",
        api_endpoint=urls["n8n"],
        credentials=Credentials({"api_key": N8N_KEY}, tool="n8n"),
    )
    async with httpx.AsyncClient() as client:
        adapter = N8nAdapter(client, n8n_config, registry=ResilienceRegistry())
        credential = await adapter.create_header_credential("switchboard", HOOK_HEADER, HOOK_VALUE)
        refs = await adapter.install(echo_workflow("Follow-up", "lead/follow-up", credential))
    saved = await save_definition(db, tenant_id, DEFINITION)
    await record_platform_refs(db, saved.stored.id, "n8n", refs)
    await record_platform_refs(db, saved.stored.id, "make", {"scenario_id": 7})
    credentials = {
        "n8n": {
            "api_key": N8N_KEY,
            "webhook_auth_header": HOOK_HEADER,
            "webhook_auth_value": HOOK_VALUE,
        },
        "make": {"api_token": MAKE_TOKEN},
        "clickup": {"api_token": CLICKUP_TOKEN},
    }
    endpoints = {"n8n": urls["n8n"], "make": f"{urls['make']}/api/v2"}
    endpoints["clickup"] = f"{urls['clickup']}/api/v2"
    for tool, creds in credentials.items():
        await save_tool_config(
            db,
            cipher,
            tenant_id=tenant_id,
            tool_name=tool,
            api_endpoint=endpoints[tool],
            credentials=creds,
            rate_limits=UNLIMITED,  # measure faults, not our own politeness limits
            settings={"lists": {"qualified_prospects": "L1"}} if tool == "clickup" else None,
        )
    return saved.stored.id


async def _publish_steadily(db: Database, tenant_id: uuid.UUID, count: int, rate: float) -> None:
    next_at = time.monotonic()
    for i in range(count):
        event = CustomerEvent(
            eventId=f"fault-{i}",
            tenantId=tenant_id,
            customerId=f"cust-{i}",
            eventType="lead_qualified",
            eventData={"name": f"Lead mark-{i:06d}", "industry": "dentist", "rating": 4.5},
        )
        await publish(db, event, max_retries=3)
        next_at += 1 / rate
        await anyio.sleep(max(0.0, next_at - time.monotonic()))


async def _outcomes(db: Database) -> list[dict[str, Any]]:
    q, x = event_queue, workflow_executions
    query = (
        sa.select(
            q.c.event_id, q.c.status, q.c.created_at, q.c.updated_at, q.c.error_details,
            x.c.execution_platform, x.c.routing,
        )
        .select_from(q.outerjoin(x, x.c.trigger_event_id == q.c.id))
        .where(q.c.event_type == "lead_qualified")
    )  # fmt: skip
    async with db.engine.connect() as conn:
        return [dict(r) for r in (await conn.execute(query)).mappings()]


async def _all_final(db: Database, count: int) -> bool:
    query = sa.text(
        "SELECT count(*) FROM event_queue WHERE event_type = 'lead_qualified' "
        "AND status IN ('completed', 'failed')"
    )
    async with db.engine.connect() as conn:
        return int((await conn.execute(query)).scalar_one()) >= count


def _seconds(value: Any) -> float:
    return float(value.timestamp())


def by_mark_key(row: dict[str, Any]) -> int:
    return int(str(row["event_id"]).removeprefix("fault-"))


def _tally(
    rows: list[dict[str, Any]], injected: list[InjectedFault], figures: FaultFigures
) -> None:
    by_mark = {by_mark_key(r): r for r in rows}
    figures.workflows = len(rows)
    figures.completed = sum(r["status"] == "completed" for r in rows)
    figures.dead_lettered = sum(r["status"] == "failed" for r in rows)
    figures.unfinished = figures.workflows - figures.completed - figures.dead_lettered
    figures.dead_letters_without_error = sum(
        r["status"] == "failed" and not r["error_details"] for r in rows
    )
    figures.ran_on = Counter(
        str(r["execution_platform"]) for r in rows if r["status"] == "completed"
    )
    for row in rows:
        for entry in row["error_details"] or []:
            error = entry.get("error") if isinstance(entry, dict) else None
            kind = (error or {}).get("type") or (error or {}).get("code") or entry.get("outcome")
            figures.error_types[str(kind)] += 1
    figures.dead_letter_reasons = [
        str(((r["error_details"] or [{}])[-1].get("error") or {}).get("message", ""))[:200]
        for r in rows
        if r["status"] == "failed"
    ][:5]
    faulted: set[int] = set()
    for fault in injected:
        figures.faults[fault.kind] += 1
        found = MARK.search(fault.body)
        row = by_mark.get(int(found.group(1))) if found else None
        if row is None:
            figures.faults_unattributed += 1
            continue
        faulted.add(by_mark_key(row))
        if row["status"] == "completed":
            figures.faults_recovered += 1
            figures.recovered_by_failover += row["execution_platform"] != "n8n"
    figures.faulted_workflows = len(faulted)
    times = sorted(
        _seconds(r["updated_at"]) - _seconds(r["created_at"])
        for r in rows
        if r["status"] == "completed"
    )
    if times:
        figures.p50_s = times[len(times) // 2]
        figures.p99_s = times[min(len(times) - 1, round(0.99 * (len(times) - 1)))]


async def run_faults(
    db: Database, options: FaultOptions, *, instant_retries: bool = False
) -> FaultFigures:
    """Run `options.workflows` workflows against faulty fakes on the migrated `db`.

    `instant_retries` makes the adapters' retries wait no time (tests)."""
    figures = FaultFigures()
    key = generate_key()
    n8n, make, clickup = (
        N8nFake(api_key=N8N_KEY, registration_lag=0),
        MakeFake(token=MAKE_TOKEN, org_limit_per_minute=1_000_000),
        ClickUpFake(token=CLICKUP_TOKEN),
    )
    make.add_scenario(7, "Follow-up", inputs=[{"name": "name", "type": "text"}], duration=0)
    clickup.add_list("L1", "Qualified Prospects")
    fakes = {"n8n": n8n.app(), "make": make.app(), "clickup": clickup.app()}
    injectors = {
        name: _injector(app, name, options, offset)
        for offset, (name, app) in enumerate(fakes.items())
    }
    with ExitStack() as servers, _instant_retries(instant_retries):
        urls = {n: servers.enter_context(serve_in_thread(i)) for n, i in injectors.items()}
        tenant_id = (await create_tenant(db, f"faults-{uuid.uuid4().hex[:6]}")).id
        await _configure(db, tenant_id, key, urls)
        for injector in injectors.values():
            injector.enabled = True
        settings = Settings(database_url="sqlite://", secret_key=SecretStr(key))
        runtime_config = RuntimeConfig(
            run_schedules=False, run_health_monitor=False, tools_cache_s=60
        )
        queue_config = QueueConfig(
            concurrency=options.concurrency, poll_interval_s=0.1, retry_base_s=0.2, retry_max_s=2
        )
        async with open_worker_runtime(
            settings, db, config=runtime_config, registry=ResilienceRegistry()
        ) as runtime:
            worker = create_worker(db, runtime.handler, config=queue_config)
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(worker.run)
                await _publish_steadily(db, tenant_id, options.workflows, options.publish_rate)
                deadline = time.monotonic() + options.drain_timeout_s
                while not await _all_final(db, options.workflows):
                    if time.monotonic() > deadline:
                        break
                    await anyio.sleep(0.1)
                worker.stop()
        for injector in injectors.values():
            injector.enabled = False
    figures.calls = sum(i.requests for i in injectors.values())
    injected = [f for i in injectors.values() for f in i.injected]
    _tally(await _outcomes(db), injected, figures)
    return figures


def print_figures(figures: FaultFigures, options: FaultOptions) -> None:
    kinds = ", ".join(f"{figures.faults[k]} {k}" for k in FAULT_KINDS)
    print(
        f"{figures.workflows} workflows (n8n -> Make -> internal + ClickUp), fault rate "
        f"{options.rate:.0%}: {figures.fault_total} faults in {figures.calls} calls ({kinds})"
    )
    print(
        f"  completed {figures.completed}, dead-lettered {figures.dead_lettered} "
        f"(all with their error: {figures.dead_letters_without_error == 0}), unfinished "
        f"{figures.unfinished}; ran on {dict(figures.ran_on)}"
    )
    print(f"  workflow success rate          {figures.success_rate:6.2f} %   (target >= 95 %)")
    print(
        f"  faults recovered (retry/failover) {figures.recovered_share:6.2f} %   (target >= 90 %)"
        f"; {figures.faults_recovered} of {figures.fault_total}, "
        f"{figures.recovered_by_failover} through a failover; {figures.faulted_workflows} "
        "workflows met a fault"
    )
    print(
        f"  unattributed faults {figures.faults_unattributed}; errors in event histories: "
        f"{dict(figures.error_types)}"
    )
    for reason in figures.dead_letter_reasons:
        print(f"  dead-letter reason: {reason}")
    print(f"  completion time p50 {figures.p50_s:.2f} s, p99 {figures.p99_s:.2f} s")


async def main(args: argparse.Namespace) -> None:
    # Retries and failovers log each fault as it happens; the figures say it in sum.
    logging.basicConfig(level=logging.CRITICAL)
    options = FaultOptions(
        workflows=args.workflows,
        rate=args.rate,
        publish_rate=args.publish_rate,
        seed=args.seed,
        timeout_s=args.timeout_s,
    )
    # The same workflows without faults first: the completion time to compare with.
    clean = dataclasses.replace(options, workflows=max(10, options.workflows // 3), rate=0.0)
    baseline = await _run_on_fresh_store(clean) if args.baseline else None
    figures = await _run_on_fresh_store(options)
    if baseline is not None:
        print(
            f"baseline without faults ({baseline.workflows} workflows): success "
            f"{baseline.success_rate:.1f} %, completion p50 {baseline.p50_s:.2f} s, "
            f"p99 {baseline.p99_s:.2f} s"
        )
    print_figures(figures, options)
    write_figures(args.json, figures.as_figures(baseline))


async def _run_on_fresh_store(options: FaultOptions) -> FaultFigures:
    with tempfile.TemporaryDirectory(prefix="sb-faults-") as folder:
        db = Database.from_url(f"sqlite:///{folder}/faults.sqlite3")
        try:
            await upgrade(db.engine)
            return await run_faults(db, options)
        finally:
            await db.dispose()


def cli() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workflows", type=int, default=300, help="workflows to run")
    parser.add_argument("--rate", type=float, default=0.2, help="share of calls faulted (0-1)")
    parser.add_argument("--publish-rate", type=float, default=20.0, help="workflows per second")
    parser.add_argument("--timeout-s", type=float, default=1.0, help="a timeout fault's hold")
    parser.add_argument("--seed", type=int, default=1, help="random seed of the faults")
    parser.add_argument(
        "--no-baseline",
        dest="baseline",
        action="store_false",
        help="skip the run without faults (the completion-time baseline)",
    )
    add_json_option(parser)
    asyncio.run(main(parser.parse_args()))


if __name__ == "__main__":
    cli()
