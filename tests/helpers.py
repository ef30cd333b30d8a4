"""Small helpers for driving the plugin through pytester."""

from __future__ import annotations

import json
import textwrap
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from pytest_llmbudget.records import CallRecord, Usage

# A conftest that prices every call at $0.20, whatever the model: budgets in round numbers.
FLAT_PRICE = "def pytest_llmbudget_price(record):\n    return 0.2\n"

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


def chat_record(
    nodeid: str,
    cost: str,
    *,
    live: bool = True,
    model: str = "gpt-4o-mini",
    usage: Usage | None = None,
) -> CallRecord:
    """A priced OpenAI chat call, for feeding reports without running a suite."""
    return CallRecord(
        nodeid=nodeid,
        provider="openai",
        api="chat",
        host="api.openai.com",
        endpoint="/v1/chat/completions",
        method="POST",
        url="https://api.openai.com/v1/chat/completions",
        live=live,
        status=200,
        duration_s=0.2,
        recorded_at=None,
        cassette=None,
        model=model,
        usage=usage or Usage(),
        cost_usd=Decimal(cost),
    )
