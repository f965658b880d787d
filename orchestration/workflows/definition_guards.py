"""Checks on a workflow definition before it is parsed or saved: YAML whose shape would
exhaust the parser (alias bombs, deep nesting) and schedules that can never fire."""

from __future__ import annotations

from datetime import UTC, datetime

import yaml
from croniter import CroniterError, croniter

from orchestration.workflows.errors import DefinitionError, DefinitionProblem

__all__ = ["MAX_YAML_DEPTH", "check_yaml_shape", "ever_fires"]

MAX_YAML_DEPTH = 32  # far deeper than any definition; the YAML composer recurses per level


def check_yaml_shape(text: str, source_name: str | None) -> None:
    """Refuse aliases and deep nesting before composing: a chain of aliases expands
    exponentially (the "billion laughs"), a self-referencing one or thousands of nested
    brackets exhaust the recursion limit. Reading events is flat and stops at the first."""
    depth = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        problem = None
        if isinstance(event, yaml.AliasEvent):
            problem = "YAML aliases (*name) are not supported in a definition; write it out"
        elif isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_YAML_DEPTH:
                problem = f"nested deeper than {MAX_YAML_DEPTH} levels"
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
        if problem is not None:
            line = event.start_mark.line + 1 if event.start_mark is not None else None
            raise DefinitionError([DefinitionProblem("", problem, line)], source_name)


def ever_fires(cron: str) -> bool:
    # croniter gives up (CroniterBadDateError) when it finds no tick within years; the
    # scheduler computes the previous tick of every cron on each pass, so refuse it here.
    start = datetime(2026, 1, 1, tzinfo=UTC)
    try:
        croniter(cron, start).get_prev(datetime)
        croniter(cron, start).get_next(datetime)
    except CroniterError:
        return False
    return True
