"""The ledger: every live call of every run, in SQLite (WAL), for daily budgets and history.

Many pytest processes (xdist workers, parallel CI jobs on one machine) may
write at once: WAL lets readers and one writer proceed together, and a busy
timeout makes writers queue instead of failing.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import sqlite3

    from pytest_llmbudget.records import CallRecord

SCHEMA = """
CREATE TABLE IF NOT EXISTS calls (
    id INTEGER PRIMARY KEY,
    ts TEXT NOT NULL,
    run_id TEXT NOT NULL,
    nodeid TEXT NOT NULL,
    provider TEXT NOT NULL,
    model TEXT,
    endpoint TEXT NOT NULL,
    status INTEGER NOT NULL,
    input_tokens INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL,
    cost_usd TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS calls_ts ON calls (ts);
"""


def utc_stamp(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def open_for_writing(path: Path, extra_schema: str = "", timeout: float = 30) -> sqlite3.Connection:
    """A WAL connection in autocommit mode that waits its turn behind other writers.

    Two processes opening a new ledger at once (xdist workers) both try to
    switch it to WAL, and SQLite answers "database is locked" at once to the
    loser instead of waiting: setting up is retried until ``timeout``.
    """
    import sqlite3
    import time

    path.parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(
        path, timeout=timeout, check_same_thread=False, isolation_level=None
    )
    deadline = time.monotonic() + timeout
    while True:
        try:
            connection.execute(f"PRAGMA busy_timeout={int(timeout * 1000)}")
            connection.execute("PRAGMA journal_mode=WAL")
            connection.executescript(SCHEMA + extra_schema)
            return connection
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                connection.close()
                raise
            time.sleep(0.01)


class LedgerStore(Protocol):
    """What a run writes its live calls to and reads its daily spend from (a `Ledger`, or
    pg_ledger's `PgLedger`)."""

    def add(self, record: CallRecord, when: dt.datetime | None = None) -> None: ...

    def spent_last_day(self) -> Decimal: ...

    def close(self) -> None: ...


class Ledger:
    """Opened on first use: a run with no live call never touches the file."""

    def __init__(self, path: Path, run_id: str) -> None:
        self.path = path
        self.run_id = run_id
        self._lock = threading.Lock()
        self._connection: sqlite3.Connection | None = None

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            if self._connection is None:
                self._connection = open_for_writing(self.path)
            yield self._connection

    def add(self, record: CallRecord, when: dt.datetime | None = None) -> None:
        moment = when or dt.datetime.now(dt.UTC)
        with self._db() as db:
            db.execute(
                "INSERT INTO calls (ts, run_id, nodeid, provider, model, endpoint, status,"
                " input_tokens, output_tokens, cost_usd) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    utc_stamp(moment),
                    self.run_id,
                    record.nodeid,
                    record.provider,
                    record.model,
                    record.endpoint,
                    record.status,
                    record.usage.input_tokens,
                    record.usage.output_tokens,
                    str(record.cost_usd),
                ),
            )

    def spent_since(self, since: dt.datetime, *, exclude_run: bool = True) -> Decimal:
        """Live spend recorded since ``since``, by other runs unless asked otherwise."""
        with self._db() as db:
            rows = db.execute(
                "SELECT cost_usd FROM calls WHERE ts >= ? AND (? = 0 OR run_id != ?)",
                (utc_stamp(since), int(exclude_run), self.run_id),
            ).fetchall()
        return sum((Decimal(row[0]) for row in rows), Decimal(0))

    def spent_last_day(self) -> Decimal:
        return self.spent_since(dt.datetime.now(dt.UTC) - dt.timedelta(hours=24))

    def per_day(self, days: int) -> list[tuple[str, str, str, int, Decimal]]:
        """(day, provider, model, calls, spend) for the last ``days`` days, newest first."""
        since = dt.datetime.now(dt.UTC) - dt.timedelta(days=days)
        with self._db() as db:
            rows = db.execute(
                "SELECT substr(ts, 1, 10), provider, COALESCE(model, '(unknown)'), cost_usd"
                " FROM calls WHERE ts >= ?",
                (utc_stamp(since),),
            ).fetchall()
        grouped: dict[tuple[str, str, str], tuple[int, Decimal]] = {}
        for day, provider, model, cost in rows:
            calls, spend = grouped.get((day, provider, model), (0, Decimal(0)))
            grouped[(day, provider, model)] = (calls + 1, spend + Decimal(cost))
        return sorted(
            ((d, p, m, c, s) for (d, p, m), (c, s) in grouped.items()),
            key=lambda row: (row[0], -row[4]),
            reverse=False,
        )[::-1]

    def close(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None


# Reading a ledger file from outside a run (``llmbudget history``, the HTML report).
# The file is opened without the create flag and only read: looking at history must
# never create a ledger or change it. (Not SQLite's read-only mode: a read-only
# connection to a WAL database leaves its -wal and -shm files behind.) WAL lets this
# read while a run is writing. Days are UTC calendar days, the ledger's own clock.


class LedgerReadError(Exception):
    """A file that is not a readable ledger; the message names it and says why."""


@dataclass(frozen=True, slots=True)
class LedgerCall:
    """One ledger row, as much of it as history shows."""

    day: str
    provider: str
    model: str
    input_tokens: int
    output_tokens: int
    cost_usd: Decimal


@dataclass(slots=True)
class Spend:
    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    usd: Decimal = Decimal(0)

    def add(self, call: LedgerCall) -> None:
        self.calls += 1
        self.input_tokens += call.input_tokens
        self.output_tokens += call.output_tokens
        self.usd += call.cost_usd


def first_day(days: int, today: dt.date | None = None) -> dt.date:
    """The oldest UTC day of a ``days``-day window ending today."""
    today = today or dt.datetime.now(dt.UTC).date()
    return today - dt.timedelta(days=days - 1)


def read_calls(path: Path, since: dt.date) -> tuple[list[LedgerCall], int]:
    """The calls made on or after ``since`` (UTC), and how many the ledger holds in all."""
    import sqlite3

    try:
        uri = path.resolve().as_uri() + "?mode=rw"
        connection = sqlite3.connect(uri, uri=True, timeout=30)
        try:
            rows = connection.execute(
                "SELECT substr(ts, 1, 10), provider, COALESCE(model, '(unknown)'),"
                " input_tokens, output_tokens, cost_usd FROM calls WHERE ts >= ?",
                (since.isoformat(),),
            ).fetchall()
            [(total,)] = connection.execute("SELECT count(*) FROM calls").fetchall()
        finally:
            connection.close()
        calls = [LedgerCall(d, p, m, int(i), int(o), Decimal(c)) for d, p, m, i, o, c in rows]
    except (sqlite3.Error, InvalidOperation, ValueError, TypeError) as error:
        raise LedgerReadError(f"{path}: not a readable pytest-llmbudget ledger: {error}") from None
    return calls, int(total)


def spend_per_day(calls: Iterable[LedgerCall]) -> dict[str, Spend]:
    """The calls added up per UTC day (``YYYY-MM-DD``); days without a call are absent."""
    per_day: dict[str, Spend] = {}
    for call in calls:
        per_day.setdefault(call.day, Spend()).add(call)
    return per_day


def all_rows(
    path: Path,
) -> list[tuple[dt.datetime, str, str, str, str | None, str, int, int, int, Decimal]]:
    """Every row of a ledger file, for copying it into a team ledger; read, never changed."""
    import sqlite3

    try:
        connection = sqlite3.connect(path.resolve().as_uri() + "?mode=rw", uri=True, timeout=30)
        try:
            rows = connection.execute(
                "SELECT ts, run_id, nodeid, provider, model, endpoint, status, input_tokens,"
                " output_tokens, cost_usd FROM calls ORDER BY id"
            ).fetchall()
        finally:
            connection.close()
        return [
            (
                dt.datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.UTC),
                str(run),
                str(nodeid),
                str(provider),
                None if model is None else str(model),
                str(endpoint),
                int(status),
                int(inputs),
                int(outputs),
                Decimal(cost),
            )
            for ts, run, nodeid, provider, model, endpoint, status, inputs, outputs, cost in rows
        ]
    except (sqlite3.Error, InvalidOperation, ValueError, TypeError) as error:
        raise LedgerReadError(f"{path}: not a readable pytest-llmbudget ledger: {error}") from None
