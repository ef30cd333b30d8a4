"""The example suite replays from its committed cassettes, as the example workflow runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def test_examples_replay_in_ci_for_nothing(tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    env = dict(os.environ, CI="true")
    env.pop("LLM_BASE_URL", None)  # the cassettes were recorded against the default URL
    env.pop("GITHUB_ACTIONS", None)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "examples",
            "-p",
            "no:cacheprovider",
            f"--llm-report={report}",
            f"--llm-ledger={tmp_path / 'ledger.sqlite'}",
            "--llm-budget=0.50",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    totals = json.loads(report.read_text())["totals"]
    cassettes = list((ROOT / "examples" / "cassettes").rglob("*.yaml"))
    interactions = sum(len(yaml.safe_load(path.read_text())["interactions"]) for path in cassettes)
    assert totals["calls"] == interactions
    assert totals["live_calls"] == 0
    assert totals["spend_usd"] == 0
    assert totals["cost_usd"] > 0, "replayed calls keep the cost they were recorded at"
