"""Calls refused for want of a recording (``CassetteMiss``), found in pytest's own reports.

A call with no recording in replay-only mode is refused before anything is
sent, so it leaves no call record: a run whose only call was refused would
sum up as "no LLM calls", though it failed on one. pytest's reports say which
tests failed on a ``CassetteMiss``, on the xdist controller as well (the
workers' reports carry their crash line), so the summary reads them there,
at the end, and no test pays for it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from pytest_llmbudget.errors import CassetteMiss
from pytest_llmbudget.report.formatting import plural

# How pytest writes the exception in a report's crash line: "module.Class: message".
_CRASH_PREFIX = f"{CassetteMiss.__module__}.{CassetteMiss.__qualname__}:"


def cassette_misses(stats: Mapping[str, Iterable[object]]) -> list[str]:
    """The node ids of the tests that failed, or errored in a fixture, on a ``CassetteMiss``.

    ``stats`` is the terminal reporter's: its ``failed`` and ``error`` lists
    hold the reports of every phase that failed.
    """
    found: dict[str, None] = {}
    for key in ("failed", "error"):
        for report in stats.get(key, ()):
            crash = getattr(getattr(report, "longrepr", None), "reprcrash", None)
            message = getattr(crash, "message", None)
            if isinstance(message, str) and message.startswith(_CRASH_PREFIX):
                found[str(getattr(report, "nodeid", ""))] = None
    return list(found)


def no_calls_line(misses: Sequence[str]) -> str:
    """The summary's one line for a run that made no LLM call, and why, when one was refused."""
    if not misses:
        return "LLM budget: no LLM calls"
    return (
        f"LLM budget: no LLM call made; {plural(len(misses), 'call')} refused: "
        "no recording to replay (CassetteMiss)"
    )


def refused_lines(misses: Sequence[str], rows: int) -> list[str]:
    """The summary's lines for calls refused in a run that made others."""
    if not misses:
        return []
    lines = [f"refused: {plural(len(misses), 'call')} with no recording to replay (CassetteMiss):"]
    lines += [f"  {nodeid}" for nodeid in misses[:rows]]
    if len(misses) > rows:
        lines.append(f"  ... and {plural(len(misses) - rows, 'more test')}")
    return lines
