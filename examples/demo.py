"""`make demo`: the whole story in a minute, with no key and no spend.

1. record: the example suite runs live under ``--llm-budget=0.50`` against
   the bundled provider stand-in (tests/standin.py, which speaks the OpenAI,
   Anthropic and Gemini wire formats on 127.0.0.1), priced as the real
   models would be;
2. replay: the stand-in is stopped and the same suite runs from the
   cassettes for $0, which proves no call left the machine;
3. runaway: a polling loop with a bug is stopped by the per-test call limit
   before it can spend more;
4. a prompt edit, caught in CI: a copy of the examples whose summariser asks
   a dearer model in other words runs replay-only, as CI runs it; the call
   has no recording, and ``CassetteMiss`` shows what changed in the request;
5. the dearer suite, caught in CI without spending: the edit is re-recorded,
   and CI's replay, which spends nothing, fails on ``--llm-max-cost``;
6. the HTML report of the replay, with spend per day from the demo's ledger.

Everything the demo writes goes to ``demo-out/`` (git-ignored); the
committed cassettes and the examples themselves are not touched.
"""

from __future__ import annotations

import difflib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from decimal import ROUND_UP, Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# The example clients' default URL: the committed cassettes were recorded there.
DEFAULT_PORT = 8977
PORT = int(os.environ.get("LLMBUDGET_DEMO_PORT", str(DEFAULT_PORT)))
OUT = Path(os.environ.get("LLMBUDGET_DEMO_OUT", ROOT / "demo-out")).resolve()
MARKER = ".llmbudget-demo"  # what makes OUT ours to empty
BOLD, RESET = ("\033[1m", "\033[0m") if sys.stdout.isatty() else ("", "")
# The edit of step 4, in the copy of examples/summariser.py: a dearer model, another prompt.
MODEL, DEARER_MODEL = "claude-haiku-4-5", "claude-sonnet-4-5"
EDITS = (
    (f'model="{MODEL}"', f'model="{DEARER_MODEL}"'),
    ("Summarise in one line: ", "Summarise in one line, for a customer: "),
)
EDITED_TEST = "test_examples.py::test_summariser_streams_a_summary"


def standin_class() -> Any:
    """The stand-in server class, loaded from tests/ (it is test tooling, not the package)."""
    spec = importlib.util.spec_from_file_location("standin", ROOT / "tests" / "standin.py")
    if spec is None or spec.loader is None:
        raise SystemExit("tests/standin.py is missing: run the demo from a full checkout")
    module = importlib.util.module_from_spec(spec)
    sys.modules["standin"] = module
    spec.loader.exec_module(module)
    return module.StandIn


def _pytest(
    title: str, name: str, *args: str, suite: Path = ROOT / "examples", ci: bool = False
) -> tuple[int, dict[str, Any], str]:
    """One pytest run of an example suite: its exit status, JSON report and output.

    ``ci``: as a CI job runs it, with ``CI=true`` (so replay-only). The output
    is shown as it comes and kept, so the demo can say what it showed.
    """
    if title:
        print(f"\n{BOLD}=== {title} ==={RESET}", flush=True)
    report = OUT / f"{name}.json"
    env = dict(os.environ, LLM_BASE_URL=f"http://127.0.0.1:{PORT}")
    env.pop("CI", None)
    env.pop("GITHUB_ACTIONS", None)
    if ci:
        env["CI"] = "true"
    command = [
        sys.executable,
        "-m",
        "pytest",
        _shown(suite),
        "-p",
        "no:cacheprovider",
        f"--llm-cassette-dir={OUT / 'cassettes'}",
        f"--llm-ledger={OUT / 'ledger.sqlite'}",
        f"--llm-report={report}",
        "--llm-budget=0.50",
        *args,
    ]
    shown = [part.replace(str(OUT), _shown(OUT)) for part in command[2:]]
    print(("$ CI=true " if ci else "$ ") + " ".join(shown), flush=True)
    with subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as process:
        assert process.stdout is not None
        lines = []
        for line in process.stdout:
            print(line, end="", flush=True)
            lines.append(line)
    status = process.returncode
    return status, json.loads(report.read_text()) if report.exists() else {}, "".join(lines)


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


