"""``--llm-report=PATH``: the JSON report (schema shipped as schema/report-v1.schema.json).

Reading a report back gives the same RunSummary every renderer takes, so
``llmbudget report`` and ``llmbudget merge`` print exactly what pytest would.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

from pytest_llmbudget.recording.cassette import write_atomic
from pytest_llmbudget.records import CallRecord, Usage
from pytest_llmbudget.summary import REPORT_VERSION, RunSummary, build, to_json

REQUIRED = ("version", "limits", "totals", "tests", "violations")


class ReportError(Exception):
    """A file that is not a readable pytest-llmbudget report; the message names it."""


def schema() -> dict[str, Any]:
    text = resources.files("pytest_llmbudget").joinpath("schema/report-v1.schema.json").read_text()
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def write(summary: RunSummary, path: Path) -> None:
    write_atomic(path, json.dumps(to_json(summary), indent=2) + "\n")


def load(path: Path) -> dict[str, Any]:
    """The report's JSON, checked enough that renderers can trust its shape."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ReportError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ReportError(f"{path}: cannot be read ({error})") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise ReportError(
            f"{path}: not JSON ({error.msg} at line {error.lineno}, column {error.colno})"
        ) from None
    if not isinstance(document, dict) or not all(key in document for key in REQUIRED):
        raise ReportError(
            f"{path}: not a pytest-llmbudget report (expected the keys "
            f"{', '.join(REQUIRED)}, as written by --llm-report)"
        )
    if document["version"] != REPORT_VERSION:
        raise ReportError(
            f"{path}: report version {document['version']!r}; this pytest-llmbudget reads "
            f"version {REPORT_VERSION}"
        )
    problem = shape_problem(document)
    if problem is not None:
        raise ReportError(f"{path}: malformed report: {problem}")
    return document


LIMIT_KEYS = (
    "budget_usd",
    "max_calls",
    "max_cost_usd",
    "test_budget_usd",
    "test_max_calls",
    "daily_budget_usd",
)


def _shown(value: object) -> str:
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def shape_problem(document: Mapping[str, Any]) -> str | None:
    """What, in a version-1 report, the renderers and merge could not use; None if nothing.

    The calls themselves are checked as they are read (`records_of`).
    """
    limits = document["limits"]
    if not isinstance(limits, dict):
        return f'"limits" is {_shown(limits)}, not an object'
    for key in LIMIT_KEYS:
        value = limits.get(key)
        if value is not None and not (_number(value) and value >= 0):
            return f'"limits.{key}" is {_shown(value)}, not null or a number of 0 or more'
    if not isinstance(document["totals"], dict):
        return f'"totals" is {_shown(document["totals"])}, not an object'
    for name in ("tests", "violations", "unknown_models"):
        if not isinstance(document.get(name, []), list):
            return f'"{name}" is {_shown(document[name])}, not a list'
    for index, test in enumerate(document["tests"]):
        where = f"tests[{index}]"
        if not isinstance(test, dict):
            return f"{where} is {_shown(test)}, not an object"
        if not isinstance(test.get("nodeid"), str):
            return f'{where} has no "nodeid" string'
        if not isinstance(test.get("records"), list):
            return f'{where} ({test["nodeid"]}) has no "records" list'
        if not isinstance(test.get("outcome", ""), str):
            return f'{where} ({test["nodeid"]}): "outcome" is not a string'
    for index, entry in enumerate(document["violations"]):
        where = f"violations[{index}]"
        if not isinstance(entry, dict):
            return f"{where} is {_shown(entry)}, not an object"
        for key in ("kind", "message"):
            if not isinstance(entry.get(key), str):
                return f'{where} has no "{key}" string'
        if not isinstance(entry.get("nodeid") or "", str):
            return f'{where}: "nodeid" is not a string or null'
    for index, item in enumerate(document.get("unknown_models", [])):
        where = f"unknown_models[{index}]"
        if not isinstance(item, dict):
            return f"{where} is {_shown(item)}, not an object"
        for key in ("provider", "model"):
            if not isinstance(item.get(key), str):
                return f'{where} has no "{key}" string'
        calls = item.get("calls")
        if not (isinstance(calls, int) and not isinstance(calls, bool) and calls >= 0):
            return f'{where} has no "calls" count'
        tests = item.get("tests", [])
        if not isinstance(tests, list) or not all(isinstance(t, str) for t in tests):
            return f'{where}: "tests" is not a list of node ids'
    return None


def records_of(document: Mapping[str, Any], source: Path | str = "report") -> list[CallRecord]:
    """Every call of a loaded report, as CallRecords (without the bodies)."""
    try:
        return [
            record_from_json(raw, test["nodeid"], test.get("cassette"))
            for test in document["tests"]
            for raw in test["records"]
        ]
    except (KeyError, TypeError, ValueError, ArithmeticError) as error:
        raise ReportError(f"{source}: a test or call entry is malformed ({error!r})") from None


def record_from_json(raw: Mapping[str, Any], nodeid: str, cassette: str | None) -> CallRecord:
    """A CallRecord from its JSON form (the report's, or a worker's with decimal costs)."""
    return CallRecord(
        nodeid=str(nodeid),
        provider=str(raw["provider"]),
        api=str(raw.get("api", "")),
        host=str(raw.get("host", "")),
        endpoint=str(raw["endpoint"]),
        method=str(raw.get("method", "")),
        url="",
        live=bool(raw["live"]),
        status=int(raw["status"]),
        duration_s=float(raw["duration_s"]),
        recorded_at=raw.get("recorded_at"),
        cassette=cassette,
        model=raw.get("model"),
        usage=Usage(
            input_tokens=int(raw["input_tokens"]),
            output_tokens=int(raw["output_tokens"]),
            cached_tokens=int(raw.get("cached_tokens", 0)),
            cache_write_tokens=int(raw.get("cache_write_tokens", 0)),
            reasoning_tokens=int(raw.get("reasoning_tokens", 0)),
        ),
        cost_usd=Decimal(str(raw["cost_usd"])),
        estimated=bool(raw["estimated"]),
        priced=bool(raw["priced"]),
        error=raw.get("error"),
        stream_without_usage=bool(raw.get("stream_without_usage", False)),
    )


def summary_of(document: Mapping[str, Any], source: Path | str = "report") -> RunSummary:
    """A RunSummary equal to the one the report was written from."""
    records = records_of(document, source)
    summary = build(
        records,
        outcomes={
            test["nodeid"]: str(test.get("outcome", "unknown")) for test in document["tests"]
        },
        limits=dict(document["limits"]),
        violations=list(document["violations"]),
        token_counter=str(document.get("token_counter", "")),
    )
    if "unknown_models" in document:
        summary.unknown_models[:] = list(document["unknown_models"])
    summary.run = document.get("run")
    summary.cassettes = document.get("cassettes")
    return summary


def read(path: Path) -> RunSummary:
    return summary_of(load(path), path)
