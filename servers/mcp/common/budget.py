"""Keeping tool results small enough for a context window.

A result whose JSON exceeds `Settings.result_budget_chars` is cut down (fewer list items,
then shorter texts) and says so: `truncated: true` plus `truncation_note`, which tells the
model how to get the rest (a smaller page, a cursor, a narrower query).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from pydantic import BaseModel, Field

__all__ = ["NOTE_RESERVE", "Truncatable", "fit_count", "json_size", "shrink_lists"]

NOTE_RESERVE = 400  # characters kept free for `truncated` and its note

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")


class Truncatable(BaseModel):
    """Fields every list-bearing tool result carries."""

    truncated: bool = Field(
        default=False, description="True when items were left out to respect the size budget"
    )
    truncation_note: str | None = Field(
        default=None, description="When truncated: what was left out and how to get it"
    )


def json_size(model: BaseModel) -> int:
    return len(model.model_dump_json(by_alias=True))


def fit_count(items: Sequence[T], render: Callable[[Sequence[T]], BaseModel], budget: int) -> int:
    """The largest n such that `render(items[:n])` fits in `budget` characters (at least 1
    when there are items: one oversized item is still more useful than none). Renders once
    when everything fits, O(log n) times otherwise."""
    if not items or json_size(render(items)) <= budget:
        return len(items)
    low, high = 1, len(items) - 1  # invariant: the answer is in [low, high]
    while low < high:
        mid = (low + high + 1) // 2
        if json_size(render(items[:mid])) <= budget:
            low = mid
        else:
            high = mid - 1
    return low


def shrink_lists(
    model: M,
    fields: Sequence[str],
    budget: int,
    size: Callable[[BaseModel], int] = json_size,
) -> tuple[M, dict[str, int]]:
    """Halve the named list fields (last items first) until the model fits the budget.

    Returns the smaller model and, per field, how many items were dropped (only fields
    that lost items). The lists are assumed ordered most relevant first. `size` measures
    a model (`results.measured_size` keeps the serialization of the one that fits).
    """
    dropped: dict[str, int] = {}
    current = model
    while size(current) > budget:
        lengths = {name: len(getattr(current, name)) for name in fields}
        longest = max(lengths, key=lambda name: lengths[name], default=None)
        if longest is None or lengths[longest] == 0:
            break
        keep = lengths[longest] // 2
        dropped[longest] = dropped.get(longest, 0) + lengths[longest] - keep
        current = current.model_copy(update={longest: getattr(current, longest)[:keep]})
    return current, dropped
