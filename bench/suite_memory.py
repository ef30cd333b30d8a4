"""Suite 5: memory while replaying 50 MB of cassettes.

Cassettes are recorded against the stand-in; a copy of the project keeps
them as they are (short answers), and in the project itself each answer's
text is grown to a long one (about 50 KB an interaction) so that its
cassette files add up to the target size: once as 25 cassettes of 40 calls,
once as one cassette of 1,000 calls. The figure is the peak RSS of the pytest
process (VmHWM) replaying the long cassettes, over the same tool replaying
the short ones: the memory the cassettes' size costs, apart from what the
tool costs anyway (its imports, the SDK).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import workload
from harness import OURS_REPLAY, VCR_ONLY, Run, progress, ratio, round_robin, run_pytest
from report import Check, Section
from suite_replay import parsed_cache

from pytest_llmbudget.recording.cassette import Cassette

OURS = "pytest-llmbudget"
OURS_COLD = "pytest-llmbudget, no parsed cache"
VCR = "pytest-recording"


@dataclass(frozen=True)
class Options:
    megabytes: float
    repeat: int


@dataclass(frozen=True)
class Layout:
    name: str
    tests: int
    calls: int
    with_vcr: bool


LAYOUTS = (
    Layout("25 cassettes of 40 calls", tests=25, calls=40, with_vcr=True),
    # pytest-recording needs minutes for 1,000 calls in one cassette (O(N²)).
    Layout("1 cassette of 1,000 calls", tests=1, calls=1000, with_vcr=False),
)


def filler(size: int) -> str:
    words = (f"token{n % 997} " for n in range(size // 6 + 1))
    return "".join(words)[:size]


def size_mb(workdir: Path) -> float:
    return sum(path.stat().st_size for path in workload.cassettes(workdir)) / 1e6


def inflate(workdir: Path, megabytes: float, interactions: int) -> None:
    """Grow every recorded answer so that the cassettes total about ``megabytes``."""
    extra = max(int((megabytes - size_mb(workdir)) * 1e6 / interactions), 0)
    text = filler(extra)
    for path in workload.cassettes(workdir):
        cassette = Cassette.load(path)
        for interaction in cassette.interactions:
            body = interaction["response"]["body"]
            answer = json.loads(workload.text(body["string"]))
            answer["choices"][0]["message"]["content"] = text
            body["string"] = json.dumps(answer)
        cassette.save()


def _replay_cold(ours: Callable[[], Run], workdir: Path) -> Run:
    # Emptied before, and filled again by this very run: the next warm run is warm.
    shutil.rmtree(parsed_cache(workdir), ignore_errors=True)
    return ours()


def run(root: Path, base_url: str, options: Options) -> Section:
    section = Section(
        title=f"5. Memory: replaying {options.megabytes:.0f} MB of cassettes",
        note=(
            "Peak RSS (VmHWM) of the pytest process replaying the long cassettes, and its "
            "growth over the same tool replaying the same calls with short answers. "
            f"Median of {options.repeat} runs."
        ),
        header=[
            "layout",
            "run",
            "cassettes (MB)",
            "peak RSS, short (MB)",
            "peak RSS, long (MB)",
            "growth (MB)",
            "growth ÷ cassettes",
        ],
    )
    http = workload.http_env(base_url)
    vcr_args = [*VCR_ONLY, "--record-mode=none"]
    for layout in LAYOUTS:
        long = root / f"memory-{layout.tests}x{layout.calls}"
        short = root / f"memory-{layout.tests}x{layout.calls}-short"
        workload.write_calls_project(long, tests=layout.tests, calls=layout.calls)
        progress(f"suite 5: recording {layout.name} ...")
        workload.record(long, base_url)
        shutil.copytree(long, short)
        inflate(long, options.megabytes, layout.tests * layout.calls)
        size = size_mb(long)

        ours = partial(run_pytest, long, OURS_REPLAY, env=http)
        configurations: dict[str, Callable[[], Run]] = {
            f"{OURS}|short": partial(run_pytest, short, OURS_REPLAY, env=http),
            f"{OURS}|long": ours,
            f"{OURS_COLD}|long": partial(_replay_cold, ours, long),
        }
        if layout.with_vcr:
            configurations[f"{VCR}|short"] = partial(run_pytest, short, vcr_args, env=http)
            configurations[f"{VCR}|long"] = partial(run_pytest, long, vcr_args, env=http)
        ours()  # fill the parsed cache
        configurations[f"{OURS}|short"]()
        results = round_robin(configurations, options.repeat, f"suite 5, {layout.name}")
        for name in (OURS, OURS_COLD, VCR):
            if f"{name}|long" not in results:
                continue
            base_name = VCR if name == VCR else OURS
            base = results[f"{base_name}|short"].rss()
            peak = results[f"{name}|long"].rss()
            growth = peak - base
            section.rows.append(
                [
                    layout.name,
                    name,
                    f"{size:.1f}",
                    f"{base:.0f}",
                    f"{peak:.0f}",
                    f"{growth:.0f}",
                    f"{ratio(growth, size):.2f}",
                ]
            )
            if name != VCR:
                section.checks.append(
                    Check(
                        f"6. RSS growth ÷ cassettes, {layout.name}, {name}",
                        ratio(growth, size),
                        2.0,
                    )
                )
    return section
