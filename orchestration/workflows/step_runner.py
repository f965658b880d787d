"""Running one step's action, with what it may raise sorted into bad data (the step fails
for good) and what a retry may fix (transient); its output made plain JSON."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pydantic_core
from pydantic import ValidationError

from orchestration.workflows.actions.base import ActionSpec, StepContext
from orchestration.workflows.errors import StepFailedError, TransientStepError

__all__ = ["StepFailure", "describe_validation", "jsonable", "perform"]

log = logging.getLogger("orchestration.workflows.engine")  # where these were always logged


class StepFailure(Exception):
    """A step that did not complete, and whether trying again may help."""

    def __init__(self, message: str, *, transient: bool) -> None:
        super().__init__(message)
        self.transient = transient


def jsonable(value: Any) -> Any:
    """Plain JSON types (what a step_state can hold); anything else as its str()."""
    return pydantic_core.to_jsonable_python(value, fallback=str)


async def perform(ctx: StepContext, action: ActionSpec, fields: Any) -> Any:
    """The action's output as plain JSON; raises StepFailure for anything it raised."""
    try:
        return jsonable(await action.run(ctx, fields))
    except StepFailedError as exc:
        raise StepFailure(str(exc), transient=False) from None
    except TransientStepError as exc:
        raise StepFailure(str(exc), transient=True) from None
    except ValidationError as exc:
        raise StepFailure(describe_validation(exc), transient=False) from None
    except (httpx.HTTPError, OSError, TimeoutError) as exc:
        raise StepFailure(f"{type(exc).__name__} calling a service", transient=True) from None
    except Exception as exc:  # the step boundary: a service bug fails this step, not the worker
        log.exception("step %s of execution %s raised", ctx.step_key, ctx.execution_id)
        raise StepFailure(f"unexpected {type(exc).__name__}: {exc}", transient=True) from None


def describe_validation(exc: ValidationError) -> str:
    parts: list[str] = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"]) or "fields"
        parts.append(f"{where}: {error['msg']}")
    return "bad step fields: " + "; ".join(parts)
