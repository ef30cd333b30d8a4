"""JUnit: cost properties on pytest's own testcases, and ``--llm-junit=PATH``.

The properties go through ``item.user_properties``, which pytest's
``--junitxml`` writes without ``record_property``'s xunit2 warning and which
pytest-xdist ships back from its workers with each report. The separate file
has one testcase per budget check, so Jenkins and GitLab show a blown budget
as a failed test even when every real test passed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from pytest_llmbudget.records import CallRecord
from pytest_llmbudget.report.formatting import plain, plural, usd
from pytest_llmbudget.summary import RunSummary

SUITE = "llmbudget"


def properties(records: Iterable[CallRecord]) -> list[tuple[str, str]]:
    calls = live = 0
    cost = spend = Decimal(0)
    for record in records:
        calls += 1
        cost += record.cost_usd
        if record.live:
            live += 1
            spend += record.cost_usd
    return [
        ("llm_calls", str(calls)),
        ("llm_live_calls", str(live)),
        ("llm_cost_usd", plain(cost)),
        ("llm_spend_usd", plain(spend)),
    ]


@dataclass(slots=True)
class Check:
    """One budget check: what was allowed, what happened, and what broke it."""

    kind: str
    rule: str
    observed: str
    failures: list[str] = field(default_factory=list)


def checks(summary: RunSummary, *, unknown_model_fails: bool = False) -> list[Check]:
    limits = summary.limits
    t = summary.totals
    dearest = max((test.totals.cost_usd for test in summary.tests), default=Decimal(0))
    busiest = max((test.totals.calls for test in summary.tests), default=0)
    found: list[Check] = []

    def add(kind: str, rule: str, observed: str, configured: bool) -> None:
        failures = [str(v["message"]) for v in summary.violations if v["kind"] == kind]
        if configured or failures:
            found.append(Check(kind, rule, observed, failures))

    budget, max_cost = limits.get("budget_usd"), limits.get("max_cost_usd")
    test_budget, daily = limits.get("test_budget_usd"), limits.get("daily_budget_usd")
    add(
        "budget",
        f"live spend <= {_money(budget)}",
        f"live spend {usd(t.spend_usd)}",
        budget is not None,
    )
    add(
        "max_calls",
        f"live calls <= {limits.get('max_calls')}",
        f"{plural(t.live_calls, 'live call')}",
        limits.get("max_calls") is not None,
    )
    add(
        "max_cost",
        f"cost, replayed included, <= {_money(max_cost)}",
        f"cost {usd(t.cost_usd)}",
        max_cost is not None,
    )
    add(
        "test_budget",
        f"each test's cost <= {_money(test_budget)} (or its marker's)",
        f"dearest test {usd(dearest)}",
        test_budget is not None,
    )
    add(
        "test_max_calls",
        f"each test's calls <= {limits.get('test_max_calls')} (or its marker's)",
        f"busiest test {plural(busiest, 'call')}",
        limits.get("test_max_calls") is not None,
    )
    add(
        "daily_budget",
        f"live spend over 24 h <= {_money(daily)}",
        f"this run's live spend {usd(t.spend_usd)}",
        daily is not None,
    )
    add(
        "unknown_model",
        "every model has a price",
        f"{len(summary.unknown_models)} unknown",
        unknown_model_fails,
    )
    return found


def _money(value: Any) -> str:
    return usd(Decimal(str(value))) if value is not None else "(marker only)"


def render(summary: RunSummary, *, unknown_model_fails: bool = False) -> str:
    from junit_xml import TestCase, TestSuite, to_xml_report_string

    cases = []
    for check in checks(summary, unknown_model_fails=unknown_model_fails):
        case = TestCase(
            name=f"{check.kind}: {check.rule}",
            classname=SUITE,
            elapsed_sec=0.0,
            stdout=check.observed,
        )
        if check.failures:
            case.add_failure_info(
                message=check.failures[0], output="\n".join(check.failures), failure_type=check.kind
            )
        cases.append(case)
    t = summary.totals
    suite = TestSuite(
        SUITE,
        cases,
        properties={
            "llm_calls": str(t.calls),
            "llm_live_calls": str(t.live_calls),
            "llm_cost_usd": plain(t.cost_usd),
            "llm_spend_usd": plain(t.spend_usd),
        },
    )
    text: str = to_xml_report_string([suite], prettyprint=True, encoding="utf-8")
    return text


def write(summary: RunSummary, path: Path, *, unknown_model_fails: bool = False) -> None:
    from pytest_llmbudget.recording.cassette import write_atomic

    write_atomic(path, render(summary, unknown_model_fails=unknown_model_fails))
