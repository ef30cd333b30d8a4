"""``llmbudget history``: live spend per day and per model, from the ledger every run writes.

The ledger is opened without the create flag and only read: looking at
history must never create a ledger or change it. (Not SQLite's read-only
mode: a read-only connection to a WAL database leaves its -wal and -shm
files behind.) WAL lets this read while a run is writing.
Days are UTC calendar days, the ledger's own clock: ``--days 1`` is today.
"""

from __future__ import annotations

import argparse
import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING

from pytest_llmbudget.cli.common import OK, Commands, UsageProblemError
from pytest_llmbudget.cli.project import add_rootdir_option, find_project

if TYPE_CHECKING:
    import sqlite3

DEFAULT_LEDGER = Path(".llmbudget") / "ledger.sqlite"
DEFAULT_DAYS = 7


@dataclass(frozen=True, slots=True)
class Call:
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

    def add(self, call: Call) -> None:
        self.calls += 1
        self.input_tokens += call.input_tokens
        self.output_tokens += call.output_tokens
        self.usd += call.cost_usd


def first_day(days: int, today: dt.date | None = None) -> dt.date:
    """The oldest UTC day of a ``days``-day window ending today."""
    today = today or dt.datetime.now(dt.UTC).date()
    return today - dt.timedelta(days=days - 1)


def _connect(path: Path) -> sqlite3.Connection:
    import sqlite3

    uri = path.resolve().as_uri() + "?mode=rw"
    return sqlite3.connect(uri, uri=True, timeout=30)


def read_calls(path: Path, since: dt.date) -> tuple[list[Call], int]:
    """The calls made on or after ``since`` (UTC), and how many the ledger holds in all.

    Raises `UsageProblemError` naming the file when it is not a readable ledger.
    """
    import sqlite3

    try:
        connection = _connect(path)
        try:
            rows = connection.execute(
                "SELECT substr(ts, 1, 10), provider, COALESCE(model, '(unknown)'),"
                " input_tokens, output_tokens, cost_usd FROM calls WHERE ts >= ?",
                (since.isoformat(),),
            ).fetchall()
            [(total,)] = connection.execute("SELECT count(*) FROM calls").fetchall()
        finally:
            connection.close()
        calls = [Call(d, p, m, int(i), int(o), Decimal(c)) for d, p, m, i, o, c in rows]
    except (sqlite3.Error, InvalidOperation, ValueError, TypeError) as error:
        raise UsageProblemError(
            f"{path}: not a readable pytest-llmbudget ledger: {error}"
        ) from None
    return calls, int(total)


def _group(calls: Iterable[Call]) -> tuple[dict[str, Spend], dict[tuple[str, str], Spend]]:
    per_day: dict[str, Spend] = {}
    per_model: dict[tuple[str, str], Spend] = {}
    for call in calls:
        per_day.setdefault(call.day, Spend()).add(call)
        per_model.setdefault((call.provider, call.model), Spend()).add(call)
    return per_day, per_model


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], numeric_from: int) -> None:
    """Text columns left-aligned, numbers right-aligned, two spaces apart."""
    lines = [header, *rows]
    widths = [max(len(line[column]) for line in lines) for column in range(len(header))]
    for line in lines:
        cells = [
            cell.rjust(width) if column >= numeric_from else cell.ljust(width)
            for column, (cell, width) in enumerate(zip(line, widths, strict=True))
        ]
        print("  " + "  ".join(cells).rstrip())


def _print_history(calls: list[Call]) -> None:
    from pytest_llmbudget.report.formatting import count, usd

    per_day, per_model = _group(calls)
    day_rows = [
        (day, count(spend.calls), usd(spend.usd))
        for day, spend in sorted(per_day.items(), reverse=True)
    ]
    model_rows = [
        (provider, model, count(s.calls), count(s.input_tokens), count(s.output_tokens), usd(s.usd))
        for (provider, model), s in sorted(per_model.items(), key=lambda item: -item[1].usd)
    ]
    print("Per day:")
    _table(("day (UTC)", "calls", "spend"), day_rows, numeric_from=1)
    print("Per model:")
    _table(
        ("provider", "model", "calls", "input tokens", "output tokens", "spend"),
        model_rows,
        numeric_from=2,
    )
    total = sum((call.cost_usd for call in calls), Decimal(0))
    print(f"Total: {count(len(calls))} live call{'s' if len(calls) != 1 else ''}, {usd(total)}.")


def _ledger_path(args: argparse.Namespace) -> Path | None:
    """The ledger to read; None when the default one does not exist yet."""
    if args.ledger is not None:
        path = Path(args.ledger)
        if not path.is_file():
            raise UsageProblemError(f"--ledger {path}: no such file")
        return path
    path = find_project(rootdir=args.rootdir).rootdir / DEFAULT_LEDGER
    if path.exists():
        return path
    print(f"No live calls recorded yet: no ledger at {path}.")
    return None


def cmd_history(args: argparse.Namespace) -> int:
    """Print the live spend of the last ``--days`` UTC days, per day and per model."""
    path = _ledger_path(args)
    if path is None:
        return OK
    since = first_day(args.days)
    calls, total = read_calls(path, since)
    window = "today" if args.days == 1 else f"in the last {args.days} days"
    print(f"Live LLM spend {window} (UTC, since {since}), from {path}:")
    if calls:
        _print_history(calls)
    else:
        older = f"{total:,} older call{'s' if total != 1 else ''}" if total else "no call"
        print(f"No live calls {window}; the ledger holds {older}.")
    return OK


def _days(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of days, 1 or more")
    return value


def register(commands: Commands) -> None:
    history = commands.add_parser(
        "history",
        help="Live spend per day and per model, from the ledger.",
        description="Print the live spend of the last N days (UTC), per day and per model, "
        "from the ledger every run writes (default: .llmbudget/ledger.sqlite under the "
        "pytest rootdir). A project without a ledger has made no live call yet: exit 0.",
    )
    history.set_defaults(run=cmd_history)
    history.add_argument(
        "--days",
        type=_days,
        default=DEFAULT_DAYS,
        metavar="N",
        help=f"today and the N-1 days before it, UTC (default: {DEFAULT_DAYS})",
    )
    history.add_argument(
        "--ledger",
        metavar="PATH",
        help="the ledger file, as given to --llm-ledger (default: .llmbudget/ledger.sqlite "
        "under the rootdir)",
    )
    add_rootdir_option(history)
