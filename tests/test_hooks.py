"""Each hook of SPEC §8, implemented in a conftest.py the way users do."""

from __future__ import annotations

import json
from typing import Any

import pytest
from helpers import write_test
from standin import StandIn

CUSTOM_API_CONFTEST = """
import json, os, pathlib
from decimal import Decimal
from pytest_llmbudget.classify import Classification
from pytest_llmbudget.records import Usage

def pytest_llmbudget_classify(request):
    if "/acme/infer" in request.url:
        return Classification("acme", "infer", "acme.example", "/acme/infer")

def pytest_llmbudget_usage(record, request, response):
    if record.provider == "acme":
        record.model = "acme-large"
        return Usage(input_tokens=1000, output_tokens=500)

def pytest_llmbudget_price(record):
    if record.model == "acme-large":
        return Decimal("0.25")

def pytest_llmbudget_call(record):
    with open(os.environ["CALLS_FILE"], "a") as stream:
        stream.write(json.dumps([record.provider, record.model, record.live,
                                 str(record.cost_usd)]) + "\\n")

def pytest_llmbudget_summary(summary):
    # Where a team would post to Slack: here, the message goes to a file.
    text = f"LLM spend ${summary.spend_usd} of ${summary.cost_usd} over {summary.totals.calls} calls"
    pathlib.Path(os.environ["SLACK_FILE"]).write_text(text)
"""

CUSTOM_TEST = """
import requests
def test_acme():
    assert requests.get(URL + "/acme/infer?q=1").status_code == 200
"""


@pytest.fixture
def files(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    paths = {"calls": pytester.path / "calls.jsonl", "slack": pytester.path / "slack.txt"}
    monkeypatch.setenv("CALLS_FILE", str(paths["calls"]))
    monkeypatch.setenv("SLACK_FILE", str(paths["slack"]))
    return paths


def test_a_custom_provider_on_an_unknown_host(
    pytester: pytest.Pytester, standin: StandIn, files: dict[str, Any]
) -> None:
    pytester.makeconftest(CUSTOM_API_CONFTEST)
    write_test(pytester, "test_acme", CUSTOM_TEST)
    report_path = pytester.path / "report.json"
    result = pytester.runpytest("-p", "no:cacheprovider", f"--llm-report={report_path}")
    result.assert_outcomes(passed=1)
    report = json.loads(report_path.read_text())
    record = report["tests"][0]["records"][0]
    assert (record["provider"], record["model"]) == ("acme", "acme-large")
    assert (record["input_tokens"], record["output_tokens"]) == (1000, 500)
    assert record["cost_usd"] == 0.25
    assert (pytester.path / "cassettes" / "test_acme" / "test_acme.yaml").exists()

    calls = [json.loads(line) for line in files["calls"].read_text().splitlines()]
    assert calls == [["acme", "acme-large", True, "0.25"]]
    assert files["slack"].read_text() == "LLM spend $0.25 of $0.25 over 1 calls"

    standin.reset()
    pytester.runpytest("-p", "no:cacheprovider", "--llm-record=none").assert_outcomes(passed=1)
    assert standin.hits == 0
    assert files["slack"].read_text() == "LLM spend $0 of $0.25 over 1 calls"


def test_a_price_hook_overrides_builtin_prices(
    pytester: pytest.Pytester, standin: StandIn, files: dict[str, Any]
) -> None:
    pytester.makeconftest(
        "def pytest_llmbudget_price(record):\n    return 1.5 if record.model else None\n"
    )
    write_test(
        pytester,
        "test_priced",
        """
        import httpx
        def test_priced(llm_usage):
            httpx.post(URL + "/v1/chat/completions",
                       json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x"}]})
            assert str(llm_usage.cost_usd) == "1.5"
        """,
    )
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_hooks_that_return_none_fall_back_to_the_builtins(
    pytester: pytest.Pytester, standin: StandIn
) -> None:
    pytester.makeconftest(
        "def pytest_llmbudget_classify(request):\n    return None\n"
        "def pytest_llmbudget_usage(record, request, response):\n    return None\n"
        "def pytest_llmbudget_price(record):\n    return None\n"
    )
    write_test(
        pytester,
        "test_builtin",
        """
        import httpx
        def test_builtin(llm_usage):
            httpx.post(URL + "/v1/chat/completions",
                       json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "y"}]})
            assert llm_usage.calls == 1
            assert llm_usage.input_tokens > 0
            assert llm_usage.cost_usd > 0
        """,
    )
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)


LATE_CLASSIFIER_CONFTEST = """
import json, os
from pytest_llmbudget.classify import Classification

class Late:
    def pytest_llmbudget_classify(self, request):
        return Classification("late", "chat", "late.example", "/v1/chat/completions")

def pytest_runtest_setup(item):
    if item.name == "test_second":
        item.config.pluginmanager.register(Late(), "late-classifier")

def pytest_llmbudget_call(record):
    with open(os.environ["CALLS_FILE"], "a") as stream:
        stream.write(json.dumps([record.nodeid.split("::")[-1], record.provider]) + "\\n")
"""

TWO_CALLS = """
import httpx

def ask():
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "same url"}]}
    return httpx.post(URL + "/v1/chat/completions", json=body).status_code

def test_first():
    assert ask() == 200

def test_second():
    assert ask() == 200
"""


def test_a_classify_hook_registered_mid_run_is_asked_for_a_url_seen_before(
    pytester: pytest.Pytester, standin: StandIn, files: dict[str, Any]
) -> None:
    """The default classification is remembered per URL only while no other hook answers."""
    pytester.makeconftest(LATE_CLASSIFIER_CONFTEST)
    write_test(pytester, "test_late", TWO_CALLS)
    pytester.runpytest("-p", "no:cacheprovider", "-p", "no:randomly").assert_outcomes(passed=2)
    calls = [json.loads(line) for line in files["calls"].read_text().splitlines()]
    assert calls == [["test_first", "openai"], ["test_second", "late"]]