def _edited_copy() -> Path:
    """A copy of the examples whose summariser asks another model in other words; the
    edit is printed as a diff."""
    copy = OUT / "edited"
    shutil.copytree(
        ROOT / "examples",
        copy,
        ignore=shutil.ignore_patterns("cassettes", "__pycache__", ".pytest_cache", "demo.py"),
    )
    module = copy / "summariser.py"
    before = source = module.read_text()
    for old, new in EDITS:
        if old not in source:
            raise SystemExit(f"examples/summariser.py no longer holds {old!r}: update EDITS")
        source = source.replace(old, new)
    module.write_text(source)
    diff = difflib.unified_diff(
        before.splitlines(keepends=True),
        source.splitlines(keepends=True),
        "examples/summariser.py",
        f"{_shown(module)} (the edit)",
        n=1,
    )
    print("".join(diff), end="", flush=True)
    return copy


def _threshold(cost: float) -> Decimal:
    """The --llm-max-cost a project would set: the suite's cost and a quarter, two digits."""
    amount = Decimal(str(cost)) * Decimal("1.25")
    step = Decimal(1).scaleb(amount.adjusted() - 1)
    return amount.quantize(step, rounding=ROUND_UP)


def main() -> int:
    _fresh_output_folder()
    html = OUT / "report.html"
    standin = standin_class()(port=PORT)
    with standin:
        recorded, live, _ = _pytest(
            "1. record: live calls to the local stand-in, priced as the real models",
            "record",
            "--llm-record=rewrite",
        )
        hits = standin.hits
    replayed, replay, _ = _pytest(
        "2. replay: the stand-in is stopped, nothing leaves the machine",
        "replay",
        "--llm-record=none",
        f"--llm-html={html}",
    )
    with standin:
        standin.reset()
        runaway_status, runaway, _ = _pytest(
            "3. a runaway polling loop (examples/runaway_poller.py), stopped",
            "runaway",
            "-m",
            "runaway",
            "--tb=line",
        )
        polls = standin.hits

    print(f"\n{BOLD}=== 4. a prompt edit, caught in CI as a cassette miss ==={RESET}")
    edited = _edited_copy()
    missed_status, missed, missed_output = _pytest(
        "",
        "prompt-edit",
        "--tb=no",
        suite=edited,
        ci=True,
    )
    caught_miss = (
        missed_status == 1
        and f"{EDITED_TEST} - pytest_llmbudget.errors.CassetteMiss" in missed_output
        and f'model: "{MODEL}" -> "{DEARER_MODEL}"' in missed_output
    )

    max_cost = _threshold(replay["totals"]["cost_usd"]) if replay else Decimal(0)
    with standin:
        rerecorded, _rerecord, _ = _pytest(
            "5. the edit re-recorded; CI's replay, spending nothing, fails on --llm-max-cost",
            "rerecord",
            "-q",
            "-k",
            "summariser",
            "--llm-record=rewrite",
            suite=edited,
        )
    dearer_status, dearer, _ = _pytest(
        "",
        "dearer",
        f"--llm-max-cost={max_cost}",
        suite=edited,
        ci=True,
    )
    over = [v for v in dearer.get("violations", []) if v["kind"] == "max_cost"]
    caught_cost = (
        rerecorded == 0
        and dearer_status == 1
        and bool(over)
        and dearer["totals"]["live_calls"] == 0
        and all(test["outcome"] == "passed" for test in dearer["tests"])
    )

    stopped = [v for v in runaway.get("violations", []) if v["kind"] == "test_max_calls"]
    ok = recorded == 0 and replayed == 0 and runaway_status == 1 and bool(stopped)
    ok = ok and caught_miss and caught_cost
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
    if caught_miss:
        print(
            f"prompt edit: CI failed {EDITED_TEST} with CassetteMiss, naming what changed "
            f"in the request, before anything was sent ({missed['totals']['live_calls']} "
            "live calls)"
        )
    if caught_cost:
        print(
            f"dearer suite: {_money(replay['totals']['cost_usd'])} -> "
            f"{_money(dearer['totals']['cost_usd'])} a run at live prices, over "
            f"--llm-max-cost ${max_cost}: CI failed the build, spending "
            f"{_money(dearer['totals']['spend_usd'])}"
        )
    if html.exists():
        print(f"HTML report: {_shown(html)} (open it in a browser)")
    if not ok:
        print("the demo did not go as expected: see the output above", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
