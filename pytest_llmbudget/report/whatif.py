"""``llmbudget report --what-if`` printed: a column per model; rows for the suite, files, tests."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from pytest_llmbudget.report.diff import pct
from pytest_llmbudget.report.formatting import plural, usd
from pytest_llmbudget.whatif import Cost, WhatIf

TEXT_ROWS = 20


def cell(cost: Cost | None) -> str:
    """``$0.0012 (-80%)``; ``-`` for a row the scenario has no price for."""
    if cost is None:
        return "-"
    if cost.what_if == cost.recorded:
        return usd(cost.what_if)
    return f"{usd(cost.what_if)} ({pct(cost.change_pct)})"


def _rows(
    results: Sequence[WhatIf], which: str, limit: int | None
) -> tuple[list[tuple[str, str, list[str]]], int]:
    """(name, recorded, cells) for files or tests, dearest as recorded first; and how many hid."""
    known = [result for result in results if result.known]
    if not known:
        return [], 0
    first: dict[str, Cost] = getattr(known[0], which)
    names = sorted(first, key=lambda name: (-first[name].recorded, name))
    shown = names if limit is None else names[:limit]
    rows = [
        (
            name,
            usd(first[name].recorded),
            [cell(getattr(r, which).get(name)) if r.known else "-" for r in results],
        )
        for name in shown
    ]
    return rows, len(names) - len(shown)


def notes(results: Sequence[WhatIf]) -> list[str]:
    """Why some calls were not priced again, and what a number rests on."""
    lines = []
    for result in results:
        label = result.scenario.label
        if not result.known:
            lines.append(
                f"{result.scenario.target}: no price known (neither in llm_prices nor in "
                "genai-prices); check the name with `llmbudget prices`"
            )
            continue
        for item in result.skipped:
            tests = ", ".join(item.tests[:3]) + (" ..." if len(item.tests) > 3 else "")
            lines.append(
                f"{label}: {plural(item.calls, 'call')} to {item.model} not repriced, "
                f"{item.reason} in the report ({tests}); kept at the recorded cost"
            )
        if result.unpriced_before:
            lines.append(
                f"{label}: {plural(result.unpriced_before, 'call')} had no price as recorded "
                "(unknown model) and are priced here"
            )
        if result.estimated:
            lines.append(
                f"{label}: {plural(result.estimated, 'call')} with usage counted locally "
                "(the stream reported none)"
            )
    return lines


def render_text(
    results: Sequence[WhatIf], out: Callable[[str], object], *, rows: int | None = TEXT_ROWS
) -> None:
    if not results:
        return
    total = next((r.total for r in results if r.known), Cost())
    header = ["", "as recorded", *(r.scenario.label for r in results)]
    table: list[list[str]] = [
        header,
        ["total", usd(total.recorded), *(cell(r.total if r.known else None) for r in results)],
    ]
    hidden_counts = []
    for which, title in (("files", "test file"), ("tests", "test")):
        found, hidden = _rows(results, which, rows)
        if len(found) > (1 if which == "files" else 0):
            table.append([f"{title}s:", "", *("" for _ in results)])
            table += [[f"  {name}", recorded, *cells] for name, recorded, cells in found]
            hidden_counts.append((hidden, title))
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    for line in table:
        name, *numbers = line
        out(
            (
                name.ljust(widths[0])
                + "".join(f"  {n:>{w}}" for n, w in zip(numbers, widths[1:], strict=True))
            ).rstrip()
        )
    for hidden, title in hidden_counts:
        if hidden:
            out(f"  ... and {plural(hidden, 'more ' + title)} (-v shows all)")
    for note in notes(results):
        out(f"note: {note}")


def render_markdown(results: Sequence[WhatIf], *, rows: int = 50) -> str:
    """A table of the suite and its files, and one of its tests (folded), one column a model."""
    if not results:
        return ""
    total = next((r.total for r in results if r.known), Cost())
    header = "| | as recorded | " + " | ".join(r.scenario.label for r in results) + " |"
    rule = "|---|" + "---:|" * (len(results) + 1)
    totals = " | ".join(cell(r.total if r.known else None) for r in results)
    lines = ["## LLM cost on other models", "", header, rule]
    lines.append(f"| **suite** | {usd(total.recorded)} | {totals} |")
    files, _none = _rows(results, "files", None)
    lines += [f"| `{name}` | {recorded} | {' | '.join(cells)} |" for name, recorded, cells in files]
    tests, hidden = _rows(results, "tests", rows)
    if tests:
        lines += ["", "<details><summary>Tests, dearest as recorded first</summary>", ""]
        lines += [header.replace("| |", "| test |", 1), rule]
        lines += [
            f"| `{name}` | {recorded} | {' | '.join(cells)} |" for name, recorded, cells in tests
        ]
        if hidden:
            lines += ["", f"... and {plural(hidden, 'more test')} (`--format json` lists all)."]
        lines += ["", "</details>"]
    lines.append("")
    lines += [f"- {note}" for note in notes(results)]
    return "\n".join(lines).rstrip("\n") + "\n"
