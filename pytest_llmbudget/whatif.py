"""What the recorded calls would have cost on another model: "would a cheaper model do?".

Every call in a report keeps its usage (tokens in, cached, out), so it can be
priced again at another model's prices without sending anything. The answer
is an estimate: another model would tokenize the same prompt differently and
answer at another length. It is priced now, at today's prices, by name alone:
the override from ``llm_prices`` first, then genai-prices.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from pytest_llmbudget.scenarios import Scenario

if TYPE_CHECKING:
    from pytest_llmbudget.pricing import PriceBook
    from pytest_llmbudget.records import CallRecord, Usage

NO_USAGE = "no usage"


@dataclass(slots=True)
class Cost:
    """One row: what its calls cost as recorded, and on the scenario's model."""

    recorded: Decimal = Decimal(0)
    what_if: Decimal = Decimal(0)

    @property
    def change_pct(self) -> Decimal | None:
        if self.recorded == 0:
            return None if self.what_if else Decimal(0)
        return (self.what_if - self.recorded) / self.recorded * 100

    def as_json(self) -> dict[str, Any]:
        pct = self.change_pct
        return {
            "recorded_usd": float(self.recorded),
            "what_if_usd": float(self.what_if),
            "change_pct": None if pct is None else round(float(pct), 2),
        }


@dataclass(slots=True)
class Skipped:
    """Calls that could not be priced again, kept at their recorded cost."""

    reason: str
    model: str
    calls: int = 0
    tests: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "reason": self.reason,
            "model": self.model,
            "calls": self.calls,
            "tests": self.tests,
        }


@dataclass(slots=True)
class WhatIf:
    scenario: Scenario
    known: bool  # the target model has a price: without one, nothing below is filled in
    total: Cost = field(default_factory=Cost)
    files: dict[str, Cost] = field(default_factory=dict)
    tests: dict[str, Cost] = field(default_factory=dict)
    repriced: int = 0
    kept: int = 0  # calls to other models than FROM, at their recorded cost
    estimated: int = 0  # repriced calls whose usage was counted locally, not reported
    unpriced_before: int = 0  # repriced calls whose own model had no price
    skipped: list[Skipped] = field(default_factory=list)

    @property
    def skipped_calls(self) -> int:
        return sum(item.calls for item in self.skipped)

    def as_json(self) -> dict[str, Any]:
        def rows(costs: dict[str, Cost], key: str) -> list[dict[str, Any]]:
            ordered = sorted(costs.items(), key=lambda item: (-item[1].recorded, item[0]))
            return [{key: name, **cost.as_json()} for name, cost in ordered]

        return {
            "model": self.scenario.target,
            "from": self.scenario.source,
            "known": self.known,
            "total": self.total.as_json() if self.known else None,
            "files": rows(self.files, "path") if self.known else [],
            "tests": rows(self.tests, "nodeid") if self.known else [],
            "repriced_calls": self.repriced,
            "kept_calls": self.kept,
            "estimated_calls": self.estimated,
            "unpriced_before": self.unpriced_before,
            "not_repriced": [item.as_json() for item in self.skipped],
        }


def _usage_of(record: CallRecord) -> Usage | None:
    from pytest_llmbudget.records import Usage

    usage = record.usage
    if usage.input_tokens <= 0 and usage.output_tokens <= 0:
        return None
    return Usage(
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        cached_tokens=usage.cached_tokens,
        cache_write_tokens=usage.cache_write_tokens,
        reasoning_tokens=usage.reasoning_tokens,
    )


def what_if(
    records: Iterable[CallRecord],
    scenario: Scenario,
    book: PriceBook,
    at: datetime | None = None,
) -> WhatIf:
    """``records`` priced again on the scenario's model, per test, per file and in total."""
    from pytest_llmbudget.records import Usage

    probe = Usage(input_tokens=1_000, output_tokens=1_000)
    result = WhatIf(scenario, known=book.reprice(scenario.target, probe, at) is not None)
    if not result.known:
        return result
    skipped: dict[tuple[str, str], Skipped] = {}
    for record in records:
        cost = record.cost_usd
        usage = _usage_of(record)
        if record.status >= 400 or (record.model is None and usage is None):
            pass  # an error, or a model list: nothing a price applies to, on any model
        elif not scenario.applies_to(record.model):
            result.kept += 1
        elif usage is None:
            model = record.model or "a call naming no model"
            item = skipped.setdefault((NO_USAGE, model), Skipped(NO_USAGE, model))
            item.calls += 1
            if record.nodeid not in item.tests:
                item.tests.append(record.nodeid)
        else:
            cost = book.reprice(scenario.target, usage, at) or Decimal(0)
            result.repriced += 1
            result.estimated += record.estimated
            result.unpriced_before += not record.priced
        for row in (
            result.total,
            result.tests.setdefault(record.nodeid, Cost()),
            result.files.setdefault(record.nodeid.partition("::")[0], Cost()),
        ):
            row.recorded += record.cost_usd
            row.what_if += cost
    result.skipped = list(skipped.values())
    return result


def what_ifs(
    records: list[CallRecord], scenarios: Iterable[Scenario], book: PriceBook
) -> list[WhatIf]:
    return [what_if(records, scenario, book) for scenario in scenarios]
