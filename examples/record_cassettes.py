"""Re-record the example suite's committed cassettes against the bundled stand-in.

Run from the repository root: ``python examples/record_cassettes.py``. The
stand-in answers on the port the example clients default to, so the
cassettes replay with no environment variable set (as CI runs them).
"""

from __future__ import annotations

import subprocess
import sys

from demo import PORT, ROOT, standin_class


def main() -> int:
    with standin_class()(port=PORT) as standin:
        status = subprocess.call(
            [
                sys.executable,
                "-m",
                "pytest",
                "examples",
                "-q",
                "-p",
                "no:cacheprovider",
                "--llm-record=rewrite",
                "--llm-budget=0.50",
            ],
            cwd=ROOT,
        )
        print(f"stand-in answered {standin.hits} requests")
    cassettes = sorted((ROOT / "examples" / "cassettes").rglob("*.yaml"))
    for path in cassettes:
        print(f"  {path.relative_to(ROOT)}")
    return status


if __name__ == "__main__":
    raise SystemExit(main())
