"""Running pytest in a subprocess and reading what it took: the shared plumbing of bench/.

Every figure of the bench comes from a fresh ``python -m pytest`` process, so
that interpreter start-up, imports, collection and cassette loading all count,
as they do for a user. This module starts those processes, measures their
wall time and peak RSS (``os.wait4``), collects the ``BENCH_*=`` lines the
generated tests print, and hands the provider stand-in to the suites.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
COMMON_ARGS = ("-q", "-s", "-p", "no:cacheprovider")

# What each run loads. Ours and pytest-recording never load together; the
# floor and the live runs load neither.
OURS_ONLY = ("-p", "no:recording")
# The per-test call limit (50 by default) counts replayed calls too.
OURS_REPLAY = (*OURS_ONLY, "--llm-record=none", "--llm-test-max-calls=0")
OURS_RECORD = (*OURS_ONLY, "--llm-record=rewrite", "--llm-test-max-calls=0")
VCR_ONLY = ("-p", "no:llmbudget")
NEITHER = ("-p", "no:llmbudget", "-p", "no:recording")

# ``python -m pytest``, plus the peak RSS of this very process image printed at
# exit. ru_maxrss cannot tell it: it keeps the high-water mark of the forked
# parent (this bench) across exec. VmHWM belongs to the new image.
_LAUNCH = """\
import atexit, os, runpy

def _peak():
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    os.write(2, f"\\nBENCH_PEAK_RSS_KB={line.split()[1]}\\n".encode())
    except OSError:
        pass

atexit.register(_peak)
runpy.run_module("pytest", run_name="__main__", alter_sys=True)
"""
_PEAK = re.compile(r"^BENCH_PEAK_RSS_KB=([0-9]+)$", re.MULTILINE)
_METRIC = re.compile(r"BENCH_([A-Z0-9_]+)=([0-9.eE+-]+)$", re.MULTILINE)
_SESSION = re.compile(r" in ([0-9.]+)s(?: \([0-9:]+\))?(?: =+)?\s*$", re.MULTILINE)


@dataclass(frozen=True)
class Run:
    """One pytest process: what it took and what its tests reported."""

    wall: float
    session: float
    peak_rss_mb: float
    # User + system CPU seconds of the process: unlike wall time, barely moved
    # by other processes competing for the CPUs.
    cpu: float
    # Each BENCH_NAME= line the tests printed, summed over the tests that printed it.
    metrics: Mapping[str, float]
    stdout: str


class BenchError(RuntimeError):
    """A run failed or printed nothing we can read: the bench stops, naming it."""


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def bench_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This environment minus what changes how pytest runs (``CI`` means replay only)."""
    dropped = {"CI", "PYTEST_ADDOPTS", "PYTEST_PLUGINS", "PYTEST_DISABLE_PLUGIN_AUTOLOAD"}
    # Bytecode stays on, as for a user: pytest rewrites the asserts of every
    # plugin module and caches the result as bytecode; without that cache each
    # run would parse and compile every plugin module again.
    dropped.add("PYTHONDONTWRITEBYTECODE")
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    env.update(extra or {})
    return env


def run_pytest(
    workdir: Path,
    args: Iterable[str],
    *,
    env: Mapping[str, str] | None = None,
    timeout: float = 300.0,
) -> Run:
    """Run ``python -m pytest`` in ``workdir``; raise :class:`BenchError` unless it passes."""
    command = [sys.executable, "-c", _LAUNCH, *COMMON_ARGS, *args]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        process = subprocess.Popen(command, cwd=workdir, env=bench_env(env), stdout=out, stderr=err)
        killer = threading.Timer(timeout, _kill, args=(process.pid,))
        killer.start()
        try:
            _pid, status, usage = os.wait4(process.pid, 0)
        finally:
            killer.cancel()
        wall = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode("utf-8", errors="replace")
        stderr = err.read().decode("utf-8", errors="replace")
    if process.returncode != 0:
        raise BenchError(
            f"pytest exited {process.returncode} in {workdir}: {' '.join(command)}\n"
            f"{stdout[-4000:]}\n{stderr[-2000:]}"
        )
    session = _SESSION.search(stdout)
    peak = _PEAK.search(stderr)
    return Run(
        wall=wall,
        session=float(session.group(1)) if session else float("nan"),
        # Without /proc, ru_maxrss (KiB on Linux, bytes on macOS): an upper bound.
        peak_rss_mb=int(peak.group(1)) / 1024 if peak else usage.ru_maxrss / 1024,
        cpu=usage.ru_utime + usage.ru_stime,
        metrics=_sums(_METRIC.findall(stdout)),
        stdout=stdout,
    )


_IREFS = re.compile(r"I\s+refs:\s+([0-9,]+)")


def valgrind() -> str | None:
    """The valgrind executable, when installed: instruction counts need it."""
    import shutil

    return shutil.which("valgrind")


