"""Hypothesis settings for the fuzz suites: deterministic and bounded by default.

`SWITCHBOARD_FUZZ_PROFILE=deep` switches to random generation with 20x the examples, for a
longer local hunt (`uv run pytest tests/unit/fuzz`); CI keeps the derandomized default so a
run is repeatable and fits the unit-test time budget.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

__all__ = ["fuzz_settings"]

_COMMON = {
    "deadline": None,  # a loaded 2-core CI machine makes per-example timing meaningless
    "database": None,  # no .hypothesis directory in the work tree
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
}
settings.register_profile("switchboard-fuzz-ci", derandomize=True, **_COMMON)
settings.register_profile("switchboard-fuzz-deep", derandomize=False, **_COMMON)

_DEEP = os.environ.get("SWITCHBOARD_FUZZ_PROFILE", "ci") == "deep"
_PARENT = settings.get_profile("switchboard-fuzz-deep" if _DEEP else "switchboard-fuzz-ci")


def fuzz_settings(max_examples: int) -> settings:
    """Settings for one property: `max_examples` in CI, 20x that in the deep profile."""
    return settings(_PARENT, max_examples=max_examples * (20 if _DEEP else 1))
