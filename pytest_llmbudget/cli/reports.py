"""``llmbudget report`` and ``llmbudget merge``: saved JSON reports, printed and added up."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

from pytest_llmbudget.cli.common import FINDING, OK, Commands, UsageProblemError, settle, usd
from pytest_llmbudget.summary import RunSummary

FORMATS = ("text", "markdown", "json", "html")


def _print_summary(summary: RunSummary, fmt: str, verbose: int, title: str) -> None:
    from pytest_llmbudget.report import markdown, terminal
    from pytest_llmbudget.summary import to_json

    if fmt == "json":
        print(json.dumps(to_json(summary), indent=2))
    elif fmt == "html":
        from pytest_llmbudget.report import html

        print(html.render(summary, source=title), end="")
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
    status = settle(args, FINDING if summary.violations else OK)
    _print_summary(summary, args.format, args.verbose, name)
    return status


def _output(name: str | None) -> Path | None:
    """Where -o writes, checked before any work: a file path, not a folder."""
    if name is None:
        return None
    if not name.strip():
        raise UsageProblemError("-o: the output path is empty")
    path = Path(name)
    if path.is_dir():
        raise UsageProblemError(f"-o {name}: is a directory; give a file path")
    return path


def cmd_merge(args: argparse.Namespace) -> int:
    """Add up the reports of several jobs; exit 1 on any violation, theirs or the sum's."""
    from pytest_llmbudget.merge import merge
    from pytest_llmbudget.report.jsonreport import ReportError, write

    output = _output(args.output)
    documents = _read(args.reports)
    try:
        summary = merge(documents, budget_usd=args.budget, max_cost_usd=args.max_cost)
    except ReportError as error:
        raise UsageProblemError(str(error)) from None
    if output is not None:
        try:
            write(summary, output)
        except OSError as error:
            raise UsageProblemError(
                f"-o {args.output}: cannot write: {error.strerror or error}"
            ) from None
    status = settle(args, FINDING if summary.violations else OK)
    _print_summary(summary, args.format, args.verbose, f"{len(documents)} reports merged")
    return status


def register(commands: Commands) -> None:
    report = commands.add_parser(
        "report",
        help="Print a saved --llm-report JSON file.",
        description="Print a saved --llm-report JSON file; exit 1 when it holds a violation.",
    )
    report.set_defaults(run=cmd_report)
    report.add_argument("report", metavar="REPORT.json")
    report.add_argument(
        "--format",
        choices=FORMATS,
        default="text",
        help="html: the page --llm-html writes, without the ledger's spend per day "
        "(redirect it to a file)",
    )
    report.add_argument("-v", "--verbose", action="count", default=0, help="more rows")

    merge = commands.add_parser(
        "merge",
        help="Add up reports from several jobs (CI matrix, shards).",
        description="Add up reports from several jobs (CI matrix, shards); exit 1 on any "
        "violation, a shard's or the sum's.",
    )
    merge.set_defaults(run=cmd_merge)
    merge.add_argument("reports", metavar="REPORT.json", nargs="+")
    merge.add_argument("-o", "--output", metavar="OUT", help="write the merged JSON report here")
    merge.add_argument(
        "--budget", type=usd, metavar="USD", help="fail if the total live spend exceeds USD"
    )
    merge.add_argument(
        "--max-cost",
        type=usd,
        metavar="USD",
        help="fail if the total cost, replayed included, exceeds USD",
    )
    merge.add_argument("--format", choices=FORMATS, default="text", help="how to print the sum")
    merge.add_argument("-v", "--verbose", action="count", default=0, help="more rows")
