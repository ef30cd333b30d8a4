"""``llmbudget history``: live spend per day and per model, from the ledger every run writes.

The ledger is only read, never created or changed (see ``ledger.read_calls``).
Days are UTC calendar days, the ledger's own clock: ``--days 1`` is today.
"""

from __future__ import annotations

import argparse
import datetime as dt
from collections.abc import Iterable, Sequence
from decimal import Decimal
from pathlib import Path

from pytest_llmbudget import ledger
from pytest_llmbudget.cli.common import OK, Commands, UsageProblemError
from pytest_llmbudget.cli.project import add_rootdir_option, find_project
from pytest_llmbudget.ledger import LedgerCall, Spend, first_day

DEFAULT_LEDGER = Path(".llmbudget") / "ledger.sqlite"
DEFAULT_DAYS = 7


def read_calls(path: Path | str, since: dt.date) -> tuple[list[LedgerCall], int]:
    """The ledger's calls since ``since``; `UsageProblemError` naming a file that is no ledger,
    or a team ledger (a PostgreSQL URL) that cannot be read."""
    if isinstance(path, str):
        from pytest_llmbudget import pg_ledger
        from pytest_llmbudget.errors import LedgerUnavailable

        try:
            return pg_ledger.read_calls(path, since)
        except LedgerUnavailable as error:
            raise UsageProblemError(str(error)) from None
    try:
        return ledger.read_calls(path, since)
    except ledger.LedgerReadError as error:
        raise UsageProblemError(str(error)) from None


def _per_model(calls: Iterable[LedgerCall]) -> dict[tuple[str, str], Spend]:
    per_model: dict[tuple[str, str], Spend] = {}
    for call in calls:
        per_model.setdefault((call.provider, call.model), Spend()).add(call)
    return per_model


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


def _print_history(calls: list[LedgerCall]) -> None:
    from pytest_llmbudget.report.formatting import count, usd

    per_day, per_model = ledger.spend_per_day(calls), _per_model(calls)
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


def _ledger_path(args: argparse.Namespace) -> Path | str | None:
    """The ledger to read (a file, or a team ledger's URL); None when the default file does
    not exist yet."""
    from pytest_llmbudget.settings import is_database_url, ledger_file, ledger_value

    given = ledger_value(args.ledger) or None
    if given is not None and is_database_url(given):
        return given
    rootdir = find_project(rootdir=args.rootdir).rootdir
    if given is not None:
        args.ledger = given
        try:
            # relative to the rootdir, as --llm-ledger takes it
            path = ledger_file(rootdir, args.ledger) or rootdir / DEFAULT_LEDGER
        except ValueError as error:
            raise UsageProblemError(f"--ledger: {error}") from None
        if not path.is_file():
            where = "" if Path(args.ledger).is_absolute() else f" ({path})"
            raise UsageProblemError(f"--ledger {args.ledger}: no such file{where}")
        return path
    path = rootdir / DEFAULT_LEDGER
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
    shown = path
    if isinstance(path, str):
        from pytest_llmbudget.pg_ledger import shown as hidden_password

        shown = hidden_password(path)
    print(f"Live LLM spend {window} (UTC, since {since}), from {shown}:")
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
    try:
        first_day(value)
    except OverflowError:
        raise argparse.ArgumentTypeError(
            f"{text!r} days reach back before the year 1; ask for fewer"
        ) from None
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
        help="the ledger file, as given to --llm-ledger: a relative PATH is taken from the "
        "rootdir, not the current folder (default: .llmbudget/ledger.sqlite under the rootdir)",
    )
    add_rootdir_option(history)
