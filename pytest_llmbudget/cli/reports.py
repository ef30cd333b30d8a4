"""``llmbudget report`` and ``llmbudget merge``: saved JSON reports, printed and added up."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_llmbudget.cli.common import FINDING, OK, Commands, UsageProblemError, settle, usd
from pytest_llmbudget.cli.prices import add_prices_option
from pytest_llmbudget.cli.project import add_rootdir_option
from pytest_llmbudget.summary import RunSummary

if TYPE_CHECKING:
    from pytest_llmbudget.whatif import WhatIf

FORMATS = ("text", "markdown", "json", "html")

# Limits on one run as a whole: each shard's held that shard alone, not the sum of them.
RUN_LIMITS = {
    "budget_usd": "--llm-budget",
    "max_cost_usd": "--llm-max-cost",
    "max_calls": "--llm-max-calls",
    "daily_budget_usd": "--llm-daily-budget",
}


def _print_summary(
    summary: RunSummary, fmt: str, verbose: int, title: str, what_if: Sequence[WhatIf] = ()
) -> None:
    from pytest_llmbudget.report import markdown, terminal
    from pytest_llmbudget.summary import to_json

    if fmt == "json":
        print(json.dumps(to_json(summary), indent=2))
    elif fmt == "html":
        from pytest_llmbudget.report import html

        print(html.render(summary, source=title, what_if=what_if), end="")
    elif fmt == "markdown":
        print(markdown.render(summary), end="")
    else:
        print(f"LLM budget: {title}")
        terminal.render(summary, print, verbose=verbose)


def read_reports(paths: Sequence[str]) -> list[tuple[str, dict[str, Any]]]:
    """Each path with its loaded report; a file that is not one is a usage error."""
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

    [(name, document)] = read_reports([args.report])
    try:
        summary = summary_of(document, name)
    except ReportError as error:
        raise UsageProblemError(str(error)) from None
    if args.what_if or args.format == "html":
        return _print_what_if(args, name, summary)
    status = settle(args, FINDING if summary.violations else OK)
    _print_summary(summary, args.format, args.verbose, name)
    return status


def _print_what_if(args: argparse.Namespace, name: str, summary: RunSummary) -> int:
    """The report's calls priced on other models; exit 1 when a model has no price."""
    from pytest_llmbudget.cli.prices import price_setup
    from pytest_llmbudget.cli.project import find_project
    from pytest_llmbudget.report import whatif as render
    from pytest_llmbudget.scenarios import configured, parse_scenario
    from pytest_llmbudget.whatif import what_ifs

    try:
        if args.what_if:
            scenarios = tuple(parse_scenario(text) for text in args.what_if)
        else:  # the HTML page, as pytest writes it: the project's llm_what_if models
            lines = find_project(rootdir=args.rootdir).ini_lines("llm_what_if")
            scenarios = configured(lines)
    except ValueError as error:
        raise UsageProblemError(str(error)) from None
    results = what_ifs(summary.records, scenarios, price_setup(args).book)
    if not args.what_if:  # a report's page: its status is the report's
        status = settle(args, FINDING if summary.violations else OK)
    else:
        status = settle(args, OK if all(result.known for result in results) else FINDING)
    if args.format == "json":
        document = {"report": name, "what_if": [result.as_json() for result in results]}
        print(json.dumps(document, indent=2))
    elif args.format == "markdown":
        print(render.render_markdown(results), end="")
    elif args.format == "html":
        _print_summary(summary, "html", args.verbose, name, results)
    else:
        from pytest_llmbudget.report.formatting import plural

        print(
            f"LLM cost on other models: {name} ({plural(summary.totals.calls, 'call')}, "
            "priced at today's prices from the recorded usage)"
        )
        render.render_text(results, print, rows=None if args.verbose else render.TEXT_ROWS)
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


def _without_run_limits(
    documents: list[tuple[str, dict[str, Any]]],
) -> list[tuple[str, dict[str, Any]]]:
    """The shards without their run-wide limits, and a note on stderr if any had one.

    A shard's ``--llm-budget`` capped that job's spend; the sum is not bound by
    it, so showing "budget used: 150%" of it would be a violation nobody had.
    Per-test limits hold for a test whichever shard ran it, and stay.
    """
    dropped: list[str] = []
    trimmed = []
    for name, document in documents:
        limits = document["limits"] if isinstance(document["limits"], dict) else {}
        for key, option in RUN_LIMITS.items():
            if limits.get(key) is not None and option not in dropped:
                dropped.append(option)
        kept = {key: None if key in RUN_LIMITS else value for key, value in limits.items()}
        trimmed.append((name, dict(document, limits=kept)))
    if dropped:
        print(
            f"llmbudget merge: note: the shards' own {', '.join(dropped)} limited each shard "
            "alone and are not applied to the sum; check the sum with --budget or --max-cost",
            file=sys.stderr,
        )
    return trimmed


def cmd_merge(args: argparse.Namespace) -> int:
    """Add up the reports of several jobs; exit 1 on any violation, theirs or the sum's."""
    from pytest_llmbudget.merge import merge
    from pytest_llmbudget.report.jsonreport import ReportError, write

    output = _output(args.output)
    documents = _without_run_limits(read_reports(args.reports))
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
    title = f"{len(documents)} report{'' if len(documents) == 1 else 's'} merged"
    _print_summary(summary, args.format, args.verbose, title)
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
    report.add_argument(
        "--what-if",
        action="append",
        default=[],
        metavar="MODEL|FROM=TO",
        help="print what the calls would cost on MODEL instead (or the calls to FROM on TO), "
        "per test, per file and in total; repeat for several; exit 1 when a model has no "
        "price",
    )
    add_prices_option(report)
    add_rootdir_option(report)

    merge = commands.add_parser(
        "merge",
        help="Add up reports from several jobs (CI matrix, shards).",
        description="Add up reports from several jobs (CI matrix, shards); exit 1 on any "
        "violation, a shard's or the sum's. A shard's own run limits (--llm-budget, "
        "--llm-max-cost, --llm-max-calls, --llm-daily-budget) held that shard alone and are "
        "left out of the sum; check the sum with --budget and --max-cost.",
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
