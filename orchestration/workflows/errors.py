"""Errors of the workflow layer; each message says what is wrong and where."""

from __future__ import annotations

from dataclasses import dataclass

from shared.errors import SwitchboardError, ValidationFailedError

__all__ = [
    "ConditionError",
    "DefinitionError",
    "DefinitionProblem",
    "StepFailedError",
    "TemplateError",
    "TransientStepError",
]


class ConditionError(SwitchboardError):
    """A condition could not be parsed or evaluated; the message points at the column."""

    def __init__(self, reason: str, source: str, column: int) -> None:
        self.reason = reason
        self.source = source
        self.column = column  # 1-based
        super().__init__(self._render())

    def _render(self) -> str:
        shown = self.source if len(self.source) <= 200 else self.source[:200] + "..."
        shown = shown.replace("\n", " ").replace("\t", " ")
        caret = " " * (min(self.column, len(shown) + 1) - 1) + "^"
        return f"{self.reason} at column {self.column}\n  {shown}\n  {caret}"


class TemplateError(SwitchboardError):
    """A `{{ ... }}` reference is malformed or names nothing in the step's context."""


@dataclass(frozen=True)
class DefinitionProblem:
    path: str  # e.g. "steps[2].action"
    reason: str
    line: int | None = None  # 1-based line in the YAML source, when known

    def __str__(self) -> str:
        where = f"line {self.line}" if self.line is not None else "definition"
        return f"{where} ({self.path}): {self.reason}" if self.path else f"{where}: {self.reason}"


class DefinitionError(ValidationFailedError):
    """A workflow definition was rejected; `problems` lists each with its line and reason."""

    def __init__(self, problems: list[DefinitionProblem], source_name: str | None = None) -> None:
        self.problems = problems
        self.source_name = source_name
        prefix = f"{source_name}: " if source_name else ""
        lines = [f"{prefix}{p}" for p in problems]
        super().__init__("invalid workflow definition\n" + "\n".join(lines))


class StepFailedError(SwitchboardError):
    """A step failed for a reason a retry will not fix (bad data, missing record)."""


class TransientStepError(SwitchboardError):
    """A step failed for a reason a retry may fix (timeout, 5xx, rate limit)."""
