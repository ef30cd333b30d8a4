"""The run's limits as the user set them, and the shape of a broken one.

Apart from the gates (budget.py) that enforce them: options are read for
every run, gates are only needed once a test makes an LLM call.
"""

from __future__ import annotations

from decimal import Decimal
from typing import NamedTuple


class Limits(NamedTuple):
    """Every limit of the run; None means no limit.

    A NamedTuple rather than a dataclass: this module is imported by every
    run, and a dataclass costs about a millisecond to create.
    """

    budget_usd: Decimal | None = None
    max_calls: int | None = None
    max_cost_usd: Decimal | None = None
    test_budget_usd: Decimal | None = None
    test_max_calls: int | None = 50
    daily_budget_usd: Decimal | None = None

    def as_json(self) -> dict[str, float | int | None]:
        def money(value: Decimal | None) -> float | None:
            return float(value) if value is not None else None

        return {
            "budget_usd": money(self.budget_usd),
            "max_calls": self.max_calls,
            "max_cost_usd": money(self.max_cost_usd),
            "test_budget_usd": money(self.test_budget_usd),
            "test_max_calls": self.test_max_calls,
            "daily_budget_usd": money(self.daily_budget_usd),
        }


def violation(
    kind: str,
    message: str,
    *,
    limit: float | int | None,
    actual: float | int | None,
    nodeid: str | None = None,
) -> dict[str, object]:
    """One broken limit, as every report lists it."""
    return {"kind": kind, "nodeid": nodeid, "limit": limit, "actual": actual, "message": message}
