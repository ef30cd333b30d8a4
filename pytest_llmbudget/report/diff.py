"""``llmbudget diff`` printed: a terminal table, and Markdown for a pull-request comment."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from pytest_llmbudget.costdiff import CostDiff, Side, TestChange
from pytest_llmbudget.report.formatting import count, plural, usd

# Rows of tests shown before "and N more": the terminal without -v, and a
# comment, which GitHub caps at 65,536 characters.
TEXT_ROWS = 20
MARKDOWN_ROWS = 50


def signed_usd(value: Decimal) -> str:
    return ("+" if value > 0 else "") + usd(value) if value else "$0.00"


def signed(value: int) -> str:
    return f"+{value:,}" if value > 0 else f"{value:,}"


def pct(value: Decimal | None) -> str:
    """``+50%``, ``-2.5%``, ``new`` when there was nothing before."""
    if value is None:
        return "new"
    digits = 1 if abs(value) < 10 else 0
    text = f"{value:+,.{digits}f}%"
    return "0%" if text in ("+0%", "-0%", "+0.0%", "-0.0%") else text


def _arrow(before: str, after: str) -> str:
    return before if before == after else f"{before} → {after}"


def _cells(change: TestChange) -> tuple[str, str, str, str, str]:
    base, head = change.base or Side(), change.head or Side()
    cost = _arrow(usd(base.cost_usd), usd(head.cost_usd))
    if change.cost_change:
        cost += f" ({signed_usd(change.cost_change)})"
    models = ""
    if change.base is not None and change.head is not None and base.models != head.models:
        models = _arrow(", ".join(sorted(base.models)), ", ".join(sorted(head.models)))
    return (
        change.status,
        cost,
        _arrow(count(base.calls), count(head.calls)),
        _arrow(count(base.tokens), count(head.tokens)),
        models,
    )


def headline(diff: CostDiff) -> str:
    """One line: where the total cost went."""
    before, after = diff.base.cost_usd, diff.head.cost_usd
    if diff.cost_change == 0:
        return f"LLM cost unchanged at {usd(after)}"
    word = "up" if diff.cost_change > 0 else "down"
    return (
        f"LLM cost {word}: {usd(before)} → {usd(after)} "
        f"({signed_usd(diff.cost_change)}, {pct(diff.cost_change_pct)})"
    )


def _tests_line(diff: CostDiff, lead: str = "tests") -> str:
    parts = [
        f"{diff.count(status)} {status}"
        for status in ("new", "removed", "changed")
        if diff.count(status)
    ]
    parts.append(f"{diff.unchanged} unchanged")
    return f"{lead} with LLM calls: {', '.join(parts)}"


def _totals_rows(diff: CostDiff) -> list[tuple[str, str, str, str]]:
    base, head = diff.base, diff.head
    cost_change = signed_usd(diff.cost_change)
    if diff.cost_change:
        cost_change += f" ({pct(diff.cost_change_pct)})"
    return [
        ("cost", usd(base.cost_usd), usd(head.cost_usd), cost_change),
        ("calls", count(base.calls), count(head.calls), signed(head.calls - base.calls)),
        ("tokens", count(base.tokens), count(head.tokens), signed(head.tokens - base.tokens)),
    ]


def render_text(
    diff: CostDiff, out: Callable[[str], object], *, rows: int | None = TEXT_ROWS
) -> None:
    """The comparison for a terminal; ``rows`` None shows every changed test."""
    out(headline(diff))
    for name, before, after, change in _totals_rows(diff):
        out(f"  {name:<7}{before:>12} → {after:<12}{change}")
    out(_tests_line(diff))
    shown = diff.changes if rows is None else diff.changes[:rows]
    if shown:
        table = [("test", "", "cost", "calls", "tokens", "models")]
        table += [(change.nodeid, *_cells(change)) for change in shown]
        widths = [max(len(row[i]) for row in table) for i in range(5)]
        for row in table:
            cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
            out(("  " + "  ".join(cells) + "  " + row[5]).rstrip())
    hidden = len(diff.changes) - len(shown)
    if hidden:
        out(f"  ... and {plural(hidden, 'more changed test')} (-v shows all)")
    for note in diff.notes:
        out(f"note: {note}")


def _md(text: str) -> str:
    """A table cell: pipes escaped, no line break."""
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def render_markdown(
    diff: CostDiff,
    *,
    base_name: str = "base",
    head_name: str = "head",
    rows: int = MARKDOWN_ROWS,
    breaches: list[str] | None = None,
) -> str:
    """The comparison as GitHub Markdown: a pull-request comment or a job summary."""
    lines = [f"### {headline(diff)}", ""]
    for reason in breaches or []:
        lines.append(f"> [!CAUTION]\n> Over the limit: {_md(reason)}")
        lines.append("")
    lines += [
        f"| | {_md(base_name)} | {_md(head_name)} | change |",
        "|---|---:|---:|---:|",
    ]
    lines += [f"| {name} | {b} | {a} | {c} |" for name, b, a, c in _totals_rows(diff)]
    lines += ["", _tests_line(diff, "Tests") + "."]
    if diff.changes:
        shown = diff.changes[:rows]
        lines += [
            "",
            f"<details{' open' if len(diff.changes) <= 10 else ''}>"
            "<summary>Tests by change, biggest first</summary>",
            "",
            "| test | | cost | calls | tokens |",
            "|---|---|---:|---:|---:|",
        ]
        for change in shown:
            status, cost, calls, tokens, models = _cells(change)
            name = f"`{_md(change.nodeid)}`" + (f"<br>models: {_md(models)}" if models else "")
            lines.append(f"| {name} | {status} | {cost} | {calls} | {tokens} |")
        hidden = len(diff.changes) - len(shown)
        if hidden:
            more = plural(hidden, "more changed test")
            lines += ["", f"... and {more} (`llmbudget diff` lists all)."]
        lines += ["", "</details>"]
    for note in diff.notes:
        lines += ["", f"Note: {_md(note)}"]
    lines += [
        "",
        "<sub>Cost: every LLM call priced, replayed ones included (pytest-llmbudget).</sub>",
    ]
    return "\n".join(lines) + "\n"
