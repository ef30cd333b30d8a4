"""pytest-xdist: the workers' calls and violations, shipped to the controller as one run.

Each worker keeps its own records; at its end it puts them in
``config.workeroutput``, which xdist hands to the controller with
``pytest_testnodedown``. Only the controller writes reports, so there is one
total, one JSON report, one summary, as without xdist. Costs travel as
decimal strings, so the controller adds up exactly what a single process
would have. Records come back in collection order (xdist tells the
controller the collected ids), so every report lists them as a serial run
does, whichever worker ran which test.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pytest_llmbudget.records import CallRecord

KEY = "llmbudget"
# Run-wide limits are reported once, whichever worker hit them first.
RUN_WIDE = frozenset({"budget", "max_calls", "daily_budget"})


@dataclass(frozen=True, slots=True)
class WorkerResult:
    """What one worker hands over: its calls, its violations, how it counted tokens."""

    records: list[CallRecord]
    violations: list[dict[str, Any]]
    token_counter: str
    drift: list[dict[str, Any]] = field(default_factory=list)
    appended: list[dict[str, Any]] = field(default_factory=list)


def dump(
    records: Iterable[CallRecord],
    violations: Iterable[Mapping[str, Any]],
    token_counter: str,
    *,
    drift: Iterable[Mapping[str, Any]] = (),
    appended: Iterable[Mapping[str, Any]] = (),
) -> str:
    from pytest_llmbudget.summary import record_json

    return json.dumps(
        {
            "records": [
                {
                    **record_json(record),
                    "nodeid": record.nodeid,
                    "cassette": record.cassette,
                    "url": record.url,
                    "cost_usd": str(record.cost_usd),
                    "duration_s": record.duration_s,
                }
                for record in records
            ],
            "violations": list(violations),
            "token_counter": token_counter,
            "drift": list(drift),
            "appended": list(appended),
        }
    )


def load(payload: str) -> WorkerResult:
    from pytest_llmbudget.report.jsonreport import record_from_json

    document = json.loads(payload)
    records = []
    for raw in document["records"]:
        record = record_from_json(raw, raw["nodeid"], raw.get("cassette"))
        record.url = str(raw.get("url", ""))
        records.append(record)
    return WorkerResult(
        records,
        list(document["violations"]),
        str(document.get("token_counter", "")),
        drift=list(document.get("drift", [])),
        appended=list(document.get("appended", [])),
    )


def in_collection_order(records: list[CallRecord], order: Sequence[str]) -> list[CallRecord]:
    """Stable: a test's own calls keep their order; unknown ids go last."""
    position = {nodeid: index for index, nodeid in enumerate(order)}
    last = len(position)
    return sorted(records, key=lambda record: position.get(record.nodeid, last))


def merge_violations(found: Iterable[dict[str, Any]], order: Sequence[str]) -> list[dict[str, Any]]:
    """Every worker's violations as a serial run lists them.

    Run-wide ones first and once (a serial run's gate reports them before
    the tests' own), then the tests' in collection order.
    """
    position = {nodeid: index for index, nodeid in enumerate(order)}
    merged: list[dict[str, Any]] = []
    seen: set[str] = set()

    def rank(entry: Mapping[str, Any]) -> tuple[bool, int]:
        where = position.get(entry.get("nodeid") or "", len(position))
        return (str(entry.get("kind")) not in RUN_WIDE, where)

    ranked = sorted(found, key=rank)
    for entry in ranked:
        kind = str(entry.get("kind"))
        if kind in RUN_WIDE:
            if kind in seen:
                continue
            seen.add(kind)
        merged.append(entry)
    return merged
