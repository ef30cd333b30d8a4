"""Run-wide live-call admissions shared by the processes of one run (pytest-xdist workers).

Each worker is its own process with its own in-memory gate, so ``-n 8
--llm-max-calls=10`` would allow 80 calls and ``--llm-budget`` eight
budgets. The workers of one run already share the ledger file (same rootdir,
same options) and one run id (the controller hands its own to every worker:
not xdist's ``testrunuid``, which users pin across runs), so the ledger is
where they meet: every live call is admitted inside one ``BEGIN IMMEDIATE``
transaction that counts the run's admissions and sums the spend the run's
finished calls wrote to the ledger, lets the gate decide, and writes the
admission. SQLite serialises those transactions across processes, so the
call limit is exact and the spend limit overshoots by at most the calls
still in flight: one per worker, as in a single process with one thread.

The controller was the other option: it would have to answer each worker's
request for a call while the worker waits, over xdist's one-way channel;
SQLite gives the same guarantee with a few hundred microseconds per live
call, which a live call (hundreds of milliseconds) does not notice.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Iterable
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from pytest_llmbudget.ledger import open_for_writing, utc_stamp

if TYPE_CHECKING:
    import sqlite3

SCHEMA = """
CREATE TABLE IF NOT EXISTS admissions (
    run_id TEXT NOT NULL,
    ts TEXT NOT NULL,
    nodeid TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS admissions_run ON admissions (run_id);
CREATE INDEX IF NOT EXISTS calls_run ON calls (run_id);
"""
# Admissions only matter while their run lasts; older ones are dropped on open.
KEEP = dt.timedelta(days=2)

# Decides on one call from the run's admissions and spend so far (and the other
# runs' spend of the last 24 hours, when asked for); raises to refuse.
Check = Callable[[int, Decimal, Decimal | None], None]


class Admissions(Protocol):
    """What the run gate asks of a shared admission store (this one, or pg_ledger's)."""

    def admit(self, nodeid: str, check: Check, *, daily: bool = False) -> None: ...

    def close(self) -> None: ...


def _total(rows: Iterable[tuple[str]]) -> Decimal:
    return sum((Decimal(cost) for (cost,) in rows), Decimal(0))


class SharedAdmissions:
    """The live-call count and spend of one run, as every process of the run sees them."""

    def __init__(self, ledger_path: Path, run_id: str) -> None:
        self.path = ledger_path
        self.run_id = run_id
        self._lock = threading.Lock()
        self._connection: sqlite3.Connection | None = None

    def _db(self) -> sqlite3.Connection:
        if self._connection is None:
            connection = open_for_writing(self.path, SCHEMA, timeout=60)
            cutoff = (dt.datetime.now(dt.UTC) - KEEP).isoformat()
            connection.execute("DELETE FROM admissions WHERE ts < ?", (cutoff,))
            self._connection = connection
        return self._connection

    def admit(self, nodeid: str, check: Check, *, daily: bool = False) -> None:
        """Admit one live call if ``check`` accepts the run's state; atomic across processes.

        With ``daily``, the other runs' spend of the last 24 hours is read in the
        same transaction: reading it through the ledger's own connection while
        this one holds the write lock would wait for a writer that waits for us.
        """
        __tracebackhide__ = True
        with self._lock:
            db = self._db()
            db.execute("BEGIN IMMEDIATE")
            try:
                (calls,) = db.execute(
                    "SELECT COUNT(*) FROM admissions WHERE run_id = ?", (self.run_id,)
                ).fetchone()
                spend = _total(
                    db.execute("SELECT cost_usd FROM calls WHERE run_id = ?", (self.run_id,))
                )
                others = None
                if daily:
                    since = utc_stamp(dt.datetime.now(dt.UTC) - dt.timedelta(hours=24))
                    others = _total(
                        db.execute(
                            "SELECT cost_usd FROM calls WHERE ts >= ? AND run_id != ?",
                            (since, self.run_id),
                        )
                    )
                check(int(calls), spend, others)
                db.execute(
                    "INSERT INTO admissions (run_id, ts, nodeid) VALUES (?, ?, ?)",
                    (self.run_id, dt.datetime.now(dt.UTC).isoformat(), nodeid),
                )
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise

    def close(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None
