"""Suite 1: a test suite of 40 tests x 25 openai calls, replayed, next to its floor.

The figure a user feels: the wall time of ``pytest`` on a suite whose LLM
calls all replay. Rows: our plugin (with its parsed-cassette cache warm, and
cold), pytest-recording on the same cassette files, the in-memory floor, and
the same tests live against the loopback stand-in.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import workload
from harness import (
    NEITHER,
    OURS_REPLAY,
    VCR_ONLY,
    BenchError,
    Run,
    count_instructions,
    count_side_by_side,
    instructions_note,
    progress,
    ratio,
    round_robin,
    run_pytest,
)
from report import Check, Section, seconds

OURS = "pytest-llmbudget (replay)"
OURS_COLD = "pytest-llmbudget (replay, no parsed cache)"
VCR = "pytest-recording (replay)"
FLOOR = "floor: httpx2.MockTransport"
LIVE = "live: loopback stand-in"


@dataclass(frozen=True)
class Options:
    tests: int
    calls: int
    repeat: int
    # Also count the instructions of one floor and one warm replay (valgrind).
    instructions: bool = False


def parsed_cache(workdir: Path) -> Path:
    """Where our plugin keeps parsed cassettes for this project."""
    return workdir / ".llmbudget" / "cache"


def digest(workdir: Path) -> str:
    hashed = hashlib.sha256()
    for path in workload.cassettes(workdir):
        hashed.update(path.name.encode())
        hashed.update(path.read_bytes())
    return hashed.hexdigest()


def run(root: Path, base_url: str, options: Options) -> Section:
    workdir = root / "replay-suite"
    workload.write_calls_project(workdir, tests=options.tests, calls=options.calls)
    progress(f"suite 1: recording {options.tests} x {options.calls} calls ...")
    workload.record(workdir, base_url)
    before = digest(workdir)
    http = workload.http_env(base_url)

    def ours() -> Run:
        return run_pytest(workdir, OURS_REPLAY, env=http)

    def ours_cold() -> Run:
        # Emptied before, and filled again by this very run: the next warm run is warm.
        shutil.rmtree(parsed_cache(workdir), ignore_errors=True)
        return ours()

    configurations: dict[str, Callable[[], Run]] = {
        FLOOR: lambda: run_pytest(workdir, NEITHER, env=workload.memory_env(base_url)),
        OURS: ours,
        OURS_COLD: ours_cold,
        VCR: lambda: run_pytest(workdir, [*VCR_ONLY, "--record-mode=none"], env=http),
        LIVE: lambda: run_pytest(workdir, NEITHER, env=http),
    }
    ours()  # fill the parsed cache, as the first replay after recording does
    results = round_robin(configurations, options.repeat, "suite 1")
    counted: dict[str, int] = {}
    if options.instructions:
        progress("suite 1: counting instructions (valgrind) ...")
        counted = count_side_by_side(
            {
                FLOOR: lambda: count_instructions(
                    workdir, NEITHER, env=workload.memory_env(base_url)
                ),
                OURS: lambda: count_instructions(workdir, OURS_REPLAY, env=http),
            }
        )
    if digest(workdir) != before:
        raise BenchError(f"a replay run changed the cassettes under {workdir}")

    floor = results[FLOOR].wall()
    section = Section(
        title=f"1. Replaying a suite of {options.tests} tests x {options.calls} calls",
        note=(
            f"{options.tests * options.calls} openai chat completions, one cassette of "
            f"{options.calls} interactions per test. Wall and CPU (user + system) time of the "
            "whole pytest process; pytest's own time is the one it prints (from collection "
            f"on). Median of {options.repeat} runs."
        ),
        header=[
            "run",
            "pytest wall (s)",
            "wall ÷ floor",
            "pytest's own time (s)",
            "CPU (s)",
            "CPU ÷ floor",
            "peak RSS (MB)",
        ],
    )
    floor_cpu = results[FLOOR].cpu()
    for name, samples in results.items():
        section.rows.append(
            [
                name,
                seconds(samples.wall()),
                f"{ratio(samples.wall(), floor):.2f}",
                seconds(samples.session()),
                seconds(samples.cpu()),
                f"{ratio(samples.cpu(), floor_cpu):.2f}",
                f"{samples.rss():.0f}",
            ]
        )
    ours_wall = results[OURS].wall()
    section.checks.append(Check("2. replay suite: ours ÷ floor", ratio(ours_wall, floor), 1.15))
    if counted:
        section.note += " " + instructions_note(counted, FLOOR)
        section.checks.append(
            Check(
                "2. replay suite: ours ÷ floor, instructions executed",
                ratio(counted[OURS], counted[FLOOR]),
                1.15,
            )
        )
    section.checks.append(
        Check(
            "2. replay suite: ours ÷ pytest-recording", ratio(ours_wall, results[VCR].wall()), 0.8
        )
    )
    return section
