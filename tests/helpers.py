"""Small helpers for driving the plugin through pytester."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

PROLOGUE = """
import asyncio
import json
import os
import pathlib

URL = os.environ.get("STANDIN_URL", "http://127.0.0.1:9")
KEY = "sk-test-abcdefghijklmnop1234"


def save(value):
    pathlib.Path(os.environ["RESULT_FILE"]).write_text(json.dumps(value))
"""


def write_test(pytester: pytest.Pytester, name: str, body: str) -> Path:
    """A test module made of our prologue and ``body``."""
    source = PROLOGUE + "\n" + textwrap.dedent(body)
    return pytester.makepyfile(**{name: source})


def result_of(pytester: pytest.Pytester) -> Any:
    return json.loads((pytester.path / "result.json").read_text())


def load_cassette(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(path.read_text())
    return document
