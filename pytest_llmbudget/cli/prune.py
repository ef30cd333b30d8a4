"""``llmbudget prune``: drop the cassettes and interactions a full run no longer plays.

The report of a full run (``pytest --llm-report``) names every collected
test's cassette and the interactions each played; without ``--report`` the
command makes one, running the whole suite replay-only (``--llm-record=none``:
no live call, nothing spent). The decisions are in `pytest_llmbudget.pruning`;
this module finds the project, prints the plan and carries it out.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_llmbudget.cli.common import OK, Commands, UsageProblemError
from pytest_llmbudget.cli.project import add_rootdir_option, find_project

if TYPE_CHECKING:
    from pytest_llmbudget.pruning import Plan


def _plural(number: int, word: str) -> str:
    return f"{number:,} {word}{'' if number == 1 else 's'}"


def _load(path: Path) -> dict[str, Any]:
    from pytest_llmbudget.report.jsonreport import ReportError, load

    try:
        return load(path)
    except ReportError as error:
        raise UsageProblemError(str(error)) from None


def _full_run(rootdir: Path, workdir: Path) -> dict[str, Any]:
    """Run the whole suite replay-only from the rootdir, and read its report."""
    report = workdir / "report.json"
    command = [sys.executable, "-m", "pytest", "--llm-record=none", f"--llm-report={report}"]
    print(f"No --report given: running the whole suite replay-only in {rootdir}:")
    print("  pytest --llm-record=none --llm-report=(a temporary file)")
    sys.stdout.flush()
    status = subprocess.run(command, cwd=rootdir, check=False).returncode
    if not report.exists():
        raise UsageProblemError(
            f"pytest wrote no report (exit status {status}); nothing was pruned"
        )
    print()
    return _load(report)


def _within(name: str | None, rootdir: Path) -> Path:
    if name is None:
        return rootdir
    path = Path(name).resolve()
    if not path.is_dir():
        raise UsageProblemError(f"{name}: no such directory")
    if path != rootdir and rootdir not in path.parents:
        raise UsageProblemError(f"{name} is outside the rootdir {rootdir}")
    return path


def _print_plan(result: Plan, dry_run: bool) -> None:
    deletes, trims = result.delete, result.trims
    if deletes:
        verb = "Would delete" if dry_run else "Deleted"
        print(f"{verb} {_plural(len(deletes), 'cassette')} that no collected test uses:")
        for orphan in deletes:
            print(f"  {orphan.shown}")
    if trims:
        removed = sum(len(trim.removed) for trim in trims)
        verb = "Would remove" if dry_run else "Removed"
        print(
            f"{verb} {_plural(removed, 'interaction')} that the run did not play, "
            f"from {_plural(len(trims), 'cassette')}:"
        )
        for trim in trims:
            print(f"  {trim.shown}: {trim.numbers()} ({len(trim.keep)} of {trim.total} kept)")
    if result.kept:
        print(f"Left alone ({_plural(len(result.kept), 'cassette')}):")
        for shown, why in result.kept:
            print(f"  {shown}: {why}")


def cmd_prune(args: argparse.Namespace) -> int:
    """Print and (unless --dry-run) carry out the plan; exit 2 for a partial or foreign report."""
    from pytest_llmbudget import pruning

    rootdir = find_project(rootdir=args.rootdir).rootdir.resolve()
    within = _within(args.dir, rootdir)
    with tempfile.TemporaryDirectory(prefix="llmbudget-prune-") as temp:
        if args.report is not None:
            source, document = args.report, _load(Path(args.report))
        else:
            source, document = "the suite's run", _full_run(rootdir, Path(temp))
    try:
        result = pruning.plan(document, rootdir, within, source)
    except pruning.PruneRefusedError as error:
        raise UsageProblemError(str(error)) from None
    except (KeyError, TypeError, ValueError) as error:
        raise UsageProblemError(
            f"{source}: its run or cassettes part is malformed ({error!r})"
        ) from None
    run = document["run"]
    tests = _plural(int(run.get("collected") or 0), "test")
    if result.scope is None:
        print(f"From {source}: a full run of {tests}, started {run.get('started_at')}.")
    else:
        print(
            f"From {source}: a run of {tests}, whole in {', '.join(result.scope)} but not the "
            f"whole suite, started {run.get('started_at')}: only the cassettes of the tests "
            "there are pruned."
        )
    if not result.delete and not result.trims:
        _print_plan(result, args.dry_run)
        print("Nothing to prune: every cassette is used, and every interaction was played.")
        return OK
    if not args.dry_run:
        skipped = pruning.apply(result)
        result.trims[:] = [trim for trim in result.trims if trim.shown not in skipped]
        result.kept.extend((shown, "it changed while prune ran") for shown in skipped)
    _print_plan(result, args.dry_run)
    if args.dry_run:
        print("Dry run: nothing was changed.")
    return OK


def register(commands: Commands) -> None:
    prune = commands.add_parser(
        "prune",
        help="Remove cassettes and interactions that the last full run did not play.",
        description="Delete the cassettes no collected test uses any more, and the "
        "interactions that a full run did not play from the cassettes of tests that passed, "
        "as the JSON report of that run (pytest --llm-report) says. Without --report, run the "
        "whole suite replay-only first (--llm-record=none: no live call). Only the cassette "
        "folders of the run's test files (or its --llm-cassette-dir) are looked at, and only "
        "what pytest-llmbudget recorded is removed: another tool's cassettes (pytest-recording, "
        "vcrpy) stay. A report of a partial run (-k, -m, --deselect, --lf, node ids, -x or "
        "maxfail stopping it), of a run that collected no test, or of another project is "
        "refused; a run given some paths (pytest tests) prunes only the cassettes of the tests "
        "under them. Cassettes of tests that failed or were skipped keep every interaction; "
        "files changed since the run are left alone.",
        epilog="Exit status: 0 pruned (or nothing to prune), 2 a usage error: a partial run's "
        "report, another project's, a report without cassette data, a path that is not there.",
    )
    prune.set_defaults(run=cmd_prune)
    prune.add_argument(
        "dir",
        metavar="DIR",
        nargs="?",
        help="prune only cassettes under DIR (default: the whole rootdir)",
    )
    prune.add_argument(
        "--dry-run", action="store_true", help="list what would be removed; change nothing"
    )
    prune.add_argument(
        "--report",
        metavar="REPORT.json",
        help="the --llm-report of a full run (default: run the suite replay-only to make one)",
    )
    add_rootdir_option(prune)
