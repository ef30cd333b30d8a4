"""The gates that enforce the limits (limits.py), before a request leaves the process.

Counters are reserved under a lock at the gate, so N threads racing for the
last allowed call let exactly one through. A live call's cost is only known
when it returns, so spend gates refuse the *next* call once the budget is
reached: a run overshoots by at most the calls already in flight.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING

from pytest_llmbudget.errors import LLMBudgetExceeded, LLMCallLimitExceeded
from pytest_llmbudget.limits import Limits, violation
from pytest_llmbudget.report.formatting import plural, usd

if TYPE_CHECKING:
    from pytest_llmbudget.shared_gate import Admissions

WARN_AT = (Decimal("0.5"), Decimal("0.75"), Decimal("0.9"))


class RunGate:
    """Run-wide live-call gates: spend budget, live-call count, daily spend.

    With ``shared`` (the workers of a pytest-xdist run) the count and the
    spend come from every process of the run, not from this one.
    """

    def __init__(
        self,
        limits: Limits,
        *,
        spent_today: Callable[[], Decimal] | None = None,
        warn: Callable[[str], None] | None = None,
        shared: Admissions | None = None,
    ) -> None:
        self.limits = limits
        self._shared = shared
        self._lock = threading.Lock()
        self._live_calls = 0
        self._spend = Decimal(0)
        self._spent_today = spent_today
        self._warn = warn
        self._warned: set[Decimal] = set()
        self.violations: list[dict[str, object]] = []

    @property
    def spend(self) -> Decimal:
        return self._spend

    def admit_live(self, nodeid: str) -> None:
        """Reserve one live call, or refuse it before a byte is sent."""
        __tracebackhide__ = True
        with self._lock:
            if self._shared is not None:
                self._shared.admit(
                    nodeid,
                    lambda calls, spend, others: self._check(nodeid, calls, spend, others),
                    daily=self.limits.daily_budget_usd is not None,
                )
            else:
                self._check(nodeid, self._live_calls, self._spend)
            self._live_calls += 1

    def _check(
        self, nodeid: str, live_calls: int, spend: Decimal, others_today: Decimal | None = None
    ) -> None:
        """Refuse a call when the run's live calls or spend so far leave no room for it."""
        __tracebackhide__ = True
        limits = self.limits
        if limits.budget_usd is not None and spend >= limits.budget_usd:
            self._refuse(
                "budget",
                f"live spend {usd(spend)} has reached --llm-budget "
                f"{usd(limits.budget_usd)}: the call was not sent",
                limits.budget_usd,
                spend,
                nodeid,
            )
        if limits.max_calls is not None and live_calls >= limits.max_calls:
            self._refuse(
                "max_calls",
                f"{plural(live_calls, 'live call')} made, --llm-max-calls is "
                f"{limits.max_calls}: the call was not sent",
                limits.max_calls,
                live_calls,
                nodeid,
            )
        if limits.daily_budget_usd is not None and (
            others_today is not None or self._spent_today is not None
        ):
            if others_today is None and self._spent_today is not None:
                others_today = self._spent_today()
            today = (others_today or Decimal(0)) + spend
            if today >= limits.daily_budget_usd:
                self._refuse(
                    "daily_budget",
                    f"live spend over the last 24 h is {usd(today)}, "
                    f"--llm-daily-budget is {usd(limits.daily_budget_usd)}: "
                    "the call was not sent",
                    limits.daily_budget_usd,
                    today,
                    nodeid,
                )

    def _refuse(
        self, kind: str, message: str, limit: Decimal | int, actual: Decimal | int, nodeid: str
    ) -> None:
        __tracebackhide__ = True
        if not any(v["kind"] == kind for v in self.violations):
            self.violations.append(
                violation(kind, message, limit=_num(limit), actual=_num(actual), nodeid=nodeid)
            )
        raise LLMBudgetExceeded(message, limit=_num(limit), actual=_num(actual), nodeid=nodeid)

    def spent(self, cost: Decimal) -> None:
        """A live call came back costing ``cost``; warn as the budget fills up."""
        with self._lock:
            self._spend += cost
            spend = self._spend
            budget = self.limits.budget_usd
            crossed = [
                mark
                for mark in WARN_AT
                if budget and spend >= budget * mark and mark not in self._warned
            ]
            self._warned.update(crossed)
        if self._warn is not None and budget:
            for mark in crossed:  # one call may pass several marks: each is said once
                self._warn(
                    f"LLM budget: live spend {usd(spend)} has passed {mark * 100:.0f}% "
                    f"of --llm-budget {usd(budget)}"
                )


class TestGate:
    """One test's call limit: all calls, replayed included (a polling loop replays too)."""

    __test__ = False

    def __init__(
        self,
        nodeid: str,
        max_calls: int | None,
        source: str,
        report: Callable[[dict[str, object]], None] | None = None,
    ) -> None:
        self.nodeid = nodeid
        self.max_calls = max_calls
        self._source = source
        self._report = report
        self._reported = False
        self._lock = threading.Lock()
        self._endpoints: Counter[tuple[str, str]] = Counter()
        self.calls = 0

    def admit(self, method: str, endpoint: str) -> None:
        __tracebackhide__ = True
        with self._lock:
            if self.max_calls is not None and self.calls >= self.max_calls:
                (method_called, endpoint_called), times = self._endpoints.most_common(1)[0]
                repeated = f"{method_called} {endpoint_called}"
                message = (
                    f"{self.nodeid} made {plural(self.calls, 'LLM call')}, the limit is "
                    f"{self.max_calls} ({self._source}); {repeated} was called "
                    f"{plural(times, 'time')}: "
                    "this looks like a polling loop"
                )
                if self._report is not None and not self._reported:
                    self._reported = True
                    self._report(
                        violation(
                            "test_max_calls",
                            message,
                            limit=self.max_calls,
                            actual=self.calls + 1,
                            nodeid=self.nodeid,
                        )
                    )
                raise LLMCallLimitExceeded(
                    message, limit=self.max_calls, actual=self.calls + 1, nodeid=self.nodeid
                )
            self.calls += 1
            self._endpoints[method, endpoint] += 1


def _num(value: Decimal | int) -> float | int:
    return float(value) if isinstance(value, Decimal) else value
