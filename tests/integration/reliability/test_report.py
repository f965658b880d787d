"""bench/report.py: figures written with `--json` and figures parsed from a benchmark's
printed output end up in one Markdown table with their targets and verdicts."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.figures import Figure, at_least, at_most, read_figures, write_figures
from bench.report import BENCHES, Outcome, markdown, read_crm_tools, read_pipeline


def test_figures_round_trip_through_json_with_their_verdicts(tmp_path: Path) -> None:
    path = tmp_path / "figures.json"
    written = [
        at_most("events lost", 0, 0),
        at_least("success rate", 93.5, 95, "%", baseline="no faults: 100 %"),
        Figure("kills", 50),
    ]
    write_figures(path, written)

    read = read_figures(path)
    assert read == written
    assert [f.met for f in read] == [True, False, None]
    assert read[1].target == ">= 95 %" and read[1].shown() == "93.5 %"


def test_printed_pipeline_figures_are_parsed_with_targets_and_baselines() -> None:
    printed = """throughput (drain N queued events; events/s)
  1 worker(s): pgqueuer     1500              <cpu> per job
    whole pipeline (one-step workflow)             2100   ratio  1.40 <cpu>
    queue alone (no-op handler)                    3000   ratio  2.00 <cpu>
    pipeline floor (same writes, no features)      1200   ratio  0.80 <cpu>
    floor on stripped tables (below the spec)      1350   ratio  0.90 <cpu>
  2 worker(s): pgqueuer     2600              <cpu> per job
    whole pipeline (one-step workflow)             2500   ratio  0.96 <cpu>
    queue alone (no-op handler)                    2700   ratio  1.04 <cpu>
latency publish -> handler start, critical events (ms)
  idle worker (50/s): from publish() p50   3.10 p99  12.50 | from commit p50 1.0 p99 2.0
  sustained (990/s achieved of 1000/s, 2 publisher processes): from publish() p50 4.00 \
p99  40.00 | from commit p50 3.00 p99 30.00
fairness: small tenant's critical event during a 10000-event critical burst of another \
tenant: 12.3 ms (burst drained in 4.0 s)
"""
    cpu = "machine CPU  477 us (workers  150, Postgres  171)"  # as the bench prints it
    figures = {f.name: f for f in read_pipeline(printed.replace("<cpu>", cpu))}

    one, two = (figures[f"whole pipeline throughput vs pgqueuer, {n} worker(s)"] for n in (1, 2))
    assert (one.value, one.met, two.met) == (1.4, True, False)
    assert one.baseline is not None and "pgqueuer 1500" in one.baseline
    alone = figures["queue alone throughput vs pgqueuer, 2 worker(s)"]
    assert (alone.value, alone.target) == (1.04, None)
    floor = figures["pipeline floor throughput vs pgqueuer, 1 worker(s)"]
    assert (floor.value, floor.target) == (0.8, None)
    assert figures["floor on stripped tables throughput vs pgqueuer, 1 worker(s)"].value == 0.9
    idle = figures["critical publish-to-dispatch p99, idle (50/s)"]
    assert idle.met is False and idle.baseline == "p50 3.10 ms; from commit p99 2.0 ms"
    assert figures["critical publish-to-dispatch p99, sustained (990/s)"].value == 40.0
    assert figures["small tenant's critical event during a burst"].value == 12.3


def test_printed_crm_tool_figures_are_parsed_against_the_floor_of_their_run() -> None:
    printed = """backend    accounts  tool                          p50 ms  p95 ms  p95-floor
postgres    100,000  bare tool (floor)               0.27    0.51               0.27
postgres    100,000    search's page, bare tool      3.00    3.51      +3.00    3.00
postgres    100,000  search_prospects                4.04    5.94      +5.43    3.49
postgres    100,000  get_account                     1.62    2.70      +2.19    1.32
postgres    100,000    data source alone: search     0.87    1.43               0.45
postgres    100,000    host: 4 ms of fixed work      4.52    6.57      x1.45    4.52
sqlite    1,000,000  bare tool (floor)               0.30    0.40               0.30
sqlite    1,000,000  search_prospects               20.00   31.50     +31.10   20.00
"""
    figures = {f.name: f for f in read_crm_tools(printed)}

    assert set(figures) == {
        "search_prospects p95, postgres, 100,000 accounts, over the floor",
        "get_account p95, postgres, 100,000 accounts, over the floor",
        "search_prospects p95, sqlite, 1,000,000 accounts",
        "search_prospects p95, postgres, 100,000 accounts, over a bare tool returning its page"
        " (what the server adds)",
    }
    added = figures[
        "search_prospects p95, postgres, 100,000 accounts, over a bare tool returning its page"
        " (what the server adds)"
    ]
    assert (added.value, added.target) == (pytest.approx(2.43), None)
    search = figures["search_prospects p95, postgres, 100,000 accounts, over the floor"]
    assert (search.value, search.met) == (pytest.approx(5.43), False)
    assert search.baseline == "bare tool p95 0.51 ms"
    get = figures["get_account p95, postgres, 100,000 accounts, over the floor"]
    assert (get.value, get.met) == (pytest.approx(2.19), True)
    big = figures["search_prospects p95, sqlite, 1,000,000 accounts"]
    assert (big.value, big.met) == (31.5, True)  # under 50 ms at 1M


def test_the_table_has_a_row_per_figure_and_says_which_bench_gave_none() -> None:
    chaos, faults = (next(b for b in BENCHES if b.name == n) for n in ("chaos", "faults"))
    table = markdown(
        [
            Outcome(chaos, [at_most("events lost", 0, 0), Figure("kills", 50)], 12.0),
            Outcome(faults, [], 3.0, problem="exit 1: Postgres | down"),
        ],
        quick=True,
    )

    rows = [line for line in table.splitlines() if line.startswith("| `")]
    assert len(rows) == 3
    assert "| events lost | 0 | <= 0 |  | yes |" in rows[0]
    assert "exit 1: Postgres \\| down" in rows[2]
    assert "benchmarks without figures: faults" in table
