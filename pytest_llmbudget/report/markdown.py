"""The run as Markdown: GitHub's job summary and ``llmbudget report --format markdown``.

Totals and violations come first because GitHub folds nothing and readers
stop early; long tables go in ``<details>``. GitHub refuses a step summary
over 1 MiB, so tables stop, with a note, before the text reaches ``max_bytes``.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from decimal import Decimal

from pytest_llmbudget.report.formatting import count, per_provider, percent, plural, usd
from pytest_llmbudget.summary import RunSummary

MAX_BYTES = 256 * 1024
_MARKDOWN_SPECIALS = str.maketrans({c: "\\" + c for c in "\\`*_[]|#"})


def cell(text: object) -> str:
    """Text that stays inside one table cell and renders as typed."""
    flat = " ".join(str(text).split())
    return html.escape(flat, quote=False).translate(_MARKDOWN_SPECIALS)


def _row(values: Iterable[object]) -> str:
    return "| " + " | ".join(str(value) for value in values) + " |"


def _table(header: Sequence[str], align: str) -> list[str]:
    marks = [":--" if a == "l" else "--:" for a in align]
    return [_row(header), _row(marks)]


def render(summary: RunSummary, *, title: str = "LLM budget", max_bytes: int = MAX_BYTES) -> str:
    t = summary.totals
    lines = [f"## {title}", ""]
    if summary.empty:
        lines.append("No LLM calls were made.")
        return "\n".join(lines) + "\n"
    violations = summary.violations
    verdict = (
        f"**:x: {len(violations)} budget violation{'s' if len(violations) != 1 else ''}**"
        if violations
        else "**:white_check_mark: within budget**"
    )
    lines += [verdict, ""]
    budget = summary.limits.get("budget_usd")
    used = f"{percent(t.spend_usd, Decimal(str(budget)))} of {usd(budget)}" if budget else "-"
    lines += _table(
        [
            "calls",
            "live",
            "replayed",
            "input tokens",
            "output tokens",
            "spend",
            "cost",
            "saved",
            "budget used",
        ],
        "rrrrrrrrr",
    )
    lines.append(
        _row(
            [
                count(t.calls),
                count(t.live_calls),
                count(t.replayed_calls),
                count(t.input_tokens),
                count(t.output_tokens),
                usd(t.spend_usd),
                usd(t.cost_usd),
                usd(t.saved_usd),
                used,
            ]
        )
    )
    lines.append("")
    if violations:
        lines.append("### Violations")
        lines.append("")
        for entry in violations:
            where = f" ({cell(entry['nodeid'])})" if entry.get("nodeid") else ""
            lines.append(f"- **{cell(entry['kind'])}**: {cell(entry['message'])}{where}")
        lines.append("")
    notes = _notes(summary)
    if notes:
        lines += [*notes, ""]
    text = "\n".join(lines) + "\n"
    budget_left = max_bytes - len(text.encode()) - 1024  # room for the closing notes
    for section in (_models(summary), _files(summary), _tests(summary), _slowest(summary)):
        chunk, budget_left = _fit(section, budget_left)
        text += chunk
    return text


def _notes(summary: RunSummary) -> list[str]:
    notes: list[str] = []
    for provider, calls in per_provider(summary.quota_errors):
        notes.append(
            f"- :no_entry: **quota exhausted at {cell(provider)}**: "
            f"{plural(calls, 'call')} refused for lack of credit"
        )
    for provider, calls in per_provider(summary.rate_limited):
        notes.append(f"- rate limited at {cell(provider)}: {plural(calls, 'call')}")
    for item in summary.unknown_models:
        notes.append(
            f"- :warning: unknown model **{cell(item['provider'])} {cell(item['model'])}** "
            f"({plural(item['calls'], 'call')}, priced $0): add it to `llm_prices`"
        )
    if summary.estimated_calls:
        notes.append(
            f"- {plural(summary.estimated_calls, 'call')} stated no usage: tokens estimated"
            + (f" with {cell(summary.token_counter)}" if summary.token_counter else "")
        )
    return notes


Section = tuple[str, list[str], list[str], int]  # summary line, header lines, rows, total rows


def _models(summary: RunSummary) -> Section:
    header = _table(
        ["provider", "model", "calls", "live", "input tokens", "output tokens", "cost", "spend"],
        "llrrrrrr",
    )
    rows = [
        _row(
            [
                cell(m.provider),
                cell(m.model),
                count(m.totals.calls),
                count(m.totals.live_calls),
                count(m.totals.input_tokens),
                count(m.totals.output_tokens),
                usd(m.totals.cost_usd),
                usd(m.totals.spend_usd),
            ]
        )
        for m in summary.models
    ]
    return f"Models ({len(rows)})", header, rows, len(rows)


def _files(summary: RunSummary) -> Section:
    header = _table(["test file", "tests", "calls", "live", "cost", "spend"], "lrrrrr")
    rows = [
        _row(
            [
                cell(f.path),
                count(f.tests),
                count(f.totals.calls),
                count(f.totals.live_calls),
                usd(f.totals.cost_usd),
                usd(f.totals.spend_usd),
            ]
        )
        for f in summary.files
    ]
    return f"Test files by cost ({len(rows)})", header, rows, len(rows)


def _tests(summary: RunSummary) -> Section:
    header = _table(["test", "outcome", "calls", "live", "cost", "spend"], "llrrrr")
    rows = [
        _row(
            [
                cell(test.nodeid),
                cell(test.outcome),
                count(test.totals.calls),
                count(test.totals.live_calls),
                usd(test.totals.cost_usd),
                usd(test.totals.spend_usd),
            ]
        )
        for test in summary.tests
    ]
    return f"Tests by cost ({len(rows)})", header, rows, len(rows)


def _slowest(summary: RunSummary) -> Section:
    live = sorted((r for r in summary.records if r.live), key=lambda r: -r.duration_s)[:20]
    header = _table(["seconds", "test", "endpoint"], "rll")
    rows = [_row([f"{r.duration_s:.2f}", cell(r.nodeid), cell(r.endpoint)]) for r in live]
    return "Slowest live calls", header, rows, len(rows)


def _fit(section: Section, budget: int) -> tuple[str, int]:
    """The section in ``<details>``, as many rows as the byte budget allows."""
    title, header, rows, total = section
    if not rows:
        return "", budget
    opening = f"<details><summary>{title}</summary>\n\n" + "\n".join(header) + "\n"
    closing = "\n</details>\n\n"
    used = len(opening.encode()) + len(closing.encode()) + 200
    if used > budget:
        return "", budget
    kept: list[str] = []
    for row in rows:
        size = len(row.encode()) + 1
        if used + size > budget:
            break
        kept.append(row)
        used += size
    body = "\n".join(kept)
    if len(kept) < total:
        body += f"\n\n... and {count(total - len(kept))} more (see the JSON report)"
    return opening + body + closing, budget - used
