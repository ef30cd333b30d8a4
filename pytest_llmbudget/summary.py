"""The run's totals: per test, per model, overall. Every report renders one RunSummary.

Money stays Decimal here; renderers decide how to print it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from pytest_llmbudget.records import CallRecord

REPORT_VERSION = 1


@dataclass(slots=True)
class Totals:
    calls: int = 0
    live_calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    reasoning_tokens: int = 0
    cost_usd: Decimal = Decimal(0)
    spend_usd: Decimal = Decimal(0)

    def add(self, record: CallRecord) -> None:
        self.calls += 1
        self.input_tokens += record.usage.input_tokens
        self.output_tokens += record.usage.output_tokens
        self.cached_tokens += record.usage.cached_tokens
        self.reasoning_tokens += record.usage.reasoning_tokens
        self.cost_usd += record.cost_usd
        if record.live:
            self.live_calls += 1
            self.spend_usd += record.cost_usd

    @property
    def replayed_calls(self) -> int:
        return self.calls - self.live_calls

    @property
    def saved_usd(self) -> Decimal:
        return self.cost_usd - self.spend_usd


@dataclass(slots=True)
class TestTotals:
    __test__ = False

    nodeid: str
    outcome: str
    cassette: str | None
    totals: Totals = field(default_factory=Totals)
    records: list[CallRecord] = field(default_factory=list)


@dataclass(slots=True)
class FileTotals:
    """One test module's calls: which files of a suite are the dear ones."""

    path: str
    tests: int = 0
    totals: Totals = field(default_factory=Totals)


def file_totals(tests: Iterable[TestTotals]) -> list[FileTotals]:
    """The tests' calls added up per test file (the node id before ``::``), dearest first."""
    files: dict[str, FileTotals] = {}
    for test in tests:
        path = test.nodeid.partition("::")[0]
        per_file = files.get(path)
        if per_file is None:
            per_file = files[path] = FileTotals(path)
        per_file.tests += 1
        for record in test.records:
            per_file.totals.add(record)
    return sorted(files.values(), key=lambda f: (-f.totals.cost_usd, f.path))


@dataclass(slots=True)
class ModelTotals:
    provider: str
    model: str
    totals: Totals = field(default_factory=Totals)


@dataclass(slots=True)
class RunSummary:
    """What the run cost; handed to ``pytest_llmbudget_summary`` and every renderer."""

    totals: Totals
    tests: list[TestTotals]
    models: list[ModelTotals]
    limits: dict[str, Any]
    violations: list[dict[str, Any]]
    quota_errors: list[dict[str, Any]]
    rate_limited: list[dict[str, Any]]
    unknown_models: list[dict[str, Any]]
    estimated_calls: int
    streams_without_usage: int
    token_counter: str
    # Written only with --llm-report: how complete the run was and what each
    # cassette's tests played (see runscope.py); llmbudget prune reads them.
    run: dict[str, Any] | None = None
    cassettes: list[dict[str, Any]] | None = None
    # Replays whose request differs from its recording (another tool's, matched its way).
    drift: list[dict[str, Any]] = field(default_factory=list)
    # Cassettes that existed and got interactions added (``new`` mode): which, by whom, how many.
    appended: list[dict[str, Any]] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        """No call and no violation: one line says it all.

        A violation can come without a call: the run's first call refused by
        the daily budget, say. The reports must still say why the run failed.
        """
        return not self.totals.calls and not self.violations and not self.appended

    @property
    def files(self) -> list[FileTotals]:
        return file_totals(self.tests)

    @property
    def records(self) -> list[CallRecord]:
        return [record for test in self.tests for record in test.records]

    @property
    def spend_usd(self) -> Decimal:
        return self.totals.spend_usd

    @property
    def cost_usd(self) -> Decimal:
        return self.totals.cost_usd


def _money(value: Decimal) -> float:
    return float(value)


def record_json(record: CallRecord) -> dict[str, Any]:
    usage = record.usage
    return {
        "provider": record.provider,
        "api": record.api,
        "model": record.model,
        "method": record.method,
        "host": record.host,
        "endpoint": record.endpoint,
        "live": record.live,
        "status": record.status,
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "cached_tokens": usage.cached_tokens,
        "cache_write_tokens": usage.cache_write_tokens,
        "reasoning_tokens": usage.reasoning_tokens,
        "cost_usd": _money(record.cost_usd),
        "estimated": record.estimated,
        "priced": record.priced,
        "duration_s": round(record.duration_s, 4),
        "recorded_at": record.recorded_at,
        "error": record.error,
        "stream_without_usage": record.stream_without_usage,
    }


