"""Suite 2: does a replayed call cost the same from a cassette of 20 and of 2,000?

The same 2,000 distinct calls are replayed twice: from 100 tests with a
cassette of 20 interactions each, and from one test with one cassette of
2,000. The per-call figure is the time of each test's calls 2..N measured
inside the test, summed over the tests, divided by the number of those calls:
the first call of a test pays one-off costs (loading its cassette, the SDK's
lazy imports), which the load columns show apart. Loading is timed in a fresh
interpreter (importing the cassette module, then loading the file), cold
(parsing the YAML) and warm (from the parsed cache).

pytest-recording scans the cassette for every lookup, so a test of N calls
costs it O(N²): it replays the 20-interaction cassettes, and one cassette of
200 (at 2,000 it would take minutes; bench/replay_scaling.py measures 1,000).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import workload
from harness import (
    NEITHER,
    OURS_REPLAY,
    VCR_ONLY,
    Run,
    Samples,
    bench_env,
    progress,
    ratio,
    round_robin,
    run_pytest,
)
from report import Check, Section
from suite_replay import parsed_cache

OURS = "pytest-llmbudget"
VCR = "pytest-recording"
FLOOR = "floor: httpx2.MockTransport"

LOAD_SCRIPT = """\
import sys, time
start = time.perf_counter()
from pathlib import Path
from pytest_llmbudget.recording.cassette import Cassette
from pytest_llmbudget.recording.parsed_cache import ParsedCache
# As the plugin loads it: the project's parsed cache, under its rootdir (the cwd here).
cassette = Cassette.load(Path(sys.argv[1]), cache=ParsedCache.under(Path.cwd()))
print(f"BENCH_LOAD={time.perf_counter() - start!r}")
print(f"BENCH_INTERACTIONS={len(cassette)}")
"""


@dataclass(frozen=True)
class Shape:
    tests: int
    calls: int

    @property
    def name(self) -> str:
        if self.tests == 1:
            return f"1 cassette of {self.calls}"
        return f"{self.tests} cassettes of {self.calls}"


@dataclass(frozen=True)
class Options:
    small: Shape
    large: Shape
    vcr_extra: Shape | None
    repeat: int


def time_load(workdir: Path, *, cold: bool, repeat: int) -> Samples:
    """Import the cassette module and load the first cassette, in a fresh interpreter."""
    cassette = workload.cassettes(workdir)[0]
    samples = Samples()
    for _ in range(repeat):
        if cold:
            shutil.rmtree(parsed_cache(workdir), ignore_errors=True)
        done = subprocess.run(
            [sys.executable, "-c", LOAD_SCRIPT, str(cassette)],
            cwd=workdir,
            env=bench_env(),
            capture_output=True,
            text=True,
            check=True,
        )
        metrics = dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line)
        load = float(metrics["BENCH_LOAD"])
        samples.runs.append(Run(0.0, 0.0, 0.0, 0.0, {"LOAD": load}, done.stdout))
    return samples


def run(root: Path, base_url: str, options: Options) -> Section:
    shapes = [options.small, options.large]
    vcr_shapes = [options.small] + ([options.vcr_extra] if options.vcr_extra else [])
    workdirs: dict[Shape, Path] = {}
    for shape in dict.fromkeys([*shapes, *vcr_shapes]):
        progress(f"suite 2: recording {shape.name} interactions ...")
        workdirs[shape] = root / f"scaling-{shape.tests}x{shape.calls}"
        workload.write_calls_project(workdirs[shape], tests=shape.tests, calls=shape.calls)
        workload.record(workdirs[shape], base_url)
    http = workload.http_env(base_url)

    configurations: dict[tuple[str, Shape], Callable[[], Run]] = {}
    for shape in shapes:
        workdir = workdirs[shape]
        memory = workload.memory_env(base_url)
        configurations[FLOOR, shape] = partial(run_pytest, workdir, NEITHER, env=memory)
        configurations[OURS, shape] = partial(run_pytest, workdir, OURS_REPLAY, env=http)
        configurations[OURS, shape]()  # fill the parsed cache
    for shape in vcr_shapes:
        vcr_args = [*VCR_ONLY, "--record-mode=none"]
        configurations[VCR, shape] = partial(run_pytest, workdirs[shape], vcr_args, env=http)
    named = {f"{tool}, {shape.name}": run for (tool, shape), run in configurations.items()}
    by_name = round_robin(named, options.repeat, "suite 2")
    results = {key: by_name[f"{key[0]}, {key[1].name}"] for key in configurations}
    loads = {
        (shape, cold): time_load(workdirs[shape], cold=cold, repeat=options.repeat)
        for shape in shapes
        for cold in (True, False)
    }

    def per_call_us(tool: str, shape: Shape) -> float:
        calls = shape.tests * (shape.calls - 1)
        return results[tool, shape].metric("CALLS") / calls * 1e6

    section = Section(
        title=f"2. {options.small.name} vs {options.large.name} interactions",
        note=(
            "The same distinct calls replayed from small cassettes and from one large one. "
            "µs/call: calls 2..N of each test, timed inside the test; first call: the sum "
            "over the tests of their first call (cassette loading included). Load: importing "
            "the cassette module and loading one cassette in a fresh interpreter. "
            f"Median of {options.repeat} runs."
        ),
        header=[
            "run",
            "cassettes",
            "pytest wall (s)",
            "first calls (ms)",
            "µs/call",
            "µs/call over floor",
            "load one, cold (ms)",
            "load one, warm (ms)",
        ],
    )
    for tool in (FLOOR, OURS, VCR):
        for shape in dict.fromkeys([*shapes, *vcr_shapes]):
            if (tool, shape) not in results:
                continue
            samples = results[tool, shape]
            over = ""
            if tool != FLOOR and (FLOOR, shape) in results:
                over = f"{per_call_us(tool, shape) - per_call_us(FLOOR, shape):+.0f}"
            load_cells = ["", ""]
            if tool == OURS:
                load_cells = [
                    f"{loads[shape, cold].metric('LOAD') * 1e3:.1f}" for cold in (True, False)
                ]
            section.rows.append(
                [
                    tool,
                    shape.name,
                    f"{samples.wall():.2f}",
                    f"{samples.metric('FIRST_CALL') * 1e3:.1f}",
                    f"{per_call_us(tool, shape):.0f}",
                    over,
                    *load_cells,
                ]
            )
    growth = ratio(per_call_us(OURS, options.large), per_call_us(OURS, options.small))
    section.checks.append(
        Check(f"3. µs/call, {options.large.name} ÷ {options.small.name}", growth, 1.2)
    )
    section.checks.append(
        Check(
            f"3. loading {options.large.name} (warm)",
            loads[options.large, False].metric("LOAD"),
            0.1,
            " s",
        )
    )
    return section
