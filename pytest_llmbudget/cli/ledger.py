"""``llmbudget ledger migrate``: a machine's SQLite ledger copied into the team ledger.

A team moving to a PostgreSQL ledger keeps the history its machines already
have: the live calls of a file are added to the database once (a row already
there is skipped, so running it twice adds nothing); the file is only read.
"""

from __future__ import annotations

import argparse

from pytest_llmbudget.cli.common import OK, Commands, UsageProblemError
from pytest_llmbudget.cli.project import add_rootdir_option, find_project
from pytest_llmbudget.report.formatting import count, usd


def cmd_migrate(args: argparse.Namespace) -> int:
    from pytest_llmbudget import ledger, pg_ledger
    from pytest_llmbudget.errors import LedgerUnavailable
    from pytest_llmbudget.settings import is_database_url, ledger_file, ledger_value

    target = ledger_value(args.to)
    if not is_database_url(target):
        raise UsageProblemError(
            "--to: a postgresql:// URL is needed (or the LLMBUDGET_LEDGER environment variable)"
        )
    rootdir = find_project(rootdir=args.rootdir).rootdir
    try:
        source = ledger_file(rootdir, args.source) or rootdir / ".llmbudget" / "ledger.sqlite"
    except ValueError as error:
        raise UsageProblemError(str(error)) from None
    if not source.is_file():
        raise UsageProblemError(f"{args.source}: no such ledger file ({source})")
    try:
        rows = ledger.all_rows(source)
    except ledger.LedgerReadError as error:
        raise UsageProblemError(str(error)) from None
    try:
        copied, skipped = pg_ledger.copy_calls(target, rows)
    except LedgerUnavailable as error:
        raise UsageProblemError(str(error)) from None
    from decimal import Decimal

    spend = sum((row[-1] for row in rows), Decimal(0))
    print(
        f"Copied {count(copied)} live call{'s' if copied != 1 else ''} ({usd(spend)} in all in "
        f"{source.name}) into {pg_ledger.shown(target)}"
        + (f"; {count(skipped)} already there." if skipped else ".")
    )
    return OK


def register(commands: Commands) -> None:
    group = commands.add_parser(
        "ledger",
        help="Move a machine's ledger into the team ledger on PostgreSQL.",
        description="Commands on the spend ledger.",
    )
    actions = group.add_subparsers(dest="action", metavar="ACTION", required=True)
    migrate = actions.add_parser(
        "migrate",
        help="Copy a SQLite ledger's live calls into a PostgreSQL team ledger.",
        description="Copy every live call of a SQLite ledger (default: .llmbudget/ledger.sqlite "
        "under the rootdir) into the team ledger at --to (default: LLMBUDGET_LEDGER). Rows "
        "already there are skipped; the file is only read.",
    )
    migrate.set_defaults(run=cmd_migrate)
    migrate.add_argument(
        "source",
        nargs="?",
        default=".llmbudget/ledger.sqlite",
        type=str,
        help="the SQLite ledger, relative to the rootdir as --llm-ledger takes it",
    )
    migrate.add_argument("--to", default=None, help="the team ledger's postgresql:// URL")
    add_rootdir_option(migrate)
