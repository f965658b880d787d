"""Workflow chains: which workflow's emit_event triggers which, and refusing loops at save time.

A chain W1 -> W2 exists when W1 has an `emit_event` step with a literal event type that W2
(active, event-triggered) listens for. Conditions are ignored on purpose: a loop that only
a condition stops is one bad record away from running forever. Event types written as a
`{{ reference }}` cannot be known before run time; the chain depth limit stops those.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from orchestration.workflows.definition import WorkflowDefinition

__all__ = ["ChainCycle", "emitted_event_types", "find_chain_cycle"]


@dataclass(frozen=True)
class ChainCycle:
    step_index: int  # the emit_event step of the checked definition that starts the loop
    description: str


def emitted_event_types(definition: WorkflowDefinition) -> list[tuple[int, str]]:
    """(step index, event type) of each emit_event step with a literal event type."""
    found: list[tuple[int, str]] = []
    for index, step in enumerate(definition.steps):
        event_type = step.fields.get("event_type")
        if step.action == "emit_event" and isinstance(event_type, str) and "{{" not in event_type:
            found.append((index, event_type))
    return found


def find_chain_cycle(
    checked: WorkflowDefinition, others: Iterable[WorkflowDefinition]
) -> ChainCycle | None:
    """A loop through `checked` among it and the tenant's other active definitions."""
    every = [checked, *[o for o in others if o.name != checked.name and o.is_active]]
    listeners: dict[str, list[WorkflowDefinition]] = {}
    for definition in every:
        if definition.trigger.type == "event" and definition.trigger.event_type:
            listeners.setdefault(definition.trigger.event_type, []).append(definition)

    def path_back(start: WorkflowDefinition, seen: set[str]) -> list[str] | None:
        """The chain from `start` back to `checked`, as 'event -> workflow' hops."""
        for _, event_type in emitted_event_types(start):
            for target in listeners.get(event_type, []):
                if target.name == checked.name:
                    return [f"'{event_type}' -> {target.name}"]
                if target.name in seen:
                    continue
                rest = path_back(target, seen | {target.name})
                if rest is not None:
                    return [f"'{event_type}' -> {target.name}", *rest]
        return None

    if not checked.is_active:
        return None
    for index, event_type in emitted_event_types(checked):
        for target in listeners.get(event_type, []):
            hop = f"'{event_type}' -> {target.name}"
            if target.name == checked.name:
                hops: list[str] | None = [hop]
            else:
                rest = path_back(target, {checked.name, target.name})
                hops = None if rest is None else [hop, *rest]
            if hops is not None:
                chain = " -> ".join([checked.name, *hops])
                return ChainCycle(
                    index,
                    f"emitting '{event_type}' triggers this workflow again ({chain}); "
                    "a chain must not loop: emit a different event type or drop the step",
                )
    return None
