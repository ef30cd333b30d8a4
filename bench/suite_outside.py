"""Suite 7: the figures a user measures from outside, with whole ``pytest`` processes.

Every other suite isolates one promise; this one takes the plugin as a user
meets it: ``time pytest`` on a project shaped like theirs, nothing set but the
record mode. Two shapes of the same 40 tests x 25 openai calls:

* **native**: plain tests, cassettes the plugin names itself;
* **marked**: ``@pytest.mark.vcr`` tests with pytest-recording's defaults (no
  ``vcr_config``), the suite a user brings from pytest-recording; the same
  cassettes replay under either plugin, so the two are compared on them.

Plus one test replaying a single cassette of 1,000 interactions (where
pytest-recording scans the cassette for each call), the first replay of a
fresh clone (no ``.llmbudget/cache``; the user cache folder, which holds
genai-prices' answers per install, kept, as on a developer's machine), the
same on a new machine (that folder empty too, as on a CI runner without a
cache), and 400 tests that call no LLM.
Configurations run round-robin (in alternating order); each figure is the
median of its runs.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import suite_startup
import workload
from harness import NEITHER, VCR_ONLY, Run, Samples, paired_ratio, progress, round_robin, run_pytest
from report import Check, Section, seconds

OURS = ("-p", "no:recording", "--llm-record=none")
# A single test making 1,000 calls: past the per-test call limit, which counts replays.
OURS_UNLIMITED = (*OURS, "--llm-test-max-calls=0")
VCR = (*VCR_ONLY, "--record-mode=none")
QUIET_TESTS = suite_startup.MODULES * suite_startup.TESTS_PER_MODULE
MARKER_CONFTEST = (
    "def pytest_configure(config):\n"
    '    config.addinivalue_line("markers", "vcr: pytest-recording cassette")\n'
)


@dataclass(frozen=True)
class Options:
    tests: int
    calls: int
    big: int  # interactions in the one large cassette
    repeat: int


def _project(workdir: Path, base_url: str, *, tests: int, calls: int, marked: bool) -> Path:
    """A recorded project; ``marked`` keeps ``@pytest.mark.vcr`` and pytest-recording's defaults."""
    workload.write_calls_project(workdir, tests=tests, calls=calls)
    (workdir / "conftest.py").write_text(MARKER_CONFTEST if marked else "")
    if not marked:
        module = workdir / f"{workload.MODULE}.py"
        module.write_text(module.read_text().replace("@pytest.mark.vcr\n", ""))
    workload.record(workdir, base_url)
    return workdir


def _cold(
    workdir: Path, run: Callable[[], Run], user_cache: Path | None = None
) -> Callable[[], Run]:
    """``run`` with the project's cache removed first; and ``user_cache``, when given."""

    def first_replay() -> Run:
        shutil.rmtree(workdir / ".llmbudget" / "cache", ignore_errors=True)
        if user_cache is not None:
            shutil.rmtree(user_cache, ignore_errors=True)
        return run()

    return first_replay


