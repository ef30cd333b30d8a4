"""``llmbudget``: the command line around the plugin's reports, cassettes and ledger.

Exit status for every command: 0 fine, 1 a violation or finding, 2 a usage
error (bad arguments, a missing or unreadable file). Each command lives in
its own function; heavy modules are imported by the command that needs them.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from decimal import Decimal
from pathlib import Path

from pytest_llmbudget import __version__
from pytest_llmbudget.summary import RunSummary

OK, FINDING, USAGE = 0, 1, 2
FORMATS = ("text", "markdown", "json")


class UsageProblemError(Exception):
    """A problem with what the user asked for: reported on stderr, exit 2."""


def _usd(text: str) -> Decimal:
    import pytest

    from pytest_llmbudget.settings import parse_usd

    try:
        return parse_usd(text, "USD")
    except pytest.UsageError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _print_summary(summary: RunSummary, fmt: str, verbose: int, title: str) -> None:
    from pytest_llmbudget.report import markdown, terminal
    from pytest_llmbudget.summary import to_json

    if fmt == "json":
        print(json.dumps(to_json(summary), indent=2))
    elif fmt == "markdown":
        print(markdown.render(summary), end="")
    else:
        print(f"LLM budget: {title}")
        terminal.render(summary, print, verbose=verbose)


def _read(paths: Sequence[str]) -> list[tuple[str, dict[str, object]]]:
    from pytest_llmbudget.report.jsonreport import ReportError, load

    loaded = []
    for name in paths:
        try:
            loaded.append((name, load(Path(name))))
        except ReportError as error:
            raise UsageProblemError(str(error)) from None
    return loaded


def cmd_report(args: argparse.Namespace) -> int:
    """Print a saved ``--llm-report`` file; exit 1 when it holds a violation."""
    from pytest_llmbudget.report.jsonreport import ReportError, summary_of

    [(name, document)] = _read([args.report])
    try:
        summary = summary_of(document, name)
    except ReportError as error:
        raise UsageProblemError(str(error)) from None
    _print_summary(summary, args.format, args.verbose, name)
    return FINDING if summary.violations else OK


def cmd_merge(args: argparse.Namespace) -> int:
    """Add up the reports of several jobs; exit 1 on any violation, theirs or the sum's."""
    from pytest_llmbudget.merge import merge
    from pytest_llmbudget.report.jsonreport import ReportError, write

    documents = _read(args.reports)
    try:
        summary = merge(documents, budget_usd=args.budget, max_cost_usd=args.max_cost)
    except ReportError as error:
        raise UsageProblemError(str(error)) from None
    if args.output is not None:
        write(summary, Path(args.output))
    _print_summary(summary, args.format, args.verbose, f"{len(documents)} reports merged")
    return FINDING if summary.violations else OK


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog="llmbudget",
        description="Reports, cassettes and the spend ledger of pytest-llmbudget.",
        epilog="Exit status: 0 fine, 1 a violation or finding, 2 a usage error.",
    )
    root.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = root.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(
        name: str, run: Callable[[argparse.Namespace], int], text: str
    ) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=text, description=text)
        sub.set_defaults(run=run)
        return sub

    report = command("report", cmd_report, "Print a saved --llm-report JSON file.")
    report.add_argument("report", metavar="REPORT.json")
    report.add_argument("--format", choices=FORMATS, default="text")
    report.add_argument("-v", "--verbose", action="count", default=0, help="more rows")

    merge = command("merge", cmd_merge, "Add up reports from several jobs (CI matrix, shards).")
    merge.add_argument("reports", metavar="REPORT.json", nargs="+")
    merge.add_argument("-o", "--output", metavar="OUT", help="write the merged JSON report here")
    merge.add_argument(
        "--budget", type=_usd, metavar="USD", help="fail if the total live spend exceeds USD"
    )
    merge.add_argument(
        "--max-cost",
        type=_usd,
        metavar="USD",
        help="fail if the total cost, replayed included, exceeds USD",
    )
    merge.add_argument("--format", choices=FORMATS, default="text", help="how to print the sum")
    merge.add_argument("-v", "--verbose", action="count", default=0, help="more rows")
    return root


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        status: int = args.run(args)
    except UsageProblemError as error:
        print(f"llmbudget {args.command}: error: {error}", file=sys.stderr)
        return USAGE
    except BrokenPipeError:  # `llmbudget report r.json | head`
        sys.stderr.close()
        return OK
    return status


if __name__ == "__main__":
    sys.exit(main())