def count_instructions(
    workdir: Path, args: Iterable[str], *, env: Mapping[str, str] | None = None
) -> int:
    """Instructions one pytest run executes, counted by valgrind (cachegrind, no cache model).

    Unlike a time, the count barely moves between runs, whatever else the
    machine does: on a shared or throttled machine, wall times of identical
    runs spread by tens of percent, which hides the few percent a figure is
    about. Hash randomisation is pinned so that two runs do the same work.
    It runs some 30 times slower than the run itself.
    """
    tool = valgrind()
    if tool is None:
        raise BenchError("valgrind is not installed: instruction counts need it")
    command = [
        tool,
        "--tool=cachegrind",
        "--cache-sim=no",
        "--cachegrind-out-file=/dev/null",
        sys.executable,
        "-m",
        "pytest",
        *COMMON_ARGS,
        *args,
    ]
    environment = bench_env({**(env or {}), "PYTHONHASHSEED": "0"})
    done = subprocess.run(
        command, cwd=workdir, env=environment, capture_output=True, text=True, timeout=3600
    )
    found = _IREFS.search(done.stderr)
    if done.returncode != 0 or found is None:
        raise BenchError(
            f"valgrind run failed in {workdir} ({done.returncode}): {' '.join(command)}\n"
            f"{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
        )
    return int(found.group(1).replace(",", ""))


def count_side_by_side(counts: Mapping[str, Callable[[], int]]) -> dict[str, int]:
    """Run the counts in parallel, one per CPU: each is single-threaded and slow."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=max(1, min(len(counts), os.cpu_count() or 1))) as pool:
        futures = {name: pool.submit(count) for name, count in counts.items()}
        return {name: future.result() for name, future in futures.items()}


def instructions_note(counted: Mapping[str, int], base: str) -> str:
    """One sentence: each configuration's instruction count, and its ratio to ``base``."""
    parts = [
        f"{name} {value / 1e9:.2f} G ({value / counted[base]:.3f}x)"
        for name, value in counted.items()
    ]
    return "Instructions executed by one run each (valgrind): " + "; ".join(parts) + "."


def _sums(pairs: Iterable[tuple[str, str]]) -> dict[str, float]:
    sums: dict[str, float] = {}
    for name, value in pairs:
        sums[name] = sums.get(name, 0.0) + float(value)
    return sums


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


@dataclass
class Samples:
    """Every run of one configuration; figures are medians over them."""

    runs: list[Run] = field(default_factory=list)

    def median(self, figure: Callable[[Run], float]) -> float:
        return statistics.median(figure(run) for run in self.runs)

    def wall(self) -> float:
        return self.median(lambda run: run.wall)

    def session(self) -> float:
        return self.median(lambda run: run.session)

    def cpu(self) -> float:
        return self.median(lambda run: run.cpu)

    def rss(self) -> float:
        return self.median(lambda run: run.peak_rss_mb)

    def metric(self, name: str) -> float:
        def read(run: Run) -> float:
            if name not in run.metrics:
                raise BenchError(f"no BENCH_{name}= in the output:\n{run.stdout[-2000:]}")
            return run.metrics[name]

        return self.median(read)


def round_robin(
    configurations: Mapping[str, Callable[[], Run]], repeat: int, title: str
) -> dict[str, Samples]:
    """Run every configuration ``repeat`` times, interleaved, so drift hits all alike.

    Every other round runs them in reverse order: whatever running right after
    another configuration costs or saves (warm caches, a machine slowing down
    over a round), no configuration always gets it.
    """
    results = {name: Samples() for name in configurations}
    order = list(configurations.items())
    for round_ in range(1, repeat + 1):
        for name, run in order if round_ % 2 else reversed(order):
            sample = run()
            results[name].runs.append(sample)
            progress(
                f"  {title} {round_}/{repeat} {name}: wall {sample.wall:.2f} s, "
                f"CPU {sample.cpu:.2f} s, "
                f"peak RSS {sample.peak_rss_mb:.0f} MB"
            )
    return results


def load_tests_module(name: str) -> Any:
    """A stdlib-only helper module of tests/ (the stand-in, the PostgreSQL server), by path."""
    path = ROOT / "tests" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise BenchError(f"{path} is missing: run the bench from a full checkout")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(name, module)
    spec.loader.exec_module(module)
    return module


def load_standin() -> Any:
    """The ``StandIn`` class of tests/standin.py."""
    return load_tests_module("standin").StandIn


def ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else float("nan")


def paired_ratio(numerator: Samples, denominator: Samples) -> float:
    """The median of the run-by-run wall-time ratios of two configurations of one round robin.

    Each round runs both within seconds of each other, so a machine that speeds up
    or slows down over the rounds moves both runs of a pair alike; the ratio of the
    two medians would compare runs from different moments.
    """
    ratios = [
        ratio(top.wall, bottom.wall)
        for top, bottom in zip(numerator.runs, denominator.runs, strict=True)
    ]
    return statistics.median(ratios) if ratios else float("nan")
