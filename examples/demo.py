"""`make demo`: record the example suite against the bundled stand-in, then replay it.

The stand-in (tests/standin.py) speaks the OpenAI, Anthropic and Gemini wire
formats on 127.0.0.1, so the demo needs no key and spends nothing. The
replay run happens with the stand-in stopped: it proves no call left the
machine.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PORT = int(os.environ.get("LLMBUDGET_DEMO_PORT", "8977"))


def _standin_class() -> Any:
    spec = importlib.util.spec_from_file_location("standin", ROOT / "tests" / "standin.py")
    if spec is None or spec.loader is None:
        raise SystemExit("tests/standin.py is missing: run the demo from a full checkout")
    module = importlib.util.module_from_spec(spec)
    sys.modules["standin"] = module
    spec.loader.exec_module(module)
    return module.StandIn


def _pytest(title: str, cassettes: Path, *args: str) -> int:
    print(f"\n=== {title} ===", flush=True)
    env = dict(os.environ, LLM_BASE_URL=f"http://127.0.0.1:{PORT}")
    env.pop("CI", None)
    command = [
        sys.executable,
        "-m",
        "pytest",
        "examples",
        "-q",
        "-p",
        "no:cacheprovider",
        f"--llm-cassette-dir={cassettes}",
        *args,
    ]
    print("$ " + " ".join(command[2:]), flush=True)
    return subprocess.call(command, cwd=ROOT, env=env)


def main() -> int:
    standin = _standin_class()(port=PORT)
    with tempfile.TemporaryDirectory(prefix="llmbudget-demo-") as folder:
        cassettes = Path(folder) / "cassettes"
        with standin:
            status = _pytest(
                "1. record: live calls to the local stand-in", cassettes, "--llm-record=rewrite"
            )
            print(f"stand-in answered {standin.hits} requests", flush=True)
        if status:
            return status
        written = sorted(p.relative_to(folder) for p in cassettes.rglob("*.yaml"))
        print("cassettes written:", ", ".join(map(str, written)))
        status = _pytest(
            "2. replay: the stand-in is stopped, nothing leaves the machine",
            cassettes,
            "--llm-record=none",
        )
    return status


if __name__ == "__main__":
    raise SystemExit(main())
