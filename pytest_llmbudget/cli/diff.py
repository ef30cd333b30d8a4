"""``llmbudget diff``: two saved reports compared, for a review or a gate in CI."""

from __future__ import annotations

import argparse
import json
from decimal import Decimal

from pytest_llmbudget.cli.common import FINDING, OK, Commands, UsageProblemError, settle, usd

FORMATS = ("text", "markdown", "json")


def percent(text: str) -> Decimal:
    """An argparse type: a percentage of 0 or more (``10``, ``2.5``; a trailing % is allowed)."""
    from decimal import InvalidOperation

    try:
        value = Decimal(text.strip().removesuffix("%"))
    except InvalidOperation:
        value = Decimal(-1)
    if not value.is_finite() or value < 0:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a percentage; give a number of 0 or more, such as 10 or 2.5"
        )
    return value


def cmd_diff(args: argparse.Namespace) -> int:
    """Print what changed from BASE to HEAD; exit 1 when the cost rose past a limit."""
    from pytest_llmbudget.cli.reports import read_reports
    from pytest_llmbudget.costdiff import compare
    from pytest_llmbudget.report import diff as render
    from pytest_llmbudget.report.jsonreport import ReportError, records_of

    (base_name, base), (head_name, head) = read_reports([args.base, args.head])
    try:
        diff = compare(
            records_of(base, base_name),
            records_of(head, head_name),
            base_document=base,
            head_document=head,
        )
    except ReportError as error:
        raise UsageProblemError(str(error)) from None
    breaches = diff.breaches(args.max_increase, args.max_increase_pct)
    status = settle(args, FINDING if breaches else OK)
    if args.format == "json":
        document = diff.as_json()
        document["base_report"], document["head_report"] = base_name, head_name
        document["breaches"] = breaches
        print(json.dumps(document, indent=2))
    elif args.format == "markdown":
        print(render.render_markdown(diff, breaches=breaches), end="")
    else:
        print(f"LLM cost diff: {base_name} → {head_name}")
        render.render_text(diff, print, rows=None if args.verbose else render.TEXT_ROWS)
        for reason in breaches:
            print(f"over the limit: {reason}")
    return status


def register(commands: Commands) -> None:
    diff = commands.add_parser(
        "diff",
        help="Compare two saved reports: cost, calls and tokens per test and in total.",
        description="Compare the cost of two saved --llm-report files (say, the base "
        "branch's and a pull request's): per test and in total, cost, calls and tokens "
        "before -> after, new and removed tests, the biggest change first. Cost counts "
        "every call, replayed ones included. Exit 1 when the total cost rose past "
        "--max-increase or --max-increase-pct.",
    )
    diff.set_defaults(run=cmd_diff)
    diff.add_argument("base", metavar="BASE.json", help="the report to compare against")
    diff.add_argument("head", metavar="HEAD.json", help="the report of the change")
    diff.add_argument("--format", choices=FORMATS, default="text", help="how to print it")
    diff.add_argument(
        "--max-increase",
        type=usd,
        metavar="USD",
        help="exit 1 if the total cost rose by more than USD",
    )
    diff.add_argument(
        "--max-increase-pct",
        type=percent,
        metavar="N",
        help="exit 1 if the total cost rose by more than N percent (from $0, any rise is)",
    )
    diff.add_argument("-v", "--verbose", action="count", default=0, help="list every changed test")
