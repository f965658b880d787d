"""Turning failures into messages a model can act on.

Every message says what was wrong and what to do next. Rejected input values are quoted
only briefly (they are the caller's own data, but may be long).
"""

from __future__ import annotations

from collections.abc import Generator
from contextlib import contextmanager

from mcp.server.mcpserver.exceptions import ToolError
from pydantic import ValidationError

from shared.errors import (
    DatabaseUnavailableError,
    NotFoundError,
    SwitchboardError,
    ValidationFailedError,
)

__all__ = ["describe_validation_error", "tool_errors"]

_MAX_SHOWN_INPUT = 60


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= _MAX_SHOWN_INPUT else text[: _MAX_SHOWN_INPUT - 3] + "..."


def _location(loc: tuple[int | str, ...]) -> str:
    # pydantic names union branches in the location ("str-enum[Stage]"): not a field name.
    parts = [str(p) for p in loc if not (isinstance(p, str) and ("[" in p or p in _TYPE_TAGS))]
    return ".".join(parts)


_TYPE_TAGS = frozenset({"str", "int", "float", "bool", "list", "dict", "none", "uuid"})


def describe_validation_error(error: ValidationError, *, what: str = "arguments") -> str:
    """One line per problem: `field: what is allowed (got X)`, then how to recover."""
    by_location: dict[str, list[str]] = {}
    for item in error.errors(include_url=False):
        location = _location(item["loc"])
        kind = item["type"]
        given = item.get("input")
        if kind == "missing":
            problem = "required, but missing"
        elif kind == "extra_forbidden":
            problem = "not a known field"
        elif kind == "value_error" or isinstance(given, dict | list):
            problem = item["msg"].removeprefix("Value error, ")
        else:
            problem = f"{item['msg']} (got {_shown(given)})"
        problems = by_location.setdefault(location, [])
        if problem not in problems:
            problems.append(problem)
    lines = [
        f"{location}: {' or '.join(problems)}" if location else " or ".join(problems)
        for location, problems in by_location.items()
    ]
    return (
        f"invalid {what}: "
        + "; ".join(lines)
        + ". Fix these and call again; the tool's input schema lists every field and its range."
    )


@contextmanager
def tool_errors(*, not_found_hint: str | None = None) -> Generator[None]:
    """Re-raise user-facing failures from a service call as ToolErrors with a next step.

    Anything else propagates: the SDK reports it as a generic failure and logs the trace,
    so no internal detail reaches the model.
    """
    try:
        yield
    except NotFoundError as exc:
        hint = f"; {not_found_hint}" if not_found_hint else ""
        raise ToolError(f"{exc}{hint}") from exc
    except ValidationFailedError as exc:
        raise ToolError(f"{str(exc).rstrip('.')}. Correct the arguments and call again.") from exc
    except DatabaseUnavailableError as exc:
        raise ToolError(
            f"the CRM store is unavailable right now ({exc}); try again in a minute, and tell "
            "the user if it persists"
        ) from exc
    except SwitchboardError as exc:
        raise ToolError(str(exc)) from exc
    except ValidationError as exc:
        raise ToolError(describe_validation_error(exc)) from exc
