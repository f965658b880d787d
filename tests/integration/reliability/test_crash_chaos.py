"""The chaos run (bench/chaos.py) in miniature: `switchboard worker` processes SIGKILLed
while they hold events, or their database connections cut, under a steady load of
three-step workflows with side effects; nothing is lost and nothing done twice."""

from __future__ import annotations

from pathlib import Path

from bench.chaos import ChaosFigures, ChaosOptions, run_chaos

# The bench SIGKILLs `switchboard worker` itself; here the same Worker and engine start from
# a module without the CLI's other imports, so a restart costs a third of the time.
LIGHT_WORKER = ("-m", "tests.integration.reliability.light_worker")


def _assert_nothing_lost_or_repeated(figures: ChaosFigures) -> None:
    assert figures.accepted > 0 and figures.lost == 0
    assert figures.unfinished == 0
    assert figures.in_queue == figures.completed + figures.dead_lettered == figures.accepted
    assert figures.repeated_completed_steps == 0
    assert figures.missing_effects == 0
    # Every completed event's three side effects reached the endpoint under their own keys.
    assert figures.executions_completed == figures.completed
    assert figures.keys >= 3 * figures.completed


async def test_sigkilled_workers_lose_no_event_and_repeat_no_completed_step(
    postgres_url: str, tmp_path: Path
) -> None:
    options = ChaosOptions(
        kills=3, workers=2, rate=5, gap_s=(0.2, 0.6), seed=8, worker_command=LIGHT_WORKER
    )
    figures = await run_chaos(postgres_url, options, tmp_path)

    assert figures.kills == 3
    # Kills hit workers holding events (one may settle in the instant before its kill).
    assert figures.lease_expiries >= 1
    _assert_nothing_lost_or_repeated(figures)
    assert figures.dead_lettered == 0, figures.dead_letter_errors


async def test_workers_survive_their_database_connections_being_cut_and_refused(
    postgres_url: str, tmp_path: Path
) -> None:
    options = ChaosOptions(
        kills=0,
        db_drops=3,
        outage_s=1.0,  # connections refused for a second after each cut, like a restart
        rate=5,
        gap_s=(0.5, 1.0),
        seed=3,
        worker_command=LIGHT_WORKER,
    )
    figures = await run_chaos(postgres_url, options, tmp_path)

    assert figures.db_drops == 3 and figures.backends_terminated >= 3 * 2
    _assert_nothing_lost_or_repeated(figures)
    assert figures.dead_lettered == 0, figures.dead_letter_errors
    # The same processes carried on: none was restarted, all stopped cleanly on SIGTERM.
    assert figures.workers_started == 2 and figures.worker_exit_codes == [0, 0]
