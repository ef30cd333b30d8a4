"""`make demo`: the whole story in a minute, with no key and no spend.

1. record: the example suite runs live under ``--llm-budget=0.50`` against
   the bundled provider stand-in (tests/standin.py, which speaks the OpenAI,
   Anthropic and Gemini wire formats on 127.0.0.1), priced as the real
   models would be;
2. replay: the stand-in is stopped and the same suite runs from the
   cassettes for $0, which proves no call left the machine;
3. runaway: a polling loop with a bug is stopped by the per-test call limit
   before it can spend more;
4. the HTML report of the run, with spend per day from the demo's ledger.

Everything the demo writes goes to ``demo-out/`` (git-ignored); the
committed cassettes under ``examples/cassettes`` are not touched.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# The example clients' default URL: the committed cassettes were recorded there.
DEFAULT_PORT = 8977
PORT = int(os.environ.get("LLMBUDGET_DEMO_PORT", str(DEFAULT_PORT)))
OUT = Path(os.environ.get("LLMBUDGET_DEMO_OUT", ROOT / "demo-out")).resolve()
MARKER = ".llmbudget-demo"  # what makes OUT ours to empty
BOLD, RESET = ("\033[1m", "\033[0m") if sys.stdout.isatty() else ("", "")


def standin_class() -> Any:
    """The stand-in server class, loaded from tests/ (it is test tooling, not the package)."""
    spec = importlib.util.spec_from_file_location("standin", ROOT / "tests" / "standin.py")
    if spec is None or spec.loader is None:
        raise SystemExit("tests/standin.py is missing: run the demo from a full checkout")
    module = importlib.util.module_from_spec(spec)
    sys.modules["standin"] = module
    spec.loader.exec_module(module)
    return module.StandIn


def _pytest(title: str, name: str, *args: str) -> tuple[int, dict[str, Any]]:
    """One pytest run of the examples; its exit status and JSON report."""
    print(f"\n{BOLD}=== {title} ==={RESET}", flush=True)
    report = OUT / f"{name}.json"
    env = dict(os.environ, LLM_BASE_URL=f"http://127.0.0.1:{PORT}")
    env.pop("CI", None)
    env.pop("GITHUB_ACTIONS", None)
    command = [
        sys.executable,
        "-m",
        "pytest",
        "examples",
        "-p",
        "no:cacheprovider",
        f"--llm-cassette-dir={OUT / 'cassettes'}",
        f"--llm-ledger={OUT / 'ledger.sqlite'}",
        f"--llm-report={report}",
        "--llm-budget=0.50",
        *args,
    ]
    shown = [part.replace(str(OUT), _shown(OUT)) for part in command[2:]]
    print("$ " + " ".join(shown), flush=True)
    status = subprocess.call(command, cwd=ROOT, env=env)
    return status, json.loads(report.read_text()) if report.exists() else {}


def _shown(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def _money(value: float) -> str:
    return f"${value:.6f}".rstrip("0").rstrip(".") if value else "$0"


def _fresh_output_folder() -> None:
    """Empty OUT for this run, but only a folder an earlier demo made: never someone's files."""
    if OUT.exists() and any(OUT.iterdir()):
        if not (OUT / MARKER).exists():
            raise SystemExit(f"{OUT} is not empty and not a demo folder: choose another one")
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / MARKER).write_text("written by examples/demo.py; deleted by its next run\n")


def main() -> int:
    _fresh_output_folder()
    html = OUT / "report.html"
    standin = standin_class()(port=PORT)
    with standin:
        recorded, live = _pytest(
            "1. record: live calls to the local stand-in, priced as the real models",
            "record",
            "--llm-record=rewrite",
        )
        hits = standin.hits
    replayed, replay = _pytest(
        "2. replay: the stand-in is stopped, nothing leaves the machine",
        "replay",
        "--llm-record=none",
        f"--llm-html={html}",
    )
    with standin:
        standin.reset()
        runaway_status, runaway = _pytest(
            "3. a runaway polling loop (examples/runaway_poller.py), stopped",
            "runaway",
            "-m",
            "runaway",
            "--tb=line",
        )
        polls = standin.hits

    stopped = [v for v in runaway.get("violations", []) if v["kind"] == "test_max_calls"]
    ok = recorded == 0 and replayed == 0 and runaway_status == 1 and bool(stopped)
    print(f"\n{BOLD}=== what happened ==={RESET}")
    if live:
        print(
            f"record : {live['totals']['live_calls']} live calls ({hits} requests served), "
            f"spend {_money(live['totals']['spend_usd'])} of the $0.50 budget"
        )
    if replay:
        print(
            f"replay : {replay['totals']['calls']} calls replayed, "
            f"spend {_money(replay['totals']['spend_usd'])}, "
            f"saved {_money(replay['totals']['saved_usd'])}"
        )
    if stopped:
        print(f"runaway: stopped after {polls} calls: {stopped[0]['message']}")
        spent = runaway["totals"]["spend_usd"]
        if spent:
            allowed = int(0.50 / (spent / polls))
            print(
                f"         the $0.50 budget alone would have let about {allowed:,} such calls "
                "through; the per-test call limit stops the loop at once"
            )
    if html.exists():
        print(f"HTML report: {_shown(html)} (open it in a browser)")
    if not ok:
        print("the demo did not go as expected: see the output above", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
