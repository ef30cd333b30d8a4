"""What a suite hands back: a Markdown table, and the acceptance figures it decides."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Check:
    """One acceptance figure: what is measured, the bound, and the value found."""

    name: str
    measured: float
    bound: float
    unit: str = ""
    # Most bounds are upper bounds; a lower bound says so.
    at_least: bool = False

    @property
    def passed(self) -> bool:
        if math.isnan(self.measured):
            return False
        return self.measured >= self.bound if self.at_least else self.measured <= self.bound

    def row(self) -> str:
        relation = ">=" if self.at_least else "<="
        return (
            f"| {self.name} | {relation} {self.bound:g}{self.unit} "
            f"| {self.measured:.3g}{self.unit} | {'yes' if self.passed else '**no**'} |"
        )


@dataclass
class Section:
    title: str
    note: str
    header: Sequence[str]
    rows: list[Sequence[str]] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)

    def markdown(self) -> str:
        aligns = ["---"] + ["---:"] * (len(self.header) - 1)
        lines = [f"### {self.title}", "", self.note, ""]
        lines.append("| " + " | ".join(self.header) + " |")
        lines.append("|" + "|".join(aligns) + "|")
        lines.extend("| " + " | ".join(row) + " |" for row in self.rows)
        return "\n".join(lines)


def checks_table(checks: Sequence[Check]) -> str:
    lines = ["| acceptance figure | target | measured | met |", "|---|---:|---:|---|"]
    lines.extend(check.row() for check in checks)
    return "\n".join(lines)


def seconds(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.2f}"


def ms(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value * 1e3:.1f}"
