"""GitHub Actions: the job summary, annotations and step outputs.

Only when ``GITHUB_ACTIONS=true``. GitHub shows at most 10 annotations of a
kind per step, so we emit the worst ones and say how many more there are;
workflow-command values are escaped as the runner expects (``%``, CR, LF,
and in properties also ``:`` and ``,``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pytest_llmbudget.report import markdown
from pytest_llmbudget.report.formatting import plain, plural
from pytest_llmbudget.summary import RunSummary

SHOWN_PER_KIND = 10
TITLE = "LLM budget"
# Where a test lives: its file relative to the rootdir and its 0-based line, as pytest says.
Locations = Mapping[str, tuple[str, int | None]]
_SEVERITY = {
    "budget": 0,
    "daily_budget": 0,
    "max_calls": 1,
    "max_cost": 1,
    "test_budget": 2,
    "test_max_calls": 2,
    "unknown_model": 3,
}


def active(environ: Mapping[str, str] = os.environ) -> bool:
    return environ.get("GITHUB_ACTIONS", "").strip().lower() == "true"


def outputs(summary: RunSummary) -> dict[str, str]:
    t = summary.totals
    return {
        "llm-spend-usd": plain(t.spend_usd),
        "llm-cost-usd": plain(t.cost_usd),
        "llm-calls": str(t.calls),
        "llm-live-calls": str(t.live_calls),
        "llm-violations": str(len(summary.violations)),
    }


def write_files(summary: RunSummary, environ: Mapping[str, str] = os.environ) -> None:
    """Append the step outputs, and the job summary when there is more to say than nothing."""
    _append(
        environ.get("GITHUB_OUTPUT"), "".join(f"{k}={v}\n" for k, v in outputs(summary).items())
    )
    if not summary.empty:
        _append(environ.get("GITHUB_STEP_SUMMARY"), markdown.render(summary) + "\n")


def _append(path: str | None, text: str) -> None:
    if path:
        with open(path, "a", encoding="utf-8") as file:
            file.write(text)


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def command(level: str, message: str, *, file: str | None = None, line: int | None = None) -> str:
    props = []
    if file:
        props.append(f"file={escape_property(file)}")
        if line is not None:
            props.append(f"line={line}")
    props.append(f"title={escape_property(TITLE)}")
    return f"::{level} {','.join(props)}::{escape_data(message)}"


def workflow_commands(
    summary: RunSummary,
    locations: Locations,
    *,
    rootdir: Path,
    environ: Mapping[str, str] = os.environ,
    shown: int = SHOWN_PER_KIND,
) -> list[str]:
    """``::error`` per violation and ``::warning`` per unknown model or quota error, worst first."""

    def where(nodeid: str | None) -> dict[str, Any]:
        if not nodeid or nodeid not in locations:
            return {}
        relpath, line = locations[nodeid]
        return {
            "file": _repo_path(rootdir / relpath, environ),
            "line": line + 1 if line is not None else None,
        }

    errors = [
        (entry["message"], where(entry.get("nodeid")))
        for entry in sorted(summary.violations, key=_worst_first)
    ]
    failing_models = {
        entry["message"] for entry in summary.violations if entry["kind"] == "unknown_model"
    }
    warnings: list[tuple[str, dict[str, Any]]] = []
    for provider, entries in _by_provider(summary.quota_errors).items():
        warnings.append(
            (
                f"quota exhausted at {provider}: {plural(len(entries), 'call')} refused "
                "for lack of credit (not a rate limit: retrying will not help)",
                where(entries[0]["nodeid"]),
            )
        )
    if not failing_models:
        for item in summary.unknown_models:
            tests = item.get("tests") or [None]
            warnings.append(
                (
                    f"unknown model {item['provider']} {item['model']}: "
                    f"{plural(item['calls'], 'call')} priced $0; add it to llm_prices",
                    where(tests[0]),
                )
            )
    return _capped("error", errors, shown) + _capped("warning", warnings, shown)


def _capped(level: str, items: list[tuple[str, dict[str, Any]]], shown: int) -> list[str]:
    if len(items) > shown:
        hidden = len(items) - shown + 1
        items = [
            *items[: shown - 1],
            (f"... and {hidden} more LLM budget {level}s: see the job summary", {}),
        ]
    return [command(level, message, **place) for message, place in items]


def _worst_first(entry: Mapping[str, Any]) -> tuple[int, float]:
    limit, actual = entry.get("limit"), entry.get("actual")
    ratio = float(actual) / float(limit) if limit and actual is not None else 0.0
    return _SEVERITY.get(str(entry.get("kind")), 4), -ratio


def _by_provider(entries: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = {}
    for entry in entries:
        grouped.setdefault(str(entry["provider"]), []).append(entry)
    return dict(sorted(grouped.items()))


def _repo_path(path: Path, environ: Mapping[str, str]) -> str:
    """The file relative to the checkout, which is what GitHub matches annotations against."""
    workspace = environ.get("GITHUB_WORKSPACE")
    if workspace:
        try:
            return path.resolve().relative_to(Path(workspace).resolve()).as_posix()
        except ValueError:
            pass
    return path.as_posix() if not path.is_absolute() else _relative_to_cwd(path)


def _relative_to_cwd(path: Path) -> str:
    try:
        return path.relative_to(Path.cwd()).as_posix()
    except ValueError:
        return path.as_posix()
