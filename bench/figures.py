"""The machine-readable figures every benchmark can write beside what it prints.

The convention: a benchmark accepts `--json PATH` and writes there a JSON list of figures,
each `{"name", "value", "unit", "target", "baseline", "met"}`:

- `name`: what was measured, in words ("crash: events lost"), unique within the bench;
- `value`: a number (or null when it could not be measured);
- `unit`: "ms", "events/s", "%", "MB", "x", "" for a count;
- `target`: the goal in words with its comparison ("<= 0", ">= 95 %"), or null;
- `baseline`: what the value is compared with, measured in the same run when possible
  ("pgqueuer 3,100 events/s"), or null;
- `met`: whether the target holds (null when there is no target or no value).

`bench/report.py` runs every benchmark with `--json` and turns the lists into one table.
"""

from __future__ import annotations

import argparse
import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

__all__ = ["Figure", "add_json_option", "at_least", "at_most", "read_figures", "write_figures"]

Comparison = Literal["<=", "<", ">=", ">", "=="]


@dataclass(frozen=True)
class Figure:
    name: str
    value: float | None
    unit: str = ""
    target: str | None = None
    baseline: str | None = None
    met: bool | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def shown(self) -> str:
        """The value with its unit, for tables ("12.5 ms", "n/a")."""
        if self.value is None or (isinstance(self.value, float) and math.isnan(self.value)):
            return "n/a"
        number = f"{self.value:,.0f}" if float(self.value).is_integer() else f"{self.value:,.3g}"
        if abs(self.value) >= 1000 and not float(self.value).is_integer():
            number = f"{self.value:,.0f}"
        return f"{number} {self.unit}".strip()


def _judge(value: float | None, op: Comparison, bound: float) -> bool | None:
    if value is None or math.isnan(value):
        return None
    return {
        "<=": value <= bound,
        "<": value < bound,
        ">=": value >= bound,
        ">": value > bound,
        "==": value == bound,
    }[op]


def _figure(
    name: str, value: float | None, unit: str, op: Comparison, bound: float, baseline: str | None
) -> Figure:
    target = f"{op} {bound:g} {unit}".strip()
    return Figure(name, value, unit, target, baseline, _judge(value, op, bound))


def at_most(
    name: str, value: float | None, bound: float, unit: str = "", *, baseline: str | None = None,
    strict: bool = False,
) -> Figure:  # fmt: skip
    """A figure whose target is an upper bound (latency, losses, memory)."""
    return _figure(name, value, unit, "<" if strict else "<=", bound, baseline)


def at_least(
    name: str, value: float | None, bound: float, unit: str = "", *, baseline: str | None = None
) -> Figure:
    """A figure whose target is a lower bound (rates, success shares, ratios)."""
    return _figure(name, value, unit, ">=", bound, baseline)


def add_json_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--json",
        type=Path,
        metavar="PATH",
        help="also write the figures there as JSON (the convention in bench/figures.py)",
    )


def write_figures(path: Path | None, figures: list[Figure]) -> None:
    """Write `figures` to `path` (nothing when path is None, i.e. no --json)."""
    if path is None:
        return
    path.write_text(json.dumps([f.as_dict() for f in figures], indent=2) + "\n")


def read_figures(path: Path) -> list[Figure]:
    """The figures a benchmark wrote; ValueError when the file does not follow the format."""
    raw: Any = json.loads(path.read_text())
    if not isinstance(raw, list):
        raise ValueError(f"{path}: expected a JSON list of figures")
    figures: list[Figure] = []
    for item in raw:  # pyright: ignore[reportUnknownVariableType]
        if not isinstance(item, dict) or "name" not in item:
            raise ValueError(f"{path}: every figure needs at least a name: {item!r}")
        entry: dict[str, Any] = item  # pyright: ignore[reportUnknownVariableType]
        value = entry.get("value")
        figures.append(
            Figure(
                name=str(entry["name"]),
                value=float(value) if isinstance(value, int | float) else None,
                unit=str(entry.get("unit") or ""),
                target=entry.get("target"),
                baseline=entry.get("baseline"),
                met=entry.get("met"),
            )
        )
    return figures
