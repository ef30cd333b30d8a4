"""Adding up reports from several jobs: the shards of a CI matrix.

Every call of every report is kept and the totals are built afresh from
them, so a merged report is exactly what one job running all the shards
would have written. Each shard's violations stay; limits given to the merge
are checked against the sum, which catches a matrix that is within budget
job by job but not in total.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from pytest_llmbudget.limits import violation
from pytest_llmbudget.records import CallRecord
from pytest_llmbudget.report.formatting import plural, usd
from pytest_llmbudget.summary import RunSummary, build

_OUTCOME_RANK = {"error": 0, "failed": 1, "passed": 3, "skipped": 4}


def merge(
    documents: Sequence[tuple[str, Mapping[str, Any]]],
    *,
    budget_usd: Decimal | None = None,
    max_cost_usd: Decimal | None = None,
) -> RunSummary:
    """One summary of every report; ``documents`` are (source name, loaded JSON) pairs."""
    from pytest_llmbudget.report.jsonreport import records_of

    records: list[CallRecord] = []
    outcomes: dict[str, str] = {}
    limits: dict[str, Any] = {}
    violations: list[dict[str, Any]] = []
    unknown: dict[tuple[str, str], dict[str, Any]] = {}
    counters: list[str] = []
    for source, document in documents:
        records.extend(records_of(document, source))
        for test in document["tests"]:
            outcome = str(test.get("outcome", "unknown"))
            previous = outcomes.get(test["nodeid"])
            if previous is None or _OUTCOME_RANK.get(outcome, 2) < _OUTCOME_RANK.get(previous, 2):
                outcomes[test["nodeid"]] = outcome
        for key, value in dict(document["limits"]).items():
            if limits.get(key) is None:
                limits[key] = value
        violations.extend(dict(entry, source=source) for entry in document["violations"])
        for item in document.get("unknown_models", []):
            merged = unknown.setdefault(
                (item["provider"], item["model"]), dict(item, calls=0, tests=[])
            )
            merged["calls"] += int(item.get("calls", 0))
            merged["tests"] += [t for t in item.get("tests", []) if t not in merged["tests"]]
        counter = str(document.get("token_counter", ""))
        if counter and counter not in counters:
            counters.append(counter)
    if budget_usd is not None:
        limits["budget_usd"] = float(budget_usd)
    if max_cost_usd is not None:
        limits["max_cost_usd"] = float(max_cost_usd)
    summary = build(
        records,
        outcomes=outcomes,
        limits=limits,
        violations=violations,
        token_counter="; ".join(counters),
    )
    summary.unknown_models[:] = list(unknown.values())
    summary.violations.extend(_checks(summary, budget_usd, max_cost_usd, len(documents)))
    return summary


def _checks(
    summary: RunSummary, budget: Decimal | None, max_cost: Decimal | None, reports: int
) -> list[dict[str, Any]]:
    t = summary.totals
    found: list[dict[str, Any]] = []
    if budget is not None and t.spend_usd > budget:
        found.append(
            violation(
                "budget",
                f"live spend {usd(t.spend_usd)} of {plural(reports, 'report')} exceeds "
                f"--budget {usd(budget)}",
                limit=float(budget),
                actual=float(t.spend_usd),
            )
        )
    if max_cost is not None and t.cost_usd > max_cost:
        found.append(
            violation(
                "max_cost",
                f"cost {usd(t.cost_usd)} of {plural(reports, 'report')} (replayed included) "
                f"exceeds --max-cost {usd(max_cost)}",
                limit=float(max_cost),
                actual=float(t.cost_usd),
            )
        )
    return found