def run(root: Path, base_url: str, options: Options) -> Section:
    progress(
        f"suite 7: recording {options.tests} x {options.calls} calls twice, 1 x {options.big} ..."
    )
    shape = {"tests": options.tests, "calls": options.calls}
    native = _project(root / "outside-native", base_url, **shape, marked=False)
    marked = _project(root / "outside-marked", base_url, **shape, marked=True)
    big = _project(root / "outside-big", base_url, tests=1, calls=options.big, marked=True)
    quiet = root / "outside-no-llm"
    suite_startup.write_project(quiet)
    http, memory = workload.http_env(base_url), workload.memory_env(base_url)

    def ours(
        workdir: Path, args: tuple[str, ...] = OURS, env: dict[str, str] = http
    ) -> Callable[[], Run]:
        return lambda: run_pytest(workdir, args, env=env)

    new_machine = root / "outside-user-cache"
    on_new_machine = {**http, "LLMBUDGET_CACHE_DIR": str(new_machine)}

    for workdir in (native, marked, big):
        ours(workdir, OURS_UNLIMITED)()  # the parsed cache filled, as by any first replay
    suites = {
        "native": {
            "floor": lambda: run_pytest(native, NEITHER, env=memory),
            "pytest-llmbudget": ours(native),
            "pytest-llmbudget, first replay": _cold(native, ours(native)),
            "pytest-llmbudget, first replay, new machine": _cold(
                native, ours(native, env=on_new_machine), new_machine
            ),
        },
        "marked": {
            "floor": lambda: run_pytest(marked, NEITHER, env=memory),
            "pytest-llmbudget": ours(marked),
            "pytest-recording": lambda: run_pytest(marked, VCR, env=http),
        },
        "one cassette": {
            # What the SDK costs for these 1,000 calls: no tool can replay them for less.
            "floor": lambda: run_pytest(big, NEITHER, env=memory),
            "pytest-llmbudget": ours(big, OURS_UNLIMITED),
            "pytest-recording": lambda: run_pytest(big, VCR, env=http),
        },
        "no LLM call": {
            "-p no:llmbudget": lambda: run_pytest(quiet, NEITHER),
            "with the plugin": lambda: run_pytest(quiet, ("-p", "no:recording")),
        },
    }
    results: dict[str, dict[str, Samples]] = {}
    for name, configurations in suites.items():
        # Short runs and a close ratio: more of them.
        repeat = 4 * options.repeat + 1 if name == "no LLM call" else options.repeat
        results[name] = round_robin(configurations, repeat, f"suite 7, {name}")

    section = Section(
        title="7. From outside: whole pytest processes on a user's suite",
        note=(
            f"{options.tests} tests x {options.calls} openai calls, plain (native) and "
            "@pytest.mark.vcr with pytest-recording's defaults (marked); one test replaying "
            f"one cassette of {options.big:,} interactions; {QUIET_TESTS} tests with no LLM "
            "call. A first replay runs without .llmbudget/cache (a fresh clone); on a new "
            "machine, without the user cache folder of genai-prices' answers too. "
            "Wall time of the whole pytest process, median of "
            f"{options.repeat} runs ({4 * options.repeat + 1} for the runs without calls), "
            "run round-robin; a ratio is the median of the ratios of the runs of one round "
            "(alternating pairs), so that a machine drifting over the rounds moves both "
            "sides of each."
        ),
        header=["suite", "run", "wall (s)", "÷ first row", "CPU (s)", "peak RSS (MB)"],
    )
    for name, samples in results.items():
        first = next(iter(samples.values()))
        for label, runs in samples.items():
            section.rows.append(
                [
                    name,
                    label,
                    seconds(runs.wall()),
                    f"{paired_ratio(runs, first):.3f}",
                    seconds(runs.cpu()),
                    f"{runs.rss():.0f}",
                ]
            )

    def runs_of(suite: str, label: str) -> Samples:
        return results[suite][label]

    section.checks += [
        Check(
            "2. replay, 40 x 25 native: ours ÷ floor",
            paired_ratio(runs_of("native", "pytest-llmbudget"), runs_of("native", "floor")),
            1.10,
        ),
        Check(
            "2. replay, 40 x 25 marked: ours ÷ floor",
            paired_ratio(runs_of("marked", "pytest-llmbudget"), runs_of("marked", "floor")),
            1.10,
        ),
        Check(
            "2. no LLM call: with ÷ without the plugin",
            paired_ratio(
                runs_of("no LLM call", "with the plugin"), runs_of("no LLM call", "-p no:llmbudget")
            ),
            1.02,
        ),
        Check(
            "2. replay, 40 x 25 marked: ours ÷ pytest-recording",
            paired_ratio(
                runs_of("marked", "pytest-llmbudget"), runs_of("marked", "pytest-recording")
            ),
            0.7,
        ),
        Check(
            f"2. replay, 1 cassette of {options.big:,}: ours ÷ pytest-recording",
            paired_ratio(
                runs_of("one cassette", "pytest-llmbudget"),
                runs_of("one cassette", "pytest-recording"),
            ),
            0.2,
        ),
        Check(
            "2. first replay of a fresh clone (no .llmbudget/cache) ÷ floor",
            paired_ratio(
                runs_of("native", "pytest-llmbudget, first replay"), runs_of("native", "floor")
            ),
            1.25,
        ),
    ]
    return section
