"""Suite 4: what the plugin costs a suite that makes no LLM call at all.

400 plain tests in 8 modules, none touching the network, run with our plugin
loaded and with ``-p no:llmbudget`` (pytest-recording is off in both). The
difference is the plugin's import, its configure hooks, and its per-test
hooks (a recorder is prepared for every test). Runs are short (about a
second), so this figure takes more runs than the others.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from harness import (
    NEITHER,
    OURS_ONLY,
    count_instructions,
    count_side_by_side,
    instructions_note,
    progress,
    ratio,
    round_robin,
    run_pytest,
)
from report import Check, Section, seconds

WITH = "with the plugin"
WITHOUT = "-p no:llmbudget"
MODULES = 8
TESTS_PER_MODULE = 50


@dataclass(frozen=True)
class Options:
    repeat: int
    # Also count the instructions of one run each (valgrind).
    instructions: bool = False


def write_project(workdir: Path) -> None:
    workdir.mkdir()
    (workdir / "pytest.ini").write_text("[pytest]\n")
    for module in range(MODULES):
        tests = "\n\n".join(
            f"def test_plain_{n}():\n    assert sum(range({n})) >= 0\n"
            for n in range(TESTS_PER_MODULE)
        )
        (workdir / f"test_plain_{module}.py").write_text(f'"""No LLM here."""\n\n\n{tests}')


def run(root: Path, options: Options) -> Section:
    workdir = root / "no-llm-calls"
    write_project(workdir)
    progress(f"suite 4: {MODULES * TESTS_PER_MODULE} tests with no LLM call ...")
    results = round_robin(
        {
            WITHOUT: lambda: run_pytest(workdir, NEITHER),
            WITH: lambda: run_pytest(workdir, OURS_ONLY),
        },
        options.repeat,
        "suite 4",
    )
    base = results[WITHOUT].wall()
    section = Section(
        title=f"4. {MODULES * TESTS_PER_MODULE} tests with no LLM call",
        note=(
            "Wall and CPU (user + system) time of the pytest process, "
            f"median of {options.repeat} runs."
        ),
        header=["run", "pytest wall (s)", "wall ÷ without", "CPU (s)", "CPU ÷ without"],
    )
    base_cpu = results[WITHOUT].cpu()
    for name, samples in results.items():
        section.rows.append(
            [
                name,
                seconds(samples.wall()),
                f"{ratio(samples.wall(), base):.3f}",
                seconds(samples.cpu()),
                f"{ratio(samples.cpu(), base_cpu):.3f}",
            ]
        )
    section.checks.append(
        Check("5. no LLM call: with ÷ without the plugin", ratio(results[WITH].wall(), base), 1.03)
    )
    if options.instructions:
        progress("suite 4: counting instructions (valgrind) ...")
        counted = count_side_by_side(
            {
                WITHOUT: lambda: count_instructions(workdir, NEITHER),
                WITH: lambda: count_instructions(workdir, OURS_ONLY),
            }
        )
        section.note += " " + instructions_note(counted, WITHOUT)
        section.checks.append(
            Check(
                "5. no LLM call: with ÷ without the plugin, instructions executed",
                ratio(counted[WITH], counted[WITHOUT]),
                1.03,
            )
        )
    return section
