"""Re-record the example suite's committed cassettes against the bundled stand-in.

Run from the repository root: ``python examples/record_cassettes.py``. The
stand-in answers on the port the example clients default to, so the
cassettes replay with no environment variable set (as CI runs them). The
suite records into a temporary folder first: the committed cassettes are
replaced only when every test passed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from demo import DEFAULT_PORT, ROOT, standin_class

CASSETTES = ROOT / "examples" / "cassettes"


def main() -> int:
    env = dict(os.environ, LLM_BASE_URL=f"http://127.0.0.1:{DEFAULT_PORT}")
    env.pop("CI", None)
    with tempfile.TemporaryDirectory(prefix="llmbudget-examples-") as folder:
        fresh = Path(folder) / "cassettes"
        with standin_class()(port=DEFAULT_PORT) as standin:
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
                    f"--llm-cassette-dir={fresh}",
                    f"--llm-ledger={Path(folder) / 'ledger.sqlite'}",
                ],
                cwd=ROOT,
                env=env,
            )
            print(f"stand-in answered {standin.hits} requests")
        if status != 0:
            print("not every test passed: the committed cassettes are left as they were")
            return status
        shutil.rmtree(CASSETTES, ignore_errors=True)
        shutil.copytree(fresh, CASSETTES)
    for path in sorted(CASSETTES.rglob("*.yaml")):
        print(f"  {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
