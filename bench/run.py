"""Run every performance suite of pytest-llmbudget and print one Markdown report.

Why this exists: a replayed LLM call should cost what the SDK costs and
nothing more, and recording a stream should not delay it. Each suite here
measures one of those promises side by side with pytest-recording (vcrpy),
with the in-memory floor (``httpx2.MockTransport``) and with live calls to the
loopback stand-in (tests/standin.py), every figure the median of several
fresh pytest processes. See bench/README.md for what each figure means.

Run from the repository root: ``.venv/bin/python bench/run.py [--quick]``.
Progress goes to stderr, the report to stdout.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

import suite_ledger
import suite_memory
import suite_outside
import suite_replay
import suite_scaling
import suite_startup
import suite_streams
from harness import load_standin, progress, valgrind
from report import Section, checks_table

SUITES = ("outside", "replay", "scaling", "streams", "startup", "memory", "ledger")


def versions() -> str:
    names = ("pytest", "openai", "httpx2", "PyYAML", "vcrpy", "pytest-recording")
    found = []
    for name in names:
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            found.append(f"{name} (not installed)")
    return ", ".join(found)


def parse_suites(text: str) -> list[str]:
    chosen = [part.strip() for part in text.split(",") if part.strip()]
    unknown = sorted(set(chosen) - set(SUITES))
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(
            f"unknown suite {', '.join(unknown) or '(none)'}; choose from {', '.join(SUITES)}"
        )
    return chosen


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="fewer runs per figure and smaller workloads: a smoke test of the bench",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        help=(
            "runs per figure, the median is reported (default: 3, or 1 with --quick; "
            "suites 1 and 4, whose figures are close ratios, run more)"
        ),
    )
    parser.add_argument(
        "--suites",
        type=parse_suites,
        default=list(SUITES),
        help=f"comma-separated suites to run (default: all of {','.join(SUITES)})",
    )
    parser.add_argument(
        "--no-instructions",
        action="store_true",
        help=(
            "skip counting instructions with valgrind (suites 1 and 4; counted by default "
            "when valgrind is installed, except with --quick)"
        ),
    )
    args = parser.parse_args(argv)
    repeat = max(1, args.repeat or (1 if args.quick else 3))
    # The close ratios (suites 1 and 4) get more runs; memory barely moves.
    more = repeat if args.quick else repeat + 2
    start = time.perf_counter()
    sections: list[Section] = []
    standin_class = load_standin()
    standin = standin_class().start()
    quick = bool(args.quick)
    instructions = not quick and not args.no_instructions and valgrind() is not None
    try:
        with tempfile.TemporaryDirectory(prefix="llmbudget-bench-") as tmp:
            root = Path(tmp)
            url = standin.url
            if "outside" in args.suites:
                outside = suite_outside.Options(
                    tests=40, calls=25, big=200 if quick else 1000, repeat=more
                )
                sections.append(suite_outside.run(root, url, outside))
            if "replay" in args.suites:
                replay = suite_replay.Options(
                    tests=40, calls=25, repeat=more, instructions=instructions
                )
                sections.append(suite_replay.run(root, url, replay))
            if "scaling" in args.suites:
                scaling = suite_scaling.Options(
                    small=suite_scaling.Shape(tests=100, calls=20),
                    large=suite_scaling.Shape(tests=1, calls=2000),
                    vcr_extra=None if quick else suite_scaling.Shape(tests=1, calls=200),
                    repeat=repeat,
                )
                sections.append(suite_scaling.run(root, url, scaling))
            if "streams" in args.suites:
                streams = suite_streams.Options(chunk_delay=0.05 if quick else 0.1, repeat=repeat)
                sections.append(suite_streams.run(root, standin_class, streams))
            if "startup" in args.suites:
                # Short runs, small differences: more of them.
                startup = suite_startup.Options(repeat=4 * more + 1, instructions=instructions)
                sections.append(suite_startup.run(root, startup))
            if "memory" in args.suites:
                memory = suite_memory.Options(
                    megabytes=10 if quick else 50, repeat=max(repeat - 1, 1)
                )
                sections.append(suite_memory.run(root, url, memory))
            if "ledger" in args.suites:
                ledger = suite_ledger.Options(calls=100 if quick else 500, repeat=repeat)
                sections.append(suite_ledger.run(root, ledger))
    finally:
        standin.stop()
    elapsed = time.perf_counter() - start
    print(
        f"\nPython {platform.python_version()}, {os.cpu_count()} CPUs, {versions()}; "
        f"{'--quick; ' if args.quick else ''}each figure the median of the runs its section "
        f"names; "
        f"the bench took {elapsed:.0f} s.\n"
    )
    print(checks_table([check for section in sections for check in section.checks]))
    for section in sections:
        print()
        print(section.markdown())
    progress(f"done in {elapsed:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
