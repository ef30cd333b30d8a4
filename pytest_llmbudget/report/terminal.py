"""The ``LLM budget`` section of pytest's terminal summary."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from pytest_llmbudget.misses import no_calls_line, refused_lines
from pytest_llmbudget.report.formatting import count, per_provider, percent, plural, usd
from pytest_llmbudget.summary import RunSummary

Write = Callable[[str], None]


def render(
    summary: RunSummary, write: Write, *, verbose: int = 0, misses: Sequence[str] = ()
) -> None:
    """Write the section; one line only when the run made no LLM call and broke no limit.

    ``misses`` are the tests whose call was refused with ``CassetteMiss``
    (see `pytest_llmbudget.misses`): no record says so, pytest's reports do.
    """
    t = summary.totals
    if summary.empty:
        write(no_calls_line(misses))
        return
    rows = 20 if verbose > 0 else 5
    write(
        f"calls: {count(t.calls)} ({count(t.live_calls)} live, {count(t.replayed_calls)} replayed)"
        f"   tokens: {count(t.input_tokens)} in, {count(t.output_tokens)} out"
        + (f" ({count(t.cached_tokens)} cached)" if t.cached_tokens else "")
    )
    line = f"spend: {usd(t.spend_usd)}   cost: {usd(t.cost_usd)}   saved: {usd(t.saved_usd)}"
    budget = summary.limits.get("budget_usd")
    if budget:
        from decimal import Decimal

        line += f"   budget used: {percent(t.spend_usd, Decimal(str(budget)))} of {usd(budget)}"
    write(line)
    priced_tests = [test for test in summary.tests if test.totals.cost_usd > 0]
    if priced_tests:
        write("dearest tests:")
        for test in priced_tests[:rows]:
            write(
                f"  {usd(test.totals.cost_usd):>10}  {test.nodeid}"
                f"  ({plural(test.totals.calls, 'call')}, {count(test.totals.live_calls)} live)"
            )
    priced_files = [f for f in summary.files if f.totals.cost_usd > 0]
    if len(priced_files) > 1:  # with one file, the tests above say it all
        write("dearest files:")
        for per_file in priced_files[:rows]:
            f = per_file.totals
            write(
                f"  {usd(f.cost_usd):>10}  {per_file.path}  ({plural(per_file.tests, 'test')}, "
                f"{plural(f.calls, 'call')}, {count(f.live_calls)} live, spend {usd(f.spend_usd)})"
            )
    if summary.models:
        write("models:")
    for model in summary.models[:rows]:
        m = model.totals
        write(
            f"  {usd(m.cost_usd):>10}  {model.provider} {model.model}"
            f"  {plural(m.calls, 'call')}, {count(m.input_tokens)} in"
            f" / {count(m.output_tokens)} out"
        )
    for violation in summary.violations:
        write(f"VIOLATION [{violation['kind']}]: {violation['message']}")
    for line in refused_lines(misses, rows):
        write(line)
    _cassette_notes(summary, write)
    for item in summary.unknown_models:
        write(
            f"unknown model: {item['provider']} {item['model']} "
            f"({plural(item['calls'], 'call')}, priced $0)"
            " - add it to llm_prices to price it"
        )
    _errors(summary, write)
    if summary.estimated_calls:
        write(
            f"estimated: {plural(summary.estimated_calls, 'call')} stated no usage; "
            f"tokens counted with {summary.token_counter}"
        )
    if summary.streams_without_usage:
        write(
            f"hint: {plural(summary.streams_without_usage, 'OpenAI stream')} requested without "
            "stream_options={'include_usage': True}; set it to get exact token counts"
        )
    live = sorted((r for r in summary.records if r.live), key=lambda r: -r.duration_s)
    if live:
        write("slowest live calls:")
        for record in live[: 3 if not verbose else rows]:
            write(f"  {record.duration_s:8.2f}s  {record.nodeid}  {record.endpoint}")


def _errors(summary: RunSummary, write: Write) -> None:
    for provider, calls in per_provider(summary.quota_errors):
        write(f"QUOTA EXHAUSTED at {provider}: {plural(calls, 'call')} refused for lack of credit")
    for provider, calls in per_provider(summary.rate_limited):
        write(
            f"rate limited at {provider}: {plural(calls, 'call')} "
            "(retry later; not a quota problem)"
        )


def _cassette_notes(summary: RunSummary, write: Write) -> None:
    """Cassettes a test added to, and replays of recordings made for another request."""
    for entry in summary.appended:
        line = (
            f"cassette {entry['cassette']}: {plural(entry['added'], 'interaction')} "
            f"added by {entry['nodeid']}"
        )
        if entry["unplayed"]:
            line += f"; {plural(entry['unplayed'], 'recorded one')} it did not play"
        write(line)
    if summary.drift:
        tests = len({entry["nodeid"] for entry in summary.drift})
        write(
            f"drift: {plural(len(summary.drift), 'replayed call')} in {plural(tests, 'test')} "
            "differ from their recording (see the warnings; 'drift' in --llm-report)"
        )
