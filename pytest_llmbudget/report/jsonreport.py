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
    return document


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
