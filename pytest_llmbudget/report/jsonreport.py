"""``--llm-report=PATH``: the JSON report (schema shipped as schema/report-v1.schema.json)."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

from pytest_llmbudget.recording.cassette import write_atomic
from pytest_llmbudget.summary import RunSummary, to_json


def schema() -> dict[str, Any]:
    text = resources.files("pytest_llmbudget").joinpath("schema/report-v1.schema.json").read_text()
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def write(summary: RunSummary, path: Path) -> None:
    write_atomic(path, json.dumps(to_json(summary), indent=2) + "\n")
