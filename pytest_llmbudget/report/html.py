"""``--llm-html=PATH``: the run as one HTML page, for people who would rather not read logs.

The page is opened from CI artifacts, offline, from ``file://``: so it is one
file with its CSS inline, charts drawn as inline SVG by our own code, no
script at all, and a Content-Security-Policy that forbids fetching anything.
Test ids, model names and messages are escaped wherever they land.

Charts show the dearest few; the tables list everything, in plain compact rows,
so a 10,000-test suite still gives a file of a few megabytes. It renders the
same RunSummary as every other report, plus the live spend per day of all
runs, read from the ledger.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_llmbudget import __version__, ledger
from pytest_llmbudget.ledger import Spend
from pytest_llmbudget.report import charts
from pytest_llmbudget.report.formatting import count, per_provider, percent, plural, usd
from pytest_llmbudget.summary import RunSummary

if TYPE_CHECKING:
    from pytest_llmbudget.whatif import WhatIf

HISTORY_DAYS = 30
TOP_TESTS = 25
TOP_MODELS = 12
LISTED = 100  # rows of violations, quota errors, unknown models before "... and N more"
SLOWEST = 20
OPEN_TABLE_ROWS = 50  # a longer test table starts folded
SERIES = ("spend", "replayed")
BAD = ' class="bad"'

LIMITS = (
    ("budget_usd", "--llm-budget", True),
    ("max_calls", "--llm-max-calls", False),
    ("max_cost_usd", "--llm-max-cost", True),
    ("test_budget_usd", "--llm-test-budget", True),
    ("test_max_calls", "--llm-test-max-calls", False),
    ("daily_budget_usd", "--llm-daily-budget", True),
)


@dataclass(frozen=True, slots=True)
class History:
    """Live spend of all runs per UTC day, oldest first, idle days included; or why not."""

    ledger: str
    days: tuple[tuple[dt.date, Spend], ...] = ()
    problem: str = ""


def read_history(
    path: Path | str, *, days: int = HISTORY_DAYS, today: dt.date | None = None
) -> History:
    """The last ``days`` days of the ledger at ``path`` (a SQLite file, read, never created;
    or a team ledger's PostgreSQL URL)."""
    today = today or dt.datetime.now(dt.UTC).date()
    since = ledger.first_day(days, today)
    if isinstance(path, str):
        from pytest_llmbudget import pg_ledger
        from pytest_llmbudget.errors import LedgerUnavailable

        name = pg_ledger.shown(path)
        try:
            calls, _total = pg_ledger.read_calls(path, since)
        except LedgerUnavailable as error:
            return History(name, problem=str(error))
    else:
        name = str(path)
        if not path.is_file():
            return History(name, problem=f"No live call recorded yet: no ledger at {path}.")
        try:
            calls, _total = ledger.read_calls(path, since)
        except ledger.LedgerReadError as error:
            return History(name, problem=str(error))
    per_day = ledger.spend_per_day(calls)
    window = (since + dt.timedelta(days=n) for n in range(days))
    return History(name, tuple((day, per_day.get(day.isoformat(), Spend())) for day in window))


def write(
    summary: RunSummary,
    path: Path,
    *,
    ledger_path: Path | str | None,
    what_if: Sequence[WhatIf] = (),
) -> None:
    from pytest_llmbudget.recording.cassette import write_atomic

    history = read_history(ledger_path) if ledger_path is not None else None
    write_atomic(path, render(summary, history=history, what_if=what_if))


def render(
    summary: RunSummary,
    *,
    history: History | None = None,
    generated: dt.datetime | None = None,
    source: str = "",
    what_if: Sequence[WhatIf] = (),
) -> str:
    """The page; ``history`` None leaves out the per-day section (a saved report has none).

    ``what_if``: the suite priced on other models, a small table of its own.
    """
    moment = (generated or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    t = summary.totals
    violations = summary.violations
    if violations:
        badge, verdict = "bad", plural(len(violations), "budget violation")
    elif not t.calls:
        badge, verdict = "none", "no LLM calls"
    else:
        badge, verdict = "ok", "within budget"
    meta = [f"Generated {moment:%Y-%m-%d %H:%M} UTC"]
    if source:
        meta.append(f"from {source}")
    if t.calls:
        meta.append(f"{plural(len(summary.tests), 'test')} made LLM calls")
    body = [
        f'<header><h1>LLM budget</h1><span class="badge {badge}">{escape(verdict)}</span></header>',
        f'<p class="meta">{escape(" · ".join(meta))}</p>',
    ]
    if t.calls:
        body += _cards(summary)
        body += _limits(summary.limits)
    body += _violations(violations)  # a limit can be broken before any call is made
    if t.calls:
        body += _quota_errors(summary)
        body += _unknown_models(summary)
        body += _notes(summary)
        body += _test_chart(summary)
        body += _model_chart(summary)
    else:
        body.append(
            '<section class="empty"><p>No LLM call was made in this run.</p>'
            '<p class="sub">Nothing was spent, replayed or recorded.</p></section>'
        )
    if history is not None:
        body += _history(history)
    if t.calls:
        body += _models_table(summary)
        body += _what_if_table(what_if)
        body += _files_table(summary)
        body += _tests_table(summary)
        body += _slowest(summary)
    body.append(
        f"<footer>pytest-llmbudget {escape(__version__)} · spend: live calls of this run · "
        "cost: all calls, replayed included · saved: cost &minus; spend</footer>"
    )
    title = f"LLM budget: {usd(t.spend_usd)} spent" if t.calls else "LLM budget: no LLM calls"
    if violations:
        title += f", {plural(len(violations), 'violation')}"
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">\n'
        '<meta http-equiv="Content-Security-Policy" '
        "content=\"default-src 'none'; style-src 'unsafe-inline'\">\n"
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="generator" content="pytest-llmbudget">\n'
        f"<title>{escape(title)}</title>\n<style>{STYLE}</style></head>\n"
        "<body><main>\n" + "\n".join(body) + "\n</main></body></html>\n"
    )


def compact(number: int) -> str:
    """A count short enough for a card: 354,968 as is, 15,000,000 as 15.0M."""
    if number < 10_000_000:
        return count(number)
    size, suffix = next(
        (size, suffix)
        for size, suffix in ((10**12, "T"), (10**9, "B"), (10**6, "M"))
        if number >= size
    )
    return f"{number / size:,.1f}{suffix}"


def _card(key: str, value: str, sub: str, extra: str = "") -> str:
    return (
        f'<div class="card"><div class="k">{escape(key)}</div><div class="v">{escape(value)}</div>'
        f'<div class="s">{escape(sub)}</div>{extra}</div>'
    )


def _cards(summary: RunSummary) -> list[str]:
    t = summary.totals
    tokens = f"{count(t.input_tokens)} in · {count(t.output_tokens)} out"
    if t.cached_tokens:
        tokens += f" · {count(t.cached_tokens)} cached"
    budget = summary.limits.get("budget_usd")
    if budget:
        limit = Decimal(str(budget))
        share = t.spend_usd / limit * 100 if limit > 0 else Decimal(0)
        level = "bad" if share > 100 else "warn" if share >= 75 else ""
        meter = (
            f'<div class="meter {level}"><span style="width:{min(float(share), 100.0):.1f}%">'
            "</span></div>"
        )
        used = _card(
            "Budget used", percent(t.spend_usd, limit), f"of --llm-budget {usd(limit)}", meter
        )
    else:
        used = _card("Budget used", "-", "no --llm-budget set")
    saved_share = percent(t.saved_usd, t.cost_usd) if t.cost_usd > 0 else "-"
    return [
        '<div class="cards">',
        _card(
            "Calls",
            compact(t.calls),
            f"{count(t.live_calls)} live · {count(t.replayed_calls)} replayed",
        ),
        _card("Tokens", compact(t.input_tokens + t.output_tokens), tokens),
        _card("Spend", usd(t.spend_usd), "live calls of this run"),
        _card("Cost", usd(t.cost_usd), "all calls, replayed included"),
        _card("Saved", usd(t.saved_usd), f"{saved_share} of the cost, by replaying"),
        used,
        "</div>",
    ]


def _limits(limits: dict[str, Any]) -> list[str]:
    parts = [
        f"<code>{flag}</code> {escape(usd(value) if money else count(int(value)))}"
        for key, flag, money in LIMITS
        if (value := limits.get(key)) is not None
    ]
    if not parts:
        return []
    return [f'<p class="limits">Limits: {" · ".join(parts)}</p>']


def _section(title: str, content: Iterable[str], *, kind: str = "", note: str = "") -> list[str]:
    cls = f' class="{kind}"' if kind else ""
    small = f"<small>{escape(note)}</small>" if note else ""
    return [f"<section{cls}><h2>{escape(title)}{small}</h2>", *content, "</section>"]


def _more(total: int, shown: int, what: str, note: str = "") -> list[str]:
    """``… and 1 more test``, ``… and 2 more tests``: ``what`` is the singular."""
    if total <= shown:
        return []
    return [f'<p class="more">… and {escape(plural(total - shown, "more " + what) + note)}</p>']


def _violations(violations: Sequence[dict[str, Any]]) -> list[str]:
    if not violations:
        return []
    items = ['<ul class="issues">']
    for entry in violations[:LISTED]:
        where = str(entry.get("nodeid") or "")
        message = str(entry.get("message", ""))
        if where in message:
            where = ""  # the message names the test already
        items.append(
            f'<li><span class="kind">{escape(str(entry.get("kind", "")))}</span>'
            f"{escape(message)}"
            + (f'<div class="where">{escape(where)}</div>' if where else "")
            + "</li>"
        )
    items.append("</ul>")
    items += _more(len(violations), LISTED, "violation", " (see the JSON report)")
    return _section("Violations", items, kind="bad", note=count(len(violations)))


def _table(
    header: Sequence[str], rows: Iterable[Sequence[str]], numeric_from: int, cls: str = ""
) -> list[str]:
    """Cells are escaped here; columns from ``numeric_from`` on are right-aligned numbers."""

    def cells(values: Sequence[str], tag: str) -> str:
        return "".join(
            f'<{tag} class="n">{escape(v)}</{tag}>'
            if i >= numeric_from
            else f"<{tag}>{escape(v)}</{tag}>"
            for i, v in enumerate(values)
        )

    attr = f' class="{cls}"' if cls else ""
    out = [f"<table{attr}><thead><tr>{cells(header, 'th')}</tr></thead><tbody>"]
    out += [f"<tr>{cells(row, 'td')}</tr>" for row in rows]
    out.append("</tbody></table>")
    return out


def _quota_errors(summary: RunSummary) -> list[str]:
    errors = summary.quota_errors
    if not errors:
        return []
    lines = [
        f"<p><strong>Quota exhausted at {escape(p)}</strong>: "
        f"{plural(n, 'call')} refused for lack of credit. Top up the account or use "
        "another key; retrying will not help.</p>"
        for p, n in per_provider(errors)
    ]
    rows = [
        (
            str(e.get("nodeid", "")),
            str(e.get("provider", "")),
            str(e.get("status", "")),
            str(e.get("endpoint", "")),
        )
        for e in errors[:LISTED]
    ]
    lines += _table(("test", "provider", "status", "endpoint"), rows, 2, "ids")
    lines += _more(len(errors), LISTED, "quota error")
    return _section("Quota errors", lines, kind="bad", note=count(len(errors)))


def _unknown_models(summary: RunSummary) -> list[str]:
    unknown = summary.unknown_models
    if not unknown:
        return []

    def tests(names: Sequence[str]) -> str:
        shown = ", ".join(names[:3])
        return shown + (f" … and {count(len(names) - 3)} more" if len(names) > 3 else "")

    rows = [
        (
            str(item.get("provider", "")),
            str(item.get("model", "")),
            tests([str(n) for n in item.get("tests", [])]),
            count(int(item.get("calls", 0))),
        )
        for item in unknown[:LISTED]
    ]
    lines = [
        "<p>No price is known for these models: their calls count as $0. "
        "Add them to the <code>llm_prices</code> file to price them.</p>",
        *_table(("provider", "model", "tests", "calls"), rows, 3, "unknown"),
        *_more(len(unknown), LISTED, "unknown model"),
    ]
    return _section("Unknown models", lines, kind="warn", note=count(len(unknown)))


def _notes(summary: RunSummary) -> list[str]:
    notes: list[str] = []
    for provider, calls in per_provider(summary.rate_limited):
        notes.append(
            f"Rate limited at {escape(provider)}: {plural(calls, 'call')} "
            "(retry later; not a quota problem)."
        )
    if summary.estimated_calls:
        counter = f" with {escape(summary.token_counter)}" if summary.token_counter else ""
        notes.append(
            f"{plural(summary.estimated_calls, 'call')} stated no usage: tokens estimated{counter}."
        )
    if summary.streams_without_usage:
        notes.append(
            f"{plural(summary.streams_without_usage, 'OpenAI stream')} requested without "
            "<code>stream_options={'include_usage': True}</code>: set it for exact token counts."
        )
    if not notes:
        return []
    return _section("Notes", ['<ul class="notes">', *(f"<li>{n}</li>" for n in notes), "</ul>"])


def _legend() -> str:
    return (
        '<div class="legend"><span><i class="spend"></i>live spend</span>'
        '<span><i class="replayed"></i>replayed from cassettes (cost, not spent)</span></div>'
    )


def chart_labels(nodeids: Sequence[str], limit: int = charts.LABEL_CHARS) -> list[str]:
    """Test ids for chart labels: all without their folders if one is too long to fit.

    The same treatment for every row keeps the labels comparable; the tooltip
    and the table below carry the full ids.
    """
    if all(len(nodeid) <= limit for nodeid in nodeids):
        return list(nodeids)
    labels = []
    for nodeid in nodeids:
        path, sep, rest = nodeid.partition("::")
        labels.append(path.rsplit("/", 1)[-1] + sep + rest)
    return labels


def _test_chart(summary: RunSummary) -> list[str]:
    priced = [test for test in summary.tests if test.totals.cost_usd > 0]
    free = len(summary.tests) - len(priced)
    shown = priced[:TOP_TESTS]
    rows = [
        charts.Bar(
            label=label,
            parts=(test.totals.spend_usd, test.totals.cost_usd - test.totals.spend_usd),
            value=f"{usd(test.totals.cost_usd)} · {plural(test.totals.calls, 'call')}",
            tooltip=f"{test.nodeid} ({test.outcome})\n{usd(test.totals.cost_usd)} cost, "
            f"{usd(test.totals.spend_usd)} spent; {plural(test.totals.calls, 'call')}, "
            f"{count(test.totals.live_calls)} live",
        )
        for test, label in zip(shown, chart_labels([t.nodeid for t in shown]), strict=True)
    ]
    if rows:
        content = [
            _legend(),
            charts.bars(rows, name="tests", series=SERIES, title="Cost per test, dearest first"),
            *_more(len(priced), len(rows), "test", " (all are in the table below)"),
        ]
    else:
        content = ['<p class="sub">No test\'s calls cost anything.</p>']
    if free and rows:
        content.append(f'<p class="more">{plural(free, "test")} made only calls that cost $0.</p>')
    note = f"top {len(rows)} of {count(len(priced))}" if len(priced) > len(rows) else ""
    return _section("Cost per test", content, note=note)


def _model_chart(summary: RunSummary) -> list[str]:
    models = summary.models
    rows = [
        charts.Bar(
            label=f"{m.provider} · {m.model}",
            parts=(m.totals.spend_usd, m.totals.cost_usd - m.totals.spend_usd),
            value=f"{usd(m.totals.cost_usd)} · {plural(m.totals.calls, 'call')}",
            tooltip=f"{m.provider} {m.model}\n{usd(m.totals.cost_usd)} cost, "
            f"{usd(m.totals.spend_usd)} spent; {plural(m.totals.calls, 'call')}, "
            f"{count(m.totals.input_tokens)} tokens in, {count(m.totals.output_tokens)} out",
        )
        for m in models[:TOP_MODELS]
    ]
    content = [
        _legend(),
        charts.bars(rows, name="models", series=SERIES, title="Cost per model"),
        *_more(len(models), len(rows), "model", " (all are in the table below)"),
    ]
    return _section("Cost per model", content)


def _history(history: History) -> list[str]:
    title = "Spend per day"
    note = "all runs, from the ledger"
    if history.problem:
        return _section(title, [f'<p class="sub">{escape(history.problem)}</p>'], note=note)
    total = sum((spend.usd for _day, spend in history.days), Decimal(0))
    calls = sum(spend.calls for _day, spend in history.days)
    days = len(history.days)
    if not calls:
        text = f"No live call in the last {days} days (ledger: {history.ledger})."
        return _section(title, [f'<p class="sub">{escape(text)}</p>'], note=note)
    cols = [
        charts.Column(
            label=day.strftime("%b %d"),
            value=spend.usd,
            tooltip=f"{day.isoformat()}: {usd(spend.usd)} in {plural(spend.calls, 'live call')}",
        )
        for day, spend in history.days
    ]
    today = history.days[-1][1]
    summary_line = (
        f"{usd(total)} in {plural(calls, 'live call')} over the last {days} days (UTC); "
        f"today {usd(today.usd)}. Ledger: {history.ledger}"
    )
    return _section(
        title,
        [
            charts.columns(cols, name="days", title=f"Live spend per day, last {days} days"),
            f'<p class="more">{escape(summary_line)}</p>',
        ],
        note=note,
    )


def _models_table(summary: RunSummary) -> list[str]:
    rows = [
        (
            m.provider,
            m.model,
            count(m.totals.calls),
            count(m.totals.live_calls),
            count(m.totals.input_tokens),
            count(m.totals.output_tokens),
            usd(m.totals.cost_usd),
            usd(m.totals.spend_usd),
        )
        for m in summary.models
    ]
    header = (
        "provider",
        "model",
        "calls",
        "live",
        "input tokens",
        "output tokens",
        "cost",
        "spend",
    )
    return _section("Models", _table(header, rows, 2), note=count(len(rows)))


def _what_if_table(results: Sequence[WhatIf]) -> list[str]:
    """The suite's cost on a few other models, from the recorded usage."""
    if not results:
        return []
    from pytest_llmbudget.report.whatif import cell, notes

    rows = [
        (
            result.scenario.label,
            cell(result.total) if result.known else "no price known",
            count(result.repriced),
            count(result.skipped_calls),
        )
        for result in results
    ]
    header = ("model", "suite cost", "calls repriced", "not repriced")
    content = _table(header, rows, 1)
    content += [f'<p class="more">{escape(note)}</p>' for note in notes(results)]
    recorded = next((r.total.recorded for r in results if r.known), None)
    note = "" if recorded is None else f"as recorded: {usd(recorded)}"
    return _section("On other models", content, note=note)


def _files_table(summary: RunSummary) -> list[str]:
    rows = [
        (
            f.path,
            count(f.tests),
            count(f.totals.calls),
            count(f.totals.live_calls),
            usd(f.totals.cost_usd),
            usd(f.totals.spend_usd),
        )
        for f in summary.files
    ]
    header = ("test file", "tests", "calls", "live", "cost", "spend")
    return _section("Test files, dearest first", _table(header, rows, 1), note=count(len(rows)))


def _tests_table(summary: RunSummary) -> list[str]:
    """Every test, one compact row each: numbers are aligned by the table's CSS, not per cell."""
    tests = summary.tests
    rows = "\n".join(
        f"<tr><td>{escape(test.nodeid)}</td>"
        f"<td{BAD if test.outcome in ('failed', 'error') else ''}>"
        f"{escape(test.outcome)}</td><td>{count(test.totals.calls)}</td>"
        f"<td>{count(test.totals.live_calls)}</td><td>{usd(test.totals.cost_usd)}</td>"
        f"<td>{usd(test.totals.spend_usd)}</td></tr>"
        for test in tests
    )
    opened = " open" if len(tests) <= OPEN_TABLE_ROWS else ""
    return [
        f"<section><details{opened}><summary>Tests with LLM calls"
        f"<small>{count(len(tests))}, dearest first</small></summary>",
        '<table class="tests"><thead><tr><th>test</th><th>outcome</th><th>calls</th>'
        "<th>live</th><th>cost</th><th>spend</th></tr></thead><tbody>",
        rows,
        "</tbody></table></details></section>",
    ]


def _slowest(summary: RunSummary) -> list[str]:
    live = sorted((r for r in summary.records if r.live), key=lambda r: -r.duration_s)[:SLOWEST]
    if not live:
        return []
    rows = [
        (f"{r.duration_s:.2f} s", r.nodeid, f"{r.provider} · {r.model or '(unknown)'}", r.endpoint)
        for r in live
    ]
    return _section(
        "Slowest live calls",
        _table(("time", "test", "model", "endpoint"), rows, 99, "ids slow"),
        note=f"top {len(rows)}",
    )


STYLE = """
:root{--bg:#f6f8fa;--card:#fff;--text:#1f2328;--muted:#59636e;--line:#d8dee4;--soft:#eef1f4;
--spend:#4f46e5;--replayed:#c7d2fe;--bad:#cf222e;--bad-bg:#fff1f0;--warn:#9a6700;
--warn-bg:#fff8c5;--ok:#1a7f37;--ok-bg:#dafbe1;
--mono:ui-monospace,SFMono-Regular,Menlo,Consolas,"DejaVu Sans Mono","Liberation Mono",monospace;
color-scheme:light dark}
@media (prefers-color-scheme:dark){:root{--bg:#0d1117;--card:#161b22;--text:#e6edf3;
--muted:#9198a1;--line:#30363d;--soft:#21262d;--spend:#818cf8;--replayed:#3b3f8f;
--bad:#ff7b72;--bad-bg:#2a1214;--warn:#d29922;--warn-bg:#2b2111;--ok:#3fb950;--ok-bg:#12361f}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--text);
font:14px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans","DejaVu Sans",sans-serif}
main{max-width:1180px;margin:0 auto;padding:28px 24px 40px}
header{display:flex;flex-wrap:wrap;align-items:center;gap:8px 14px}
h1{font-size:24px;margin:0;font-weight:650;letter-spacing:-.01em}
.badge{padding:2px 12px;border-radius:999px;font-weight:600;font-size:13px;
background:var(--soft);color:var(--muted)}
.badge.ok{background:var(--ok-bg);color:var(--ok)}
.badge.bad{background:var(--bad-bg);color:var(--bad);border:1px solid var(--bad)}
.meta{color:var(--muted);margin:4px 0 20px}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:12px;
margin-bottom:12px}
.card{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:14px 16px}
.card .k{color:var(--muted);font-size:12px;font-weight:600;text-transform:uppercase;
letter-spacing:.05em}
.card .v{font-size:26px;font-weight:650;margin:2px 0 0;font-variant-numeric:tabular-nums}
.card .s{color:var(--muted);font-size:12px}
.meter{height:6px;background:var(--soft);border-radius:3px;margin-top:8px;overflow:hidden}
.meter span{display:block;height:100%;background:var(--ok)}
.meter.warn span{background:var(--warn)}.meter.bad span{background:var(--bad)}
.limits{color:var(--muted);font-size:13px;margin:0 0 20px}
section{background:var(--card);border:1px solid var(--line);border-radius:10px;
padding:16px 20px;margin:0 0 16px}
section.bad{border-color:var(--bad);background:var(--bad-bg)}
section.warn{border-color:var(--warn);background:var(--warn-bg)}
section.empty{text-align:center;padding:40px 20px;font-size:18px}
section.empty p{margin:0}
h2,summary{font-size:16px;font-weight:600;margin:0 0 12px}
h2 small,summary small{color:var(--muted);font-weight:400;font-size:13px;margin-left:8px}
summary{cursor:pointer;margin:0}
details[open] summary{margin-bottom:12px}
code{font-family:var(--mono);font-size:12px;background:var(--soft);padding:1px 5px;
border-radius:4px}
.sub,.more{color:var(--muted);margin:8px 0 0;font-size:13px}
section .sub:first-of-type{margin-top:0}
ul.issues,ul.notes{margin:0;padding:0;list-style:none}
ul.issues{max-height:480px;overflow:auto}
ul.issues li,ul.notes li{padding:7px 0;border-top:1px solid var(--line)}
ul.issues li:first-child,ul.notes li:first-child{border-top:0;padding-top:0}
.kind{font-family:var(--mono);font-size:12px;font-weight:600;background:var(--bad);color:var(--card);
border-radius:4px;padding:1px 7px;margin-right:10px}
.where{font-family:var(--mono);font-size:12px;color:var(--muted);margin-top:2px;
overflow-wrap:anywhere}
.legend{display:flex;gap:18px;color:var(--muted);font-size:12px;margin:-4px 0 6px}
.legend i{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:6px;
vertical-align:-1px}
i.spend{background:var(--spend)}i.replayed{background:var(--replayed)}
svg.chart{display:block;width:100%;height:auto;overflow:visible}
.chart text{font-size:12px;fill:var(--text);dominant-baseline:central}
.chart .label{font-family:var(--mono);text-anchor:end}
.chart .value{fill:var(--muted);font-variant-numeric:tabular-nums}
.chart .axis{fill:var(--muted);text-anchor:end;font-size:11px}
.chart .tick{fill:var(--muted);text-anchor:middle;font-size:11px}
.chart .grid{stroke:var(--line);stroke-width:1}
.chart .spend{fill:var(--spend)}.chart .replayed{fill:var(--replayed)}
.chart g:hover .bar{opacity:.8}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{padding:5px 10px;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}
th{color:var(--muted);font-weight:600;font-size:12px;white-space:nowrap;
border-bottom-color:var(--muted)}
tbody tr:last-child td{border-bottom:0}
tbody tr:hover{background:var(--soft)}
.n,table.tests td:nth-child(n+3),table.tests th:nth-child(n+3){text-align:right;
white-space:nowrap;font-variant-numeric:tabular-nums}
table.tests td:first-child,table.ids td:first-child,table.slow td:nth-child(2){
font-family:var(--mono);font-size:12px;overflow-wrap:anywhere}
table.slow td:first-child,table.slow td:nth-child(3){font-family:inherit;white-space:nowrap}
table.slow td:nth-child(4){font-family:var(--mono);font-size:12px;overflow-wrap:anywhere}
td.bad{color:var(--bad);font-weight:600}
footer{color:var(--muted);font-size:12px;text-align:center;margin-top:24px}
""".strip()
