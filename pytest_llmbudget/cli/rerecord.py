"""``llmbudget rerecord``: re-record the selected tests' cassettes, knowing the price first.

Three pytest runs, each with the project's own settings and conftest.py files:

1. ``--collect-only`` with the probe plugin (`pytest_llmbudget.cli.probe`):
   which cassette each selected test uses, and what those cost when recorded;
2. after a yes, ``--llm-record=rewrite`` on the same selection, with
   ``--llm-budget`` when ``--budget`` is given: only the selected tests run,
   so only their cassettes change;
3. the probe again, at the end of that run: what the new cassettes cost.

A re-record that the budget stopped (or that pytest did not finish) puts
back the previous cassette of every selected test that did not pass, so a
budget too small costs at most the budget and loses no recording. When the
run was not stopped, the new recordings stay, those of failing tests too:
the test may need fixing, not the recording.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from pytest_llmbudget.cli.common import FINDING, OK, USAGE, Commands, UsageProblemError, usd

# Our own options; everything else on the command line goes to pytest.
OWN_OPTIONS = {"--budget": True, "--yes": False, "-h": False, "--help": False}
# Options rerecord passes to pytest itself.
RESERVED = ("--llm-record", "--llm-report", "--llm-budget")
# Violations after which live calls were refused: the run did not finish re-recording.
STOPPING_KINDS = frozenset({"budget", "max_calls", "daily_budget"})
PROBE = "pytest_llmbudget.cli.probe"


def split_words(words: Sequence[str]) -> tuple[list[str], list[str]]:
    """The words that are ours and those for pytest, each in the order given.

    argparse cannot do this: it does not know which pytest options take a
    value (``-k NAME``), and would tear them from it.
    """
    own: list[str] = []
    rest: list[str] = []
    position = 0
    while position < len(words):
        word = words[position]
        name = word.split("=", 1)[0]
        if word == "--":
            rest.extend(words[position + 1 :])
            break
        if name in OWN_OPTIONS:
            own.append(word)
            if OWN_OPTIONS[name] and "=" not in word and position + 1 < len(words):
                position += 1
                own.append(words[position])
        else:
            rest.append(word)
        position += 1
    return own, rest


def _check_pytest_args(pytest_args: Sequence[str]) -> None:
    for word in pytest_args:
        name = word.split("=", 1)[0]
        if name in RESERVED:
            raise UsageProblemError(
                f"{name} is set by llmbudget rerecord itself; leave it out "
                "(use --budget for a budget, or run pytest directly for another record mode)"
            )


def _interactive() -> bool:
    return sys.stdin is not None and sys.stdin.isatty()


def _pytest(*args: str | Path, capture: bool) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "pytest", *map(str, args)]
    return subprocess.run(command, capture_output=capture, text=True, check=False)


@dataclass(slots=True)
class Cassette:
    """One cassette of the selection: its tests, and what it held before and after."""

    path: Path
    shown: str
    tests: list[str] = field(default_factory=list)
    before: dict[str, Any] = field(default_factory=dict)
    after: dict[str, Any] | None = None
    old_bytes: bytes | None = None
    restored: bool = False

    @property
    def cost_before(self) -> Decimal:
        return Decimal(str(self.before.get("cost_usd", "0")))

    @property
    def recorded(self) -> bool:
        return bool(self.before.get("exists"))


@dataclass(slots=True)
class Selection:
    rootdir: Path
    match_ignore: tuple[str, ...]
    tests: list[str]
    cassettes: dict[Path, Cassette]


def _shown(path: Path, rootdir: Path) -> str:
    try:
        return path.relative_to(rootdir).as_posix()
    except ValueError:
        return str(path)


def _collect(pytest_args: Sequence[str], workdir: Path) -> Selection:
    """Run the probe with ``--collect-only``; raise UsageProblemError when pytest says no."""
    out = workdir / "selection.json"
    result = _pytest(
        "--collect-only", "-q", "-p", PROBE, f"--llm-probe-out={out}", *pytest_args, capture=True
    )
    if result.returncode == 5:
        raise UsageProblemError(
            f"pytest selected no test from: {' '.join(pytest_args) or '(the whole suite)'}"
        )
    if result.returncode != 0 or not out.exists():
        sys.stdout.write(result.stdout)
        sys.stderr.write(result.stderr)
        raise UsageProblemError(
            f"pytest could not collect the tests (exit status {result.returncode}); "
            "nothing was re-recorded"
        )
    document = json.loads(out.read_text(encoding="utf-8"))
    if "error" in document:
        raise UsageProblemError(document["error"])
    rootdir = Path(document["rootdir"])
    cassettes: dict[Path, Cassette] = {}
    for test in document["tests"]:
        path = Path(test["cassette"])
        entry = cassettes.get(path)
        if entry is None:
            entry = cassettes[path] = Cassette(path, _shown(path, rootdir))
            entry.before = document["cassettes"].get(str(path), {})
        entry.tests.append(test["nodeid"])
    shared = [
        (test["nodeid"], _shown(Path(test["cassette"]), rootdir))
        for test in document["left_out"]
        if Path(test["cassette"]) in cassettes
    ]
    if shared:
        lines = "\n".join(f"  {nodeid} (uses {path})" for nodeid, path in shared)
        raise UsageProblemError(
            "these tests share a cassette with the selection but are not selected; "
            f"re-recording would drop their recordings. Select them too:\n{lines}"
        )
    return Selection(
        rootdir,
        tuple(document["match_ignore"]),
        [t["nodeid"] for t in document["tests"]],
        cassettes,
    )


def _plural(number: int, word: str) -> str:
    return f"{number:,} {word}{'' if number == 1 else 's'}"


def _table(rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    for row in rows:
        print(
            "  "
            + "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )


def _show_plan(selection: Selection, budget: Decimal | None) -> None:
    from pytest_llmbudget.report.formatting import usd as money

    cassettes = list(selection.cassettes.values())
    print(
        f"{_plural(len(selection.tests), 'test')} selected, "
        f"{_plural(len(cassettes), 'cassette')}, as last recorded:"
    )
    rows: list[tuple[str, ...]] = []
    for cassette in cassettes:
        before = cassette.before
        if "error" in before:
            rows.append((cassette.shown, "unreadable", before["error"]))
        elif not cassette.recorded:
            rows.append((cassette.shown, "not recorded yet"))
        else:
            when = str(before.get("recorded_at") or "")[:10]
            rows.append(
                (
                    cassette.shown,
                    _plural(int(before.get("calls", 0)), "call"),
                    money(cassette.cost_before),
                    f"recorded {when}" if when else "",
                )
            )
    width = max(len(row) for row in rows)
    _table([row + ("",) * (width - len(row)) for row in rows])
    total = sum((c.cost_before for c in cassettes), Decimal(0))
    calls = sum(int(c.before.get("calls", 0)) for c in cassettes)
    unpriced = sum(int(c.before.get("unpriced", 0)) for c in cassettes)
    print(
        f"Last recorded cost: {money(total)} for {_plural(calls, 'call')}"
        + (f" ({_plural(unpriced, 'call')} of unknown price)" if unpriced else "")
        + ". Re-recording makes these calls live: expect to spend about as much."
    )
    if budget is not None:
        print(f"Budget: {money(budget)}; live calls beyond it are refused and the run fails.")


def _confirm(count: int) -> bool:
    try:
        answer = input(f"Re-record {_plural(count, 'cassette')}? [y/N] ")
    except EOFError:
        return False
    return answer.strip().lower() in ("y", "yes")


def _report(path: Path) -> dict[str, Any] | None:
    from pytest_llmbudget.report.jsonreport import ReportError, load

    try:
        return load(path)
    except ReportError:
        return None


def _outcomes(report: dict[str, Any] | None) -> dict[str, str]:
    outcomes: dict[str, str] = {}
    for entry in (report or {}).get("cassettes") or []:
        outcomes.update(entry.get("tests", {}))
    return outcomes


def _stopped(report: dict[str, Any] | None) -> str | None:
    """Why live calls stopped before the selection was re-recorded; None if they did not."""
    if report is None:
        return "pytest did not finish"
    for violation in report.get("violations", []):
        if violation.get("kind") in STOPPING_KINDS:
            return str(violation.get("message"))
    return None


def _restore(cassette: Cassette) -> None:
    from pytest_llmbudget.recording.cassette import write_atomic

    if cassette.old_bytes is None:
        cassette.path.unlink(missing_ok=True)
    else:
        write_atomic(cassette.path, cassette.old_bytes.decode("utf-8"))
    cassette.restored = True


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def _print_changes(selection: Selection) -> None:
    from pytest_llmbudget.cassette_diff import diff
    from pytest_llmbudget.errors import CassetteError
    from pytest_llmbudget.report.formatting import usd as money

    changed, same, rerecorded, restored = [], [], [], []
    for cassette in selection.cassettes.values():
        if cassette.restored:
            restored.append(cassette)
            continue
        new = _read(cassette.path)
        if new == cassette.old_bytes:
            same.append(cassette.shown)
            continue
        try:
            found = diff(cassette.old_bytes, new, cassette.path, selection.match_ignore)
        except CassetteError as error:
            summary = f"cannot compare: {error.problem}"
        else:
            if new is not None and cassette.old_bytes is not None and found.same:
                rerecorded.append(cassette.shown)
                continue
            summary = str(found)
        if new is None:
            summary = "deleted: its test made no LLM call"
        elif cassette.old_bytes is None:
            summary = f"new, {summary}"
        after = (cassette.after or {}).get("cost_usd")
        cost = money(cassette.cost_before) if cassette.recorded else "-"
        cost += f" → {money(Decimal(str(after)))}" if after is not None and new is not None else ""
        changed.append((cassette.shown, summary, cost))
    if changed:
        print(f"Changed {_plural(len(changed), 'cassette')}:")
        for shown, summary, cost in changed:
            print(f"  {shown}: {summary}; cost {cost}")
    if same:
        print(f"Unchanged: {', '.join(same)}")
    if rerecorded:
        print(
            "Unchanged, the same requests and answers (only the recording times are new): "
            f"{', '.join(rerecorded)}"
        )
    if restored:
        print(
            f"Put back as they were, since the run stopped before their tests passed: "
            f"{', '.join(c.shown for c in restored)}"
        )


def _run(
    selection: Selection, pytest_args: Sequence[str], budget: Decimal | None, workdir: Path
) -> int:
    from pytest_llmbudget.report.formatting import plain
    from pytest_llmbudget.report.formatting import usd as money

    report_path = workdir / "report.json"
    prices_in, prices_out = workdir / "cassettes.json", workdir / "prices.json"
    prices_in.write_text(json.dumps([str(path) for path in selection.cassettes]), encoding="utf-8")
    for cassette in selection.cassettes.values():
        cassette.old_bytes = _read(cassette.path)
    # option=value, one word each: pytest (and xdist's workers) must not take a path
    # given as a separate word for a test path when they choose the rootdir.
    options = ["--llm-record=rewrite", f"--llm-report={report_path}"]
    if budget is not None:
        options.append(f"--llm-budget={plain(budget)}")
    options += ["-p", PROBE, f"--llm-probe-out={prices_out}", f"--llm-probe-price={prices_in}"]
    shown = [option for option in options if option.startswith(("--llm-record", "--llm-budget"))]
    print(f"Running: pytest {' '.join([*shown, *pytest_args])}")
    sys.stdout.flush()
    interrupted = False
    try:
        status = _pytest(*options, *pytest_args, capture=False).returncode
    except KeyboardInterrupt:
        interrupted, status = True, 2
    report = _report(report_path)
    stopped = "interrupted" if interrupted else _stopped(report)
    outcomes = _outcomes(report)
    if stopped is not None:
        for cassette in selection.cassettes.values():
            if any(outcomes.get(nodeid) != "passed" for nodeid in cassette.tests):
                _restore(cassette)
    if interrupted:
        raise KeyboardInterrupt
    if prices_out.exists():
        after = json.loads(prices_out.read_text(encoding="utf-8")).get("cassettes", {})
        for cassette in selection.cassettes.values():
            cassette.after = after.get(str(cassette.path))
    print()
    _print_changes(selection)
    if report is not None:
        totals = report["totals"]
        spent = f"Spent {money(Decimal(str(totals['spend_usd'])))} live"
        spent += f" in {_plural(int(totals['live_calls']), 'call')}"
        print(spent + (f" (budget {money(budget)})." if budget is not None else "."))
    if stopped is not None:
        print(f"Stopped: {stopped}.")
    if status in (4, 5):
        return USAGE
    return OK if status == 0 and stopped is None else FINDING


def cmd_rerecord(args: argparse.Namespace) -> int:
    """Show the selection's recorded cost, ask, re-record; exit as pytest did."""
    _own, pytest_args = split_words(args.words)
    _check_pytest_args(pytest_args)
    if not args.yes and not _interactive():
        raise UsageProblemError(
            "standard input is not a terminal, so nobody can confirm the re-recording; "
            "pass --yes to re-record without asking"
        )
    with tempfile.TemporaryDirectory(prefix="llmbudget-rerecord-") as temp:
        workdir = Path(temp)
        selection = _collect(pytest_args, workdir)
        _show_plan(selection, args.budget)
        if not args.yes and not _confirm(len(selection.cassettes)):
            print("Nothing re-recorded.")
            return OK
        return _run(selection, pytest_args, args.budget, workdir)


