"""Step actions, one module per family; importing this package registers them all."""

from __future__ import annotations

from orchestration.workflows.actions import analysis, crm, flow, http, platforms
from orchestration.workflows.actions.base import (
    ACTION_ALIASES,
    ACTIONS,
    ActionSpec,
    StepContext,
    canonical_action,
)

__all__ = [
    "ACTIONS",
    "ACTION_ALIASES",
    "ActionSpec",
    "StepContext",
    "analysis",
    "canonical_action",
    "crm",
    "flow",
    "http",
    "platforms",
]
