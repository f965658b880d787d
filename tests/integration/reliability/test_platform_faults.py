"""The platform-fault run (bench/faults.py) in miniature: n8n, Make and ClickUp fakes answer
a share of calls with timeouts, 5xx, 429 and malformed bodies; every injected fault ends
either recovered (its workflow completed through a retry or a failover) or with its
workflow dead-lettered with its error, and the counts add up."""

from __future__ import annotations

from bench.faults import FaultOptions, run_faults
from shared.db.database import Database


async def test_every_injected_fault_is_recovered_or_dead_lettered_with_its_error(
    sqlite_db: Database,
) -> None:
    options = FaultOptions(
        workflows=24, rate=0.4, publish_rate=50, timeout_s=0.2, seed=5, cycle_kinds=True
    )
    figures = await run_faults(sqlite_db, options, instant_retries=True)

    assert figures.workflows == 24 and figures.unfinished == 0
    assert figures.completed + figures.dead_lettered == figures.workflows
    assert figures.dead_letters_without_error == 0
    # Faults of every kind were injected and each is traced to the workflow it hit.
    assert set(figures.faults) == {"timeout", "5xx", "429", "malformed"}
    assert figures.faults_unattributed == 0
    assert 0 < figures.fault_total <= figures.calls
    # Recovered faults are exactly those whose workflow completed anyway.
    assert figures.faults_recovered <= figures.fault_total
    assert figures.faults_recovered > 0 and figures.recovered_by_failover > 0
    # A workflow that met no fault cannot have failed: every dead letter met one.
    assert figures.dead_lettered <= figures.faulted_workflows
    assert sum(figures.ran_on.values()) == figures.completed


def test_the_injector_refuses_a_rate_outside_0_to_1() -> None:
    import pytest

    from tests.fakes.faults import FaultInjector

    with pytest.raises(ValueError, match="between 0 and 1"):
        FaultInjector(object(), rate=1.5)
