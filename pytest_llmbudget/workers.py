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
from typing import Any

from pytest_llmbudget.records import CallRecord

KEY = "llmbudget"
# Run-wide limits are reported once, whichever worker hit them first.
RUN_WIDE = frozenset({"budget", "max_calls", "daily_budget"})


def dump(records: Iterable[CallRecord], violations: Iterable[Mapping[str, Any]]) -> str:
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
        }
    )


def load(payload: str) -> tuple[list[CallRecord], list[dict[str, Any]]]:
    from pytest_llmbudget.report.jsonreport import record_from_json

    document = json.loads(payload)
    records = []
    for raw in document["records"]:
        record = record_from_json(raw, raw["nodeid"], raw.get("cassette"))
        record.url = str(raw.get("url", ""))
        records.append(record)
    return records, list(document["violations"])


def in_collection_order(records: list[CallRecord], order: Sequence[str]) -> list[CallRecord]:
    """Stable: a test's own calls keep their order; unknown ids go last."""
    position = {nodeid: index for index, nodeid in enumerate(order)}
    last = len(position)
    return sorted(records, key=lambda record: position.get(record.nodeid, last))


def merge_violations(found: Iterable[dict[str, Any]], order: Sequence[str]) -> list[dict[str, Any]]:
    """Every worker's violations, run-wide ones once, in collection order of their tests."""
    position = {nodeid: index for index, nodeid in enumerate(order)}
    merged: list[dict[str, Any]] = []
    seen: set[str] = set()
    ranked = sorted(found, key=lambda v: position.get(v.get("nodeid") or "", len(position)))
    for entry in ranked:
        kind = str(entry.get("kind"))
        if kind in RUN_WIDE:
            if kind in seen:
                continue
            seen.add(kind)
        merged.append(entry)
    return merged
