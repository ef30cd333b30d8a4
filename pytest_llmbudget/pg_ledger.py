"""The ledger on PostgreSQL: one daily budget for every CI runner and laptop of a team.

A SQLite ledger is one file per machine, so a daily budget that each machine
counts alone is no budget for a CI matrix. On PostgreSQL every run, on every
host, writes its live calls to one table and is admitted against it: each
live call is admitted inside one transaction that first takes a
transaction-scoped advisory lock (so admissions are serialised across
processes and hosts), then counts the run's admissions, sums the run's spend
and the other runs' spend of the last 24 hours, lets the gate decide, and
writes the admission. The spend limits overshoot by at most the calls in
flight, one per process, as with SQLite.

The tables are created on first use (under the same lock) and carry a schema
version; a newer schema than this plugin knows is refused, not written to.
psycopg 3 is imported only here, when a run or command uses such a ledger:
``pip install 'pytest-llmbudget[postgres]'``.

A server that cannot be reached, at the first live call or later, refuses the
live call with `LedgerUnavailable`, naming the server (never its password):
spend is never let through unbudgeted. Replays do not touch the ledger.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from pytest_llmbudget.errors import LedgerUnavailable

if TYPE_CHECKING:
    from pytest_llmbudget.ledger import LedgerCall
    from pytest_llmbudget.records import CallRecord

SCHEMA_VERSION = 1
SCHEMA = (
    "CREATE TABLE IF NOT EXISTS llmbudget_schema (version INTEGER NOT NULL)",
    """CREATE TABLE IF NOT EXISTS llmbudget_calls (
        id BIGSERIAL PRIMARY KEY,
        ts TIMESTAMPTZ NOT NULL,
        run_id TEXT NOT NULL,
        nodeid TEXT NOT NULL,
        provider TEXT NOT NULL,
        model TEXT,
        endpoint TEXT NOT NULL,
        status INTEGER NOT NULL,
        input_tokens BIGINT NOT NULL,
        output_tokens BIGINT NOT NULL,
        cost_usd NUMERIC NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS llmbudget_calls_ts ON llmbudget_calls (ts)",
    "CREATE INDEX IF NOT EXISTS llmbudget_calls_run ON llmbudget_calls (run_id)",
    """CREATE TABLE IF NOT EXISTS llmbudget_admissions (
        run_id TEXT NOT NULL,
        ts TIMESTAMPTZ NOT NULL,
        nodeid TEXT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS llmbudget_admissions_run ON llmbudget_admissions (run_id)",
)
# The advisory lock every admission and the schema set-up take ("llmb").
LOCK_KEY = 0x6C6C6D62
# Admissions only matter while their run lasts; older ones are dropped on open.
KEEP = dt.timedelta(days=2)

# Decides on one call from the run's admissions and spend so far and the other runs'
# spend of the last 24 hours; raises to refuse (shared_gate.Check).
Check = Callable[[int, Decimal, Decimal | None], None]


def shown(url: str) -> str:
    """The URL as messages show it: the password hidden."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.password:
        return url.replace(f":{parts.password}@", ":***@", 1)
    return url


def _server(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    host = parts.hostname or "localhost"
    return f"{host}:{parts.port or 5432}{parts.path or ''}"


def connect(url: str) -> Any:
    """An autocommit connection to the ledger's server, its tables ready."""
    __tracebackhide__ = True
    try:
        import psycopg
    except ImportError:
        raise LedgerUnavailable(
            f"--llm-ledger {shown(url)}: a PostgreSQL ledger needs psycopg: "
            "pip install 'pytest-llmbudget[postgres]'"
        ) from None
    try:
        connection = psycopg.connect(url, autocommit=True, connect_timeout=10)
    except psycopg.Error as error:
        raise unavailable(url, error) from None
    try:
        _set_up(connection, url)
    except BaseException:
        connection.close()
        raise
    return connection


def unavailable(url: str, error: BaseException) -> LedgerUnavailable:
    from urllib.parse import urlsplit

    first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    password = urlsplit(url).password
    if password:
        first = first.replace(password, "***")
    return LedgerUnavailable(
        f"the team ledger at {_server(url)} cannot be used ({first}): live calls are "
        "refused until it can; replays go on"
    )


def _set_up(connection: Any, url: str) -> None:
    __tracebackhide__ = True
    with connection.transaction():
        connection.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
        for statement in SCHEMA:
            connection.execute(statement)
        row = connection.execute("SELECT max(version) FROM llmbudget_schema").fetchone()
        version = row[0] if row else None
        if version is None:
            connection.execute(
                "INSERT INTO llmbudget_schema (version) VALUES (%s)", (SCHEMA_VERSION,)
            )
        elif version > SCHEMA_VERSION:
            raise LedgerUnavailable(
                f"the team ledger at {_server(url)} has schema version {version}, written by "
                f"a newer pytest-llmbudget (this one knows {SCHEMA_VERSION}): upgrade it"
            )


class _Connected:
    """One connection, opened at first use, guarded for the run's threads."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._lock = threading.Lock()
        self._connection: Any = None

    @contextmanager
    def _db(self) -> Iterator[Any]:
        __tracebackhide__ = True
        with self._lock:
            if self._connection is None:
                self._connection = connect(self.url)
                self._opened(self._connection)
            try:
                yield self._connection
            except LedgerUnavailable:
                raise
            except Exception as error:
                import psycopg

                if not isinstance(error, psycopg.Error):
                    raise
                self._drop()
                raise unavailable(self.url, error) from None

    def _opened(self, connection: Any) -> None:
        """Called once the connection is ready."""

    def _drop(self) -> None:
        try:
            self._connection.close()
        finally:
            self._connection = None

    def close(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._drop()


class PgLedger(_Connected):
    """`ledger.Ledger` on PostgreSQL: the live calls of every run, on every host."""

    def __init__(self, url: str, run_id: str) -> None:
        super().__init__(url)
        self.run_id = run_id

    def add(self, record: CallRecord, when: dt.datetime | None = None) -> None:
        __tracebackhide__ = True
        moment = when or dt.datetime.now(dt.UTC)
        with self._db() as db:
            db.execute(
                "INSERT INTO llmbudget_calls (ts, run_id, nodeid, provider, model, endpoint,"
                " status, input_tokens, output_tokens, cost_usd)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (
                    moment,
                    self.run_id,
                    record.nodeid,
                    record.provider,
                    record.model,
                    record.endpoint,
                    record.status,
                    record.usage.input_tokens,
                    record.usage.output_tokens,
                    record.cost_usd,
                ),
            )

    def spent_since(self, since: dt.datetime, *, exclude_run: bool = True) -> Decimal:
        __tracebackhide__ = True
        with self._db() as db:
            row = db.execute(
                "SELECT COALESCE(sum(cost_usd), 0) FROM llmbudget_calls"
                " WHERE ts >= %s AND (NOT %s OR run_id <> %s)",
                (since, exclude_run, self.run_id),
            ).fetchone()
        return Decimal(row[0])

    def spent_last_day(self) -> Decimal:
        return self.spent_since(dt.datetime.now(dt.UTC) - dt.timedelta(hours=24))


class PgAdmissions(_Connected):
    """`shared_gate.SharedAdmissions` on PostgreSQL: atomic across processes and hosts."""

    def __init__(self, url: str, run_id: str) -> None:
        super().__init__(url)
        self.run_id = run_id

    def _opened(self, connection: Any) -> None:
        connection.execute(
            "DELETE FROM llmbudget_admissions WHERE ts < %s", (dt.datetime.now(dt.UTC) - KEEP,)
        )

    def admit(self, nodeid: str, check: Check, *, daily: bool = False) -> None:
        """Admit one live call if ``check`` accepts the state; one transaction, serialised."""
        __tracebackhide__ = True
        with self._db() as db, db.transaction():
            db.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
            (calls,) = db.execute(
                "SELECT count(*) FROM llmbudget_admissions WHERE run_id = %s", (self.run_id,)
            ).fetchone()
            (spend,) = db.execute(
                "SELECT COALESCE(sum(cost_usd), 0) FROM llmbudget_calls WHERE run_id = %s",
                (self.run_id,),
            ).fetchone()
            others = None
            if daily:
                since = dt.datetime.now(dt.UTC) - dt.timedelta(hours=24)
                (others,) = db.execute(
                    "SELECT COALESCE(sum(cost_usd), 0) FROM llmbudget_calls"
                    " WHERE ts >= %s AND run_id <> %s",
                    (since, self.run_id),
                ).fetchone()
            check(int(calls), Decimal(spend), None if others is None else Decimal(others))
            db.execute(
                "INSERT INTO llmbudget_admissions (run_id, ts, nodeid) VALUES (%s, %s, %s)",
                (self.run_id, dt.datetime.now(dt.UTC), nodeid),
            )


def read_calls(url: str, since: dt.date) -> tuple[list[LedgerCall], int]:
    """`ledger.read_calls` on PostgreSQL: the calls since ``since``, and how many in all."""
    __tracebackhide__ = True
    from pytest_llmbudget.ledger import LedgerCall

    reader = _Connected(url)
    try:
        with reader._db() as db:
            start = dt.datetime.combine(since, dt.time(), tzinfo=dt.UTC)
            rows = db.execute(
                "SELECT ts, provider, COALESCE(model, '(unknown)'), input_tokens,"
                " output_tokens, cost_usd FROM llmbudget_calls WHERE ts >= %s ORDER BY ts",
                (start,),
            ).fetchall()
            (total,) = db.execute("SELECT count(*) FROM llmbudget_calls").fetchone()
    finally:
        reader.close()
    calls = [
        LedgerCall(
            ts.astimezone(dt.UTC).date().isoformat(),
            str(provider),
            str(model),
            int(inputs),
            int(outputs),
            Decimal(cost),
        )
        for ts, provider, model, inputs, outputs, cost in rows
    ]
    return calls, int(total)


# One ledger row as both stores keep it: ts, run, test, provider, model, endpoint, status,
# input tokens, output tokens, cost.
Row = tuple[dt.datetime, str, str, str, str | None, str, int, int, int, Decimal]


def copy_calls(url: str, rows: list[Row]) -> tuple[int, int]:
    """Add ``rows`` to the team ledger in one transaction; a row already there (same time,
    run and test) is skipped, so copying twice adds nothing. (copied, skipped)."""
    __tracebackhide__ = True
    writer = _Connected(url)
    copied = 0
    try:
        with writer._db() as db, db.transaction():
            db.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
            for row in rows:
                cursor = db.execute(
                    "INSERT INTO llmbudget_calls (ts, run_id, nodeid, provider, model, endpoint,"
                    " status, input_tokens, output_tokens, cost_usd)"
                    " SELECT %s, %s, %s, %s, %s, %s, %s, %s, %s, %s WHERE NOT EXISTS ("
                    " SELECT 1 FROM llmbudget_calls WHERE ts = %s AND run_id = %s AND nodeid = %s)",
                    (*row, row[0], row[1], row[2]),
                )
                copied += cursor.rowcount
    finally:
        writer.close()
    return copied, len(rows) - copied
