"""Two JSON reports compared: did a change make the suite dearer, and which tests did it?

The measure is *cost* (every call, replayed included), not spend: in CI the
calls replay from cassettes and spend nothing, yet cost says what the suite
would charge live, so it moves when a change sends more calls, bigger prompts
or a dearer model. Tests are matched by node id; a test in one report only is
new or removed (a report lists only the tests that called an LLM, so "removed"
also covers a test that stopped calling one).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from pytest_llmbudget.records import CallRecord


@dataclass(frozen=True, slots=True)
class Side:
    """What one test (or the whole suite) cost in one report."""

    calls: int = 0
    live_calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: Decimal = Decimal(0)
    models: tuple[str, ...] = ()

    @property
    def tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def plus(self, record: CallRecord) -> Side:
        model = record.model or "(unknown)"
        return Side(
            calls=self.calls + 1,
            live_calls=self.live_calls + record.live,
            input_tokens=self.input_tokens + record.usage.input_tokens,
            output_tokens=self.output_tokens + record.usage.output_tokens,
            cost_usd=self.cost_usd + record.cost_usd,
            models=self.models if model in self.models else (*self.models, model),
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "calls": self.calls,
            "live_calls": self.live_calls,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "tokens": self.tokens,
            "cost_usd": float(self.cost_usd),
            "models": sorted(self.models),
        }


def _sides(records: Iterable[CallRecord]) -> tuple[Side, dict[str, Side]]:
    total = Side()
    tests: dict[str, Side] = {}
    for record in records:
        total = total.plus(record)
        tests[record.nodeid] = tests.get(record.nodeid, Side()).plus(record)
    return total, tests


def pct_change(before: Decimal, after: Decimal) -> Decimal | None:
    """The change in percent of ``before``; None when there was nothing before."""
    if before == 0:
        return None if after != 0 else Decimal(0)
    return (after - before) / before * 100


@dataclass(frozen=True, slots=True)
class TestChange:
    """One test in either report; ``base`` or ``head`` is None when it is in one only."""

    __test__ = False

    nodeid: str
    base: Side | None
    head: Side | None

    @property
    def status(self) -> str:
        if self.base is None:
            return "new"
        if self.head is None:
            return "removed"
        before, after = self.base, self.head
        same = (
            before.calls == after.calls
            and before.tokens == after.tokens
            and before.cost_usd == after.cost_usd
            and sorted(before.models) == sorted(after.models)
        )
        return "same" if same else "changed"

    @property
    def cost_change(self) -> Decimal:
        return (self.head or Side()).cost_usd - (self.base or Side()).cost_usd

    @property
    def calls_change(self) -> int:
        return (self.head or Side()).calls - (self.base or Side()).calls

    @property
    def tokens_change(self) -> int:
        return (self.head or Side()).tokens - (self.base or Side()).tokens

    def as_json(self) -> dict[str, Any]:
        return {
            "nodeid": self.nodeid,
            "status": self.status,
            "base": None if self.base is None else self.base.as_json(),
            "head": None if self.head is None else self.head.as_json(),
            "cost_change_usd": float(self.cost_change),
            "calls_change": self.calls_change,
            "tokens_change": self.tokens_change,
        }


@dataclass(frozen=True, slots=True)
class CostDiff:
    base: Side
    head: Side
    changes: list[TestChange]  # new, removed and changed tests, the biggest change first
    unchanged: int
    notes: list[str] = field(default_factory=list)

    @property
    def cost_change(self) -> Decimal:
        return self.head.cost_usd - self.base.cost_usd

    @property
    def cost_change_pct(self) -> Decimal | None:
        return pct_change(self.base.cost_usd, self.head.cost_usd)

    def count(self, status: str) -> int:
        return sum(change.status == status for change in self.changes)

    def breaches(
        self, max_increase_usd: Decimal | None, max_increase_pct: Decimal | None
    ) -> list[str]:
        """Why the increase is too big, one reason per limit passed; empty when within both."""
        from pytest_llmbudget.report.formatting import usd

        reasons = []
        increase = self.cost_change
        if max_increase_usd is not None and increase > max_increase_usd:
            limit = usd(max_increase_usd)
            reasons.append(f"the cost rose by {usd(increase)}, more than --max-increase {limit}")
        if max_increase_pct is not None and increase > 0:
            pct = self.cost_change_pct
            if pct is None:
                reasons.append(
                    f"the cost rose from $0.00 to {usd(self.head.cost_usd)}, more than "
                    f"--max-increase-pct {max_increase_pct}"
                )
            elif pct > max_increase_pct:
                reasons.append(
                    f"the cost rose by {pct:.1f}%, more than --max-increase-pct {max_increase_pct}"
                )
        return reasons

    def as_json(self) -> dict[str, Any]:
        pct = self.cost_change_pct
        return {
            "base": self.base.as_json(),
            "head": self.head.as_json(),
            "cost_change_usd": float(self.cost_change),
            "cost_change_pct": None if pct is None else round(float(pct), 2),
            "calls_change": self.head.calls - self.base.calls,
            "tokens_change": self.head.tokens - self.base.tokens,
            "tests": {
                "new": self.count("new"),
                "removed": self.count("removed"),
                "changed": self.count("changed"),
                "unchanged": self.unchanged,
            },
            "changes": [change.as_json() for change in self.changes],
            "notes": self.notes,
        }


def _size(change: TestChange) -> tuple[Decimal, int, int, str]:
    """Sort key: the biggest change in cost first, then in calls, then in tokens."""
    return (
        -abs(change.cost_change),
        -abs(change.calls_change),
        -abs(change.tokens_change),
        change.nodeid,
    )


def _partial(name: str, document: Mapping[str, Any]) -> list[str]:
    run = document.get("run")
    if not isinstance(run, dict) or not run.get("partial"):
        return []
    reasons = [str(reason) for reason in run.get("reasons") or []]
    why = f": {'; '.join(reasons)}" if reasons else ""
    return [f"{name} is the report of a partial run{why}; new and removed tests may be only that"]


def compare(
    base: Iterable[CallRecord],
    head: Iterable[CallRecord],
    *,
    base_document: Mapping[str, Any] | None = None,
    head_document: Mapping[str, Any] | None = None,
) -> CostDiff:
    """The cost of ``head`` against ``base``, per test and in total.

    The documents, when given, only add notes (a partial run on either side).
    """
    base_total, base_tests = _sides(base)
    head_total, head_tests = _sides(head)
    changes = []
    unchanged = 0
    for nodeid in sorted(base_tests.keys() | head_tests.keys()):
        change = TestChange(nodeid, base_tests.get(nodeid), head_tests.get(nodeid))
        if change.status == "same":
            unchanged += 1
        else:
            changes.append(change)
    notes: list[str] = []
    if base_document is not None:
        notes += _partial("BASE", base_document)
    if head_document is not None:
        notes += _partial("HEAD", head_document)
    return CostDiff(base_total, head_total, sorted(changes, key=_size), unchanged, notes)
