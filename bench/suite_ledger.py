"""Suite 6: what the ledger costs a live call, on SQLite and on a team's PostgreSQL.

Every live call is admitted (one transaction: the run's calls and spend, the
other runs' spend of the last 24 hours, the admission written) and then
written to the ledger. This times that pair, in process, against a local
SQLite file and against a throw-away PostgreSQL server on the loopback
(tests/pgserver.py). A real team server sits across a network: add its round
trips (eight per call: the admission's transaction, and the row) to the
PostgreSQL figure.
"""

from __future__ import annotations

import datetime as dt
import statistics
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from harness import load_tests_module, progress
from report import Section


@dataclass(frozen=True)
class Options:
    calls: int
    repeat: int


def _accept(calls: int, spend: Decimal, others: Decimal | None) -> None:
    """A gate with room: every call admitted."""


def _time_calls(admissions: Any, ledger: Any, calls: int) -> float:
    """Seconds per live call: one admission with the daily check, one ledger row."""
    record = load_tests_module("helpers").chat_record("bench::test", "0.0001")
    admissions.admit("bench::warm", _accept, daily=True)  # connect and set up first
    started = time.perf_counter()
    for _ in range(calls):
        admissions.admit("bench::test", _accept, daily=True)
        ledger.add(record)
    return (time.perf_counter() - started) / calls


def run(root: Path, options: Options) -> Section:
    from pytest_llmbudget.ledger import Ledger
    from pytest_llmbudget.shared_gate import SharedAdmissions

    section = Section(
        title="6. The ledger's work per live call",
        note=(
            f"One admission (with the daily-budget read) and one ledger row, {options.calls} "
            f"calls in a row, median of {options.repeat} runs; in process, the server on the "
            "loopback. A team server across a network adds its round trips: eight per call."
        ),
        header=["ledger", "per live call (ms)"],
    )
    results: dict[str, list[float]] = {"SQLite (WAL, local file)": []}
    for n in range(options.repeat):
        path = root / f"ledger-{n}.sqlite"
        shared, ledger = SharedAdmissions(path, f"run-{n}"), Ledger(path, f"run-{n}")
        try:
            results["SQLite (WAL, local file)"].append(_time_calls(shared, ledger, options.calls))
        finally:
            shared.close()
            ledger.close()
    pgserver = load_tests_module("pgserver")
    if pgserver.server_binaries() is None:
        progress("suite 6: no PostgreSQL server binaries: SQLite only")
    else:
        from pytest_llmbudget.pg_ledger import PgAdmissions, PgLedger

        name = "PostgreSQL (advisory lock, loopback)"
        results[name] = []
        progress("suite 6: starting a throw-away PostgreSQL server ...")
        with pgserver.running_server() as url:
            for n in range(options.repeat):
                gate, store = PgAdmissions(url, f"run-{n}"), PgLedger(url, f"run-{n}")
                try:
                    results[name].append(_time_calls(gate, store, options.calls))
                finally:
                    gate.close()
                    store.close()
    for name, samples in results.items():
        section.rows.append([name, f"{statistics.median(samples) * 1000:.2f}"])
    progress(f"suite 6: done ({dt.datetime.now(dt.UTC):%H:%M:%S} UTC)")
    return section