def register(commands: Commands) -> None:
    rerecord = commands.add_parser(
        "rerecord",
        help="Re-record the cassettes of the selected tests, showing their cost first.",
        usage="llmbudget rerecord [-h] [--budget USD] [--yes] [PYTEST_ARGS ...]",
        description="Re-record the cassettes of the tests PYTEST_ARGS select (paths, node ids, "
        "-k, -m, any pytest option): show what they cost when last recorded, ask, then run "
        "pytest --llm-record=rewrite on the selection and print which cassettes changed and "
        "what the run spent. Tests that share a cassette with the selection must be selected "
        "too. If the budget stops the run, the cassettes of the tests that did not pass are "
        "put back as they were.",
        epilog="Exit status: 0 re-recorded, 1 a test failed or the budget was exceeded, "
        "2 a usage error (also: stdin is not a terminal and --yes is missing). "
        "Words after -- all go to pytest.",
        allow_abbrev=False,
    )
    rerecord.set_defaults(run=cmd_rerecord, pass_through=True)
    rerecord.add_argument(
        "--budget",
        type=usd,
        metavar="USD",
        help="refuse live calls once the re-recording has spent USD (pytest --llm-budget)",
    )
    rerecord.add_argument(
        "--yes",
        action="store_true",
        help="do not ask before re-recording (required when stdin is not a terminal)",
    )
    rerecord.add_argument(
        "pytest_args",
        metavar="PYTEST_ARGS",
        nargs="*",
        help="which tests, as pytest takes them (default: the whole suite)",
    )