def build(
    records: Iterable[CallRecord],
    *,
    outcomes: Mapping[str, str],
    limits: dict[str, Any],
    violations: list[dict[str, Any]],
    token_counter: str,
) -> RunSummary:
    totals = Totals()
    tests: dict[str, TestTotals] = {}
    models: dict[tuple[str, str], ModelTotals] = {}
    quota: list[dict[str, Any]] = []
    rate: list[dict[str, Any]] = []
    unknown: dict[tuple[str, str], dict[str, Any]] = {}
    estimated = streams_without_usage = 0
    for record in records:
        totals.add(record)
        test = tests.get(record.nodeid)
        if test is None:
            test = tests[record.nodeid] = TestTotals(
                record.nodeid, outcomes.get(record.nodeid, "unknown"), record.cassette
            )
        test.totals.add(record)
        test.records.append(record)
        model_name = record.model or "(unknown)"
        key = (record.provider, model_name)
        per_model = models.get(key)
        if per_model is None:
            per_model = models[key] = ModelTotals(record.provider, model_name)
        per_model.totals.add(record)
        estimated += record.estimated
        streams_without_usage += record.stream_without_usage
        if record.error in ("quota", "rate_limit"):
            entry = {
                "provider": record.provider,
                "nodeid": record.nodeid,
                "status": record.status,
                "endpoint": record.endpoint,
                "message": f"quota exhausted at {record.provider}"
                if record.error == "quota"
                else f"rate limited at {record.provider}",
            }
            (quota if record.error == "quota" else rate).append(entry)
        if not record.priced and record.status < 400:
            item = unknown.setdefault(
                key, {"provider": record.provider, "model": model_name, "calls": 0, "tests": []}
            )
            item["calls"] += 1
            if record.nodeid not in item["tests"]:
                item["tests"].append(record.nodeid)
    ordered_tests = sorted(tests.values(), key=lambda t: (-t.totals.cost_usd, t.nodeid))
    ordered_models = sorted(
        models.values(), key=lambda m: (-m.totals.cost_usd, m.provider, m.model)
    )
    return RunSummary(
        totals=totals,
        tests=ordered_tests,
        models=ordered_models,
        limits=limits,
        violations=violations,
        quota_errors=quota,
        rate_limited=rate,
        unknown_models=list(unknown.values()),
        estimated_calls=estimated,
        streams_without_usage=streams_without_usage,
        token_counter=token_counter,
    )


def to_json(summary: RunSummary) -> dict[str, Any]:
    """The JSON report, version 1 (SPEC §6): fields may be added, never changed."""
    t = summary.totals
    extra: dict[str, Any] = {}
    if summary.run is not None:
        extra["run"] = summary.run
    if summary.cassettes is not None:
        extra["cassettes"] = summary.cassettes
    return {
        "version": REPORT_VERSION,
        "limits": summary.limits,
        "totals": {
            "calls": t.calls,
            "live_calls": t.live_calls,
            "replayed_calls": t.replayed_calls,
            "input_tokens": t.input_tokens,
            "output_tokens": t.output_tokens,
            "cached_tokens": t.cached_tokens,
            "reasoning_tokens": t.reasoning_tokens,
            "cost_usd": _money(t.cost_usd),
            "spend_usd": _money(t.spend_usd),
            "saved_usd": _money(t.saved_usd),
            "estimated_calls": summary.estimated_calls,
        },
        "models": [
            {
                "provider": m.provider,
                "model": m.model,
                "calls": m.totals.calls,
                "live_calls": m.totals.live_calls,
                "input_tokens": m.totals.input_tokens,
                "output_tokens": m.totals.output_tokens,
                "cost_usd": _money(m.totals.cost_usd),
                "spend_usd": _money(m.totals.spend_usd),
            }
            for m in summary.models
        ],
        "files": [
            {
                "path": f.path,
                "tests": f.tests,
                "calls": f.totals.calls,
                "live_calls": f.totals.live_calls,
                "cost_usd": _money(f.totals.cost_usd),
                "spend_usd": _money(f.totals.spend_usd),
            }
            for f in summary.files
        ],
        "tests": [
            {
                "nodeid": test.nodeid,
                "outcome": test.outcome,
                "calls": test.totals.calls,
                "live_calls": test.totals.live_calls,
                "cost_usd": _money(test.totals.cost_usd),
                "spend_usd": _money(test.totals.spend_usd),
                "cassette": test.cassette,
                "records": [record_json(record) for record in test.records],
            }
            for test in summary.tests
        ],
        "violations": summary.violations,
        "quota_errors": summary.quota_errors,
        "rate_limited": summary.rate_limited,
        "unknown_models": summary.unknown_models,
        "token_counter": summary.token_counter,
        "drift": summary.drift,
        "appended": summary.appended,
        **extra,
    }
