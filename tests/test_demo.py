"""`make demo` tells its story: record, replay for $0, the runaway loop stopped, the HTML page."""

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
    assert _committed_cassettes() == before, "the demo records elsewhere"
