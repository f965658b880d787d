"""Run every benchmark and write one Markdown table of every figure, its target and baseline.

    uv run python bench/report.py                    # full sizes (long: tens of minutes)
    uv run python bench/report.py --quick            # small sizes, a few minutes
    uv run python bench/report.py --quick --only chaos faults --out report.md

A benchmark that accepts `--json PATH` (the convention in bench/figures.py) is asked for its
figures that way; for one that does not (yet), its printed output is parsed by the reader
named in BENCHES below. A benchmark that fails, or whose figures cannot be found, gets a row
saying so with the last line of its output; each one's full output is kept in --logs.
Absolute times are inflated on a shared machine: prefer ratios to a baseline from the same
run, and the load average printed in the header.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, bench/ leads sys.path and bench/http.py would shadow the stdlib `http`.
_BENCH = Path(__file__).resolve().parent
sys.path[:] = [str(_BENCH.parent), *(p for p in sys.path if Path(p or ".").resolve() != _BENCH)]

import argparse  # noqa: E402
import os  # noqa: E402
import re  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from datetime import UTC, datetime  # noqa: E402

from bench.figures import Figure, at_least, at_most, read_figures  # noqa: E402

Reader = Callable[[str], list[Figure]]


def _num(text: str) -> float:
    return float(text.replace(",", ""))


def read_seed(out: str) -> list[Figure]:
    figures: list[Figure] = []
    for target, rows, seconds, _rate, accounts_s, _cpu, rss in re.findall(
        r"^(sqlite|postgres)\s+([\d,]+)\s+([\d.]+)\s+([\d,]+)\s+([\d,]+)\s+(\S+)\s+(\S+)\s*$",
        out,
        re.M,
    ):
        figures.append(Figure(f"seed {target}: accounts/s", _num(accounts_s), "accounts/s"))
        figures.append(
            Figure(f"seed {target}: seconds for {_num(rows):,.0f} rows", _num(seconds), "s")
        )
        peak = sum(_num(p) for p in rss.split("+"))
        figures.append(Figure(f"seed {target}: peak RSS (seed + generator)", peak, "MB"))
    for seconds, rss in re.findall(r"sqlite: (\d+) s, (\d+) MB peak RSS", out):
        figures.append(
            at_most("seed 1M accounts into SQLite (time, scaled)", _num(seconds), 180, "s")
        )
        figures.append(at_most("seed 1M accounts into SQLite (peak RSS)", _num(rss), 300, "MB"))
    return figures


def read_crm_tools(out: str) -> list[Figure]:
    figures: list[Figure] = []
    floors: dict[tuple[str, str], float] = {}
    # backend, accounts, tool, p50, p95, then p95-floor (or the host's spread) if any, CPU ms
    pattern = (
        r"^(sqlite|postgres)\s+([\d,]+)\s+(\S.*?)\s+([\d.]+)\s+([\d.]+)"
        r"(?:\s+(?:[+-]|x)[\d.]+)?\s+[\d.]+\s*$"
    )
    same_page: dict[tuple[str, str], float] = {}
    for backend, size, label, _p50, p95 in re.findall(pattern, out, re.M):
        if label.startswith("bare tool"):
            floors[(backend, size)] = _num(p95)
            continue
        if label.startswith("search's page, bare tool"):
            same_page[(backend, size)] = _num(p95)
            continue
        if label.startswith("search_prospects") and (backend, size) in same_page:
            framework = same_page[(backend, size)]
            figures.append(
                Figure(
                    f"search_prospects p95, {backend}, {size} accounts, over a bare tool "
                    "returning its page (what the server adds)",
                    _num(p95) - framework,
                    "ms",
                    baseline=f"that bare tool's p95 {framework:.2f} ms",
                )
            )
        if label.startswith(("search_prospects", "get_account")):
            floor = floors.get((backend, size))
            name = f"{label} p95, {backend}, {size} accounts"
            baseline = f"bare tool p95 {floor:.2f} ms" if floor is not None else None
            if _num(size) >= 1_000_000 or floor is None:
                figures.append(at_most(name, _num(p95), 50, "ms", baseline=baseline))
            else:
                figures.append(
                    at_most(
                        f"{name}, over the floor", _num(p95) - floor, 5, "ms", baseline=baseline
                    )
                )
    return figures


def read_analytics(out: str) -> list[Figure]:
    figures: list[Figure] = []
    for label, ms in re.findall(r"^  (\S.*?)\s+([\d.,]+) ms", out, re.M):
        value = _num(ms)
        if "target < 1 s" in label:
            figures.append(at_most("CDNOW BG/NBD + Gamma-Gamma fit", value, 1000, "ms"))
        elif "target < 10 s" in label:
            figures.append(at_most(f"health scores: {label.split(' (')[0]}", value, 10_000, "ms"))
    for name, value in re.findall(r"(cross-validated AUC) ([\d.]+)", out):
        figures.append(Figure(f"churn model {name}", _num(value)))
    return figures


def read_pipeline(out: str) -> list[Figure]:
    figures: list[Figure] = []
    # "  1 worker(s): pgqueuer  9342  machine CPU ..." then one "<label>  <events/s>  ratio <x>
    # ..." line each: the whole pipeline (the issue's figure, target 1.0x), the queue alone,
    # the floor and the floor on stripped tables (references, no target).
    for workers, theirs, rows in re.findall(
        r"(\d) worker\(s\): pgqueuer\s+(\S+)[^\n]*\n((?:[ \t]{4}.*\n?)+)", out
    ):
        for label, ours, ratio in re.findall(r"^\s+(.+?)\s+([\d.]+)\s+ratio\s+(\S+)", rows, re.M):
            kind = label.split(" (")[0]
            name = f"{kind} throughput vs pgqueuer, {workers} worker(s)"
            value = None if ratio == "nan" else _num(ratio)
            baseline = f"pgqueuer {theirs} events/s, switchboard {ours} events/s"
            figures.append(
                at_least(name, value, 1.0, "x", baseline=baseline)
                if kind == "whole pipeline"
                else Figure(name, value, "x", baseline=baseline)
            )
    # "idle worker (17/s): [from publish()] p50 A p99 B [| from commit p50 C p99 D | ...]"
    for label, target, pattern in (
        ("idle", 10, r"idle worker \((\d+)/s\)"),
        ("sustained", 100, r"(?:loaded|sustained) \((\d+)/s achieved[^)]*\)"),
    ):
        found = re.search(
            pattern + r":.*?p50\s+([\d.]+)\s+p99\s+([\d.]+)"
            r"(?:\s*\|\s*from commit p50\s+([\d.]+)\s+p99\s+([\d.]+))?",
            out,
        )
        if found:
            rate, p50, p99, _commit_p50, commit_p99 = found.groups()
            baseline = f"p50 {p50} ms" + (
                f"; from commit p99 {commit_p99} ms" if commit_p99 else ""
            )
            name = f"critical publish-to-dispatch p99, {label} ({rate}/s)"
            figures.append(at_most(name, _num(p99), target, "ms", baseline=baseline))
    fair = re.search(r"fairness: .*?: ([\d.]+) ms", out)
    if fair:
        figures.append(Figure("small tenant's critical event during a burst", _num(fair[1]), "ms"))
    return figures


def read_http(out: str) -> list[Figure]:
    figures: list[Figure] = []
    rows = re.findall(r"^(\S.*?)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s*$", out, re.M)
    for name, _p50, p95, _r50, r95 in rows:
        if "floor" in name or "bare" in name:
            continue
        figures.append(
            at_most(
                f"HTTP tool call p95 / bare server: {name.strip()}",
                _num(r95),
                1.5,
                "x",
                baseline=f"p95 {p95} ms",
            )
        )
    for store, rate in re.findall(r"^(\S+)\s+([\d,]+)/s\s+p50", out, re.M):
        figures.append(
            at_least(f"signed webhooks accepted and queued ({store})", _num(rate), 1000, "/s")
        )
    rss = re.search(r"serve RSS idle.*?: ([\d.]+) MB", out)
    if rss:
        figures.append(at_most("serve RSS idle", _num(rss[1]), 200, "MB"))
    return figures


@dataclass(frozen=True)
class Bench:
    name: str
    full: tuple[str, ...]  # arguments for the full-size run
    quick: tuple[str, ...]  # arguments for --quick
    reader: Reader | None = None  # parses the printed output when there is no --json


BENCHES = [
    Bench("seed", ("--targets", "sqlite,postgres"), ("--accounts", "10000", "--targets", "sqlite"), read_seed),  # noqa: E501
    Bench("crm_tools", ("--accounts", "100000", "1000000"), ("--accounts", "10000", "--backend", "sqlite", "--calls", "50"), read_crm_tools),  # noqa: E501
    Bench("analytics", (), ("--accounts", "10000", "--demo-accounts", "0", "--repeat", "1"), read_analytics),  # noqa: E501
    Bench("pipeline", (), ("--events", "2000", "--burst", "1000", "--sustain-s", "1"), read_pipeline),  # noqa: E501
    Bench("http", (), ("--calls", "50", "--webhooks", "300"), read_http),
    Bench("chaos", (), ("--kills", "3", "--db-drops", "1", "--rate", "5")),
    Bench("faults", (), ("--workflows", "60",)),
    Bench("load", (), ("--events", "3000")),
]  # fmt: skip


@dataclass
class Outcome:
    bench: Bench
    figures: list[Figure]
    seconds: float
    problem: str | None = None


def _accepts_json(script: Path) -> bool:
    found = subprocess.run(
        [sys.executable, str(script), "--help"], capture_output=True, text=True, timeout=120
    )
    return "--json" in found.stdout


def run_bench(bench: Bench, quick: bool, logs: Path, timeout_s: float) -> Outcome:
    script = _BENCH / f"{bench.name}.py"
    args = list(bench.quick if quick else bench.full)
    figures_path = logs / f"{bench.name}.json"
    use_json = _accepts_json(script)
    if use_json:
        args += ["--json", str(figures_path)]
    log = logs / f"{bench.name}.log"
    began = time.monotonic()
    print(f"running bench/{bench.name}.py {' '.join(args)} ...", file=sys.stderr, flush=True)
    try:
        done = subprocess.run(
            [sys.executable, str(script), *args],
            capture_output=True,
            text=True,
            timeout=timeout_s,
            cwd=_BENCH.parent,
        )
    except subprocess.TimeoutExpired:
        return Outcome(bench, [], time.monotonic() - began, f"timed out after {timeout_s:.0f} s")
    seconds = time.monotonic() - began
    log.write_text(done.stdout + "\n--- stderr\n" + done.stderr)
    last = (done.stderr.strip() or done.stdout.strip() or "no output").splitlines()[-1][:200]
    if done.returncode != 0:
        return Outcome(bench, [], seconds, f"exit {done.returncode}: {last}")
    if use_json and figures_path.exists():
        try:
            return Outcome(bench, read_figures(figures_path), seconds)
        except ValueError as exc:
            return Outcome(bench, [], seconds, str(exc))
    figures = bench.reader(done.stdout) if bench.reader else []
    return Outcome(bench, figures, seconds, None if figures else f"no figures found: {last}")


def _cell(text: str | None) -> str:
    return (text or "").replace("|", "\\|")


def markdown(outcomes: list[Outcome], quick: bool) -> str:
    load = os.getloadavg()[0]
    lines = [
        f"## Benchmark report ({'quick sizes' if quick else 'full sizes'})",
        "",
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} CPUs, load average "
        f"{load:.1f} at the end. Regenerate: `uv run python bench/report.py"
        f"{' --quick' if quick else ''}`.",
        "",
        "| benchmark | figure | measured | target | baseline | met |",
        "|---|---|---|---|---|---|",
    ]
    for outcome in outcomes:
        name = f"`{outcome.bench.name}` ({outcome.seconds:.0f} s)"
        if outcome.problem:
            lines.append(f"| {name} | {_cell(outcome.problem)} | | | | ? |")
        for figure in outcome.figures:
            met = {True: "yes", False: "**no**", None: ""}[figure.met]
            lines.append(
                f"| {name} | {_cell(figure.name)} | {figure.shown()} | {_cell(figure.target)} "
                f"| {_cell(figure.baseline)} | {met} |"
            )
    missed = [f.name for o in outcomes for f in o.figures if f.met is False]
    failed = [o.bench.name for o in outcomes if o.problem]
    lines += [
        "",
        f"{sum(len(o.figures) for o in outcomes)} figures; targets missed: "
        f"{', '.join(missed) or 'none'}; benchmarks without figures: "
        f"{', '.join(failed) or 'none'}.",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small sizes (minutes, not hours)")
    names = [b.name for b in BENCHES]
    parser.add_argument("--only", nargs="+", choices=names, help="run just these benchmarks")
    parser.add_argument("--out", type=Path, help="also write the Markdown table to this file")
    parser.add_argument("--logs", type=Path, help="keep each benchmark's output here")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds per benchmark")
    args = parser.parse_args()
    chosen = [b for b in BENCHES if not args.only or b.name in args.only]
    with tempfile.TemporaryDirectory(prefix="sb-report-") as scratch:
        logs: Path = args.logs or Path(scratch)
        logs.mkdir(parents=True, exist_ok=True)
        outcomes = [run_bench(b, args.quick, logs, args.timeout) for b in chosen]
    report = markdown(outcomes, args.quick)
    print(report)
    if args.out:
        args.out.write_text(report)


if __name__ == "__main__":
    main()
