"""`make demo` tells its story: record, replay for $0, the runaway loop stopped, a prompt edit
caught in CI as a cassette miss, a dearer suite caught by --llm-max-cost without spending, and
the HTML page."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _committed_cassettes() -> dict[str, bytes]:
    folder = ROOT / "examples" / "cassettes"
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in folder.rglob("*")
        if path.is_file()
    }


def test_demo_records_replays_for_nothing_and_stops_the_runaway_loop(tmp_path: Path) -> None:
    before = _committed_cassettes()
    summariser = (ROOT / "examples" / "summariser.py").read_bytes()
    env = dict(os.environ, LLMBUDGET_DEMO_PORT=str(_free_port()), LLMBUDGET_DEMO_OUT=str(tmp_path))
    for name in ("CI", "GITHUB_ACTIONS", "LLM_BASE_URL"):
        env.pop(name, None)
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "demo.py")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    record = json.loads((tmp_path / "record.json").read_text())["totals"]
    replay = json.loads((tmp_path / "replay.json").read_text())["totals"]
    assert record["live_calls"] == replay["calls"] > 0
    assert record["spend_usd"] > 0, "the stand-in's answers are priced as the real models"
    assert replay["live_calls"] == 0
    assert replay["spend_usd"] == 0
    assert replay["cost_usd"] == record["cost_usd"]
    assert re.search(r"runaway: stopped after 50 calls: .*looks like a polling loop", output)
    assert "HTML report: " in output
    page = (tmp_path / "report.html").read_text()
    assert "<svg" in page

    # The prompt edit: its diff, then CI's replay-only run refuses the call and says what changed.
    assert '+        model="claude-sonnet-4-5",' in output
    edited = "test_examples.py::test_summariser_streams_a_summary"
    assert re.search(rf"FAILED \S*{re.escape(edited)} - \S*CassetteMiss: POST ", output)
    assert 'model: "claude-haiku-4-5" -> "claude-sonnet-4-5"' in output
    assert 'messages[0].content: "Summarise in one line: ' in output
    missed = json.loads((tmp_path / "prompt-edit.json").read_text())
    assert missed["totals"]["live_calls"] == 0
    assert missed["totals"]["calls"] == replay["calls"] - 1, "the others replayed"

    # Re-recorded on a dearer model, the suite fails CI's --llm-max-cost, which spends nothing.
    dearer = json.loads((tmp_path / "dearer.json").read_text())
    assert dearer["totals"]["live_calls"] == 0
    assert dearer["totals"]["spend_usd"] == 0
    assert dearer["totals"]["cost_usd"] > 2 * replay["cost_usd"]
    assert {test["outcome"] for test in dearer["tests"]} == {"passed"}
    [over] = dearer["violations"]
    assert over["kind"] == "max_cost"
    assert replay["cost_usd"] < over["limit"] < dearer["totals"]["cost_usd"]
    assert "VIOLATION [max_cost]: the suite's LLM calls cost" in output
    assert re.search(r"dearer suite: \$\S+ -> \$\S+ .*CI failed the build, spending \$0", output)

    assert _committed_cassettes() == before, "the demo records elsewhere"
    assert (ROOT / "examples" / "summariser.py").read_bytes() == summariser, "it edits a copy"
