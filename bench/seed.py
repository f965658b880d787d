"""How fast `db seed --demo` fills SQLite and Postgres, and how much memory it needs.

Each target is seeded in a fresh child process (a new SQLite file in a temporary folder, or
a new Postgres database created and dropped here), so the peak RSS printed is that of one
seed run alone. Target from issue 2: 1,000,000 accounts into SQLite in under 3 minutes with
peak RSS under 300 MB on a 2-core machine.

    uv run python bench/seed.py                       # 100k accounts, SQLite and Postgres
    uv run python bench/seed.py --accounts 1000000 --targets sqlite
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from shared.db.database import Database  # noqa: E402
from shared.db.migrate import upgrade  # noqa: E402
from shared.demo.plan import DemoParams  # noqa: E402
from shared.demo.seed import seed_demo  # noqa: E402

DEFAULT_POSTGRES = os.environ.get(
    "SWITCHBOARD_TEST_DATABASE_URL",
    "postgresql://switchboard:switchboard@127.0.0.1:5432/switchboard_test",
)
TARGET_ACCOUNTS = 1_000_000
TARGET_SECONDS = 180.0
TARGET_RSS_MB = 300.0


async def _seed_child(url: str, accounts: int, tenants: int, seed: int) -> dict[str, Any]:
    db = Database.from_url(url)
    try:
        await upgrade(db.engine)
        params = DemoParams(
            seed=seed,
            accounts=accounts,
            tenants=tenants,
            as_of=datetime(2026, 11, 26, tzinfo=UTC),
        )
        report = await seed_demo(db, params)
        own = resource.getrusage(resource.RUSAGE_SELF)
        # Big runs generate rows in a child process: its CPU and memory count too.
        child = resource.getrusage(resource.RUSAGE_CHILDREN)
        return {
            "rows": report.total_rows,
            "accounts": report.rows["accounts"],
            "seconds": report.elapsed_s,
            "cpu_seconds": own.ru_utime + own.ru_stime,
            "child_cpu_seconds": child.ru_utime + child.ru_stime,
            "peak_rss_mb": own.ru_maxrss / 1024,
            "child_peak_rss_mb": child.ru_maxrss / 1024,
        }
    finally:
        await db.dispose()


def _run_child(url: str, args: argparse.Namespace) -> dict[str, Any]:
    command = [
        sys.executable,
        __file__,
        "--child-url",
        url,
        "--accounts",
        str(args.accounts),
        "--tenants",
        str(args.tenants),
        "--seed",
        str(args.seed),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"seeding {make_url(url).drivername} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


async def _postgres_admin(url: str, sql: str) -> None:
    admin_url = make_url(url).set(database="postgres").render_as_string(hide_password=False)
    admin = Database.from_url(admin_url, isolation_level="AUTOCOMMIT")
    try:
        async with admin.engine.connect() as conn:
            await conn.execute(sa.text(sql))
    finally:
        await admin.dispose()


def _bench_sqlite(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="switchboard-bench-") as folder:
        path = Path(folder) / "seed.sqlite3"
        result = _run_child(f"sqlite:///{path}", args)
        result["size_mb"] = sum(f.stat().st_size for f in Path(folder).iterdir()) / 2**20
        return result


def _bench_postgres(args: argparse.Namespace) -> dict[str, Any]:
    name = f"sb_bench_{uuid.uuid4().hex[:10]}"
    asyncio.run(_postgres_admin(args.postgres_url, f"CREATE DATABASE {name}"))
    try:
        url = make_url(args.postgres_url).set(database=name)
        return _run_child(url.render_as_string(hide_password=False), args)
    finally:
        asyncio.run(_postgres_admin(args.postgres_url, f"DROP DATABASE {name} WITH (FORCE)"))


def _print_table(results: dict[str, dict[str, Any]], args: argparse.Namespace) -> None:
    print(
        f"\nseed --demo: {args.accounts:,} accounts, {args.tenants} tenant(s), seed {args.seed}, "
        f"{os.cpu_count()} CPU(s), load average {os.getloadavg()[0]:.1f}"
    )
    header = f"{'target':<10} {'rows':>11} {'seconds':>8} {'rows/s':>9} {'accounts/s':>11}"
    print(header + f" {'CPU s (seed+gen)':>17} {'peak RSS MB (seed+gen)':>23}")
    for target, r in results.items():
        cpu = f"{r['cpu_seconds']:.0f}+{r['child_cpu_seconds']:.0f}"
        rss = f"{r['peak_rss_mb']:.0f}+{r['child_peak_rss_mb']:.0f}"
        print(
            f"{target:<10} {r['rows']:>11,} {r['seconds']:>8.1f} {r['rows'] / r['seconds']:>9,.0f} "
            f"{r['accounts'] / r['seconds']:>11,.0f} {cpu:>17} {rss:>23}"
        )
        r["total_rss_mb"] = r["peak_rss_mb"] + r["child_peak_rss_mb"]
    sqlite = results.get("sqlite")
    print(
        f"\ntarget: {TARGET_ACCOUNTS:,} accounts into SQLite in < {TARGET_SECONDS:.0f} s "
        f"with peak RSS < {TARGET_RSS_MB:.0f} MB"
    )
    if sqlite is None:
        return
    seconds = sqlite["seconds"]
    if args.accounts != TARGET_ACCOUNTS:
        seconds *= TARGET_ACCOUNTS / args.accounts
        print(f"  (linear estimate from this run; run --accounts {TARGET_ACCOUNTS} to measure)")
    met = seconds < TARGET_SECONDS and sqlite["total_rss_mb"] < TARGET_RSS_MB
    print(
        f"  sqlite: {seconds:.0f} s, {sqlite['total_rss_mb']:.0f} MB peak RSS (both processes), "
        f"{sqlite.get('size_mb', 0):.0f} MB on disk: {'met' if met else 'NOT met'}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description="Benchmark seeding demo data.")
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--tenants", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--targets", default="sqlite,postgres", help="comma-separated")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES)
    parser.add_argument("--child-url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_url:
        result = asyncio.run(_seed_child(args.child_url, args.accounts, args.tenants, args.seed))
        print(json.dumps(result))
        return
    runners = {"sqlite": _bench_sqlite, "postgres": _bench_postgres}
    targets = [t.strip() for t in args.targets.split(",") if t.strip()]
    unknown = [t for t in targets if t not in runners]
    if unknown:
        parser.error(f"unknown target(s) {', '.join(unknown)}; choose from sqlite, postgres")
    results: dict[str, dict[str, Any]] = {}
    for target in targets:
        print(f"seeding {target} with {args.accounts:,} accounts...", file=sys.stderr)
        results[target] = runners[target](args)
    _print_table(results, args)


if __name__ == "__main__":
    main()
