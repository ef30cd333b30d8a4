"""Every call priced from its usage: per test, per model, per run; reports and fixture."""

from __future__ import annotations

import contextlib
import io
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from helpers import FLAT_PRICE, write_test
from standin import StandIn

from pytest_llmbudget.cli import main
from pytest_llmbudget.report import jsonreport
from pytest_llmbudget.report.formatting import usd

CHAT = """
import openai

def ask(text, model="gpt-4o-mini", **extra):
    client = openai.OpenAI(base_url=URL + "/v1", api_key=KEY, max_retries=0)
    return client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": text}], **extra)

def test_one():
    ask("how much does one call cost")

def test_two():
    ask("first of two")
    ask("second of two")
"""

PER_MILLION = {"gpt-4o-mini": (Decimal("0.15"), Decimal("0.60"))}


def _report(pytester: pytest.Pytester, *args: str) -> tuple[pytest.RunResult, dict[str, Any]]:
    path = pytester.path / "report.json"
    result = pytester.runpytest("-p", "no:cacheprovider", f"--llm-report={path}", *args)
    report: dict[str, Any] = json.loads(path.read_text())
    jsonschema.validate(report, jsonreport.schema())
    return result, report


def _expected_cost(record: dict[str, Any]) -> Decimal:
    price_in, price_out = PER_MILLION[record["model"]]
    tokens_in, tokens_out = int(record["input_tokens"]), int(record["output_tokens"])
    return (tokens_in * price_in + tokens_out * price_out) / 1_000_000


def test_live_run_spends_and_replay_saves(pytester: pytest.Pytester, standin: StandIn) -> None:
    write_test(pytester, "test_bot", CHAT)
    result, live = _report(pytester)
    result.assert_outcomes(passed=2)
    totals = live["totals"]
    assert totals["calls"] == 3
    assert totals["live_calls"] == 3
    records = [r for test in live["tests"] for r in test["records"]]
    expected = sum((_expected_cost(r) for r in records), Decimal(0))
    assert Decimal(str(totals["cost_usd"])) == pytest.approx(expected)
    assert totals["spend_usd"] == totals["cost_usd"]
    assert totals["saved_usd"] == 0
    assert all(r["priced"] and not r["estimated"] and r["input_tokens"] > 0 for r in records)
    assert live["models"][0]["model"].startswith("gpt-4o-mini")
    by_test = {test["nodeid"]: test for test in live["tests"]}
    assert by_test["test_bot.py::test_two"]["calls"] == 2
    assert by_test["test_bot.py::test_two"]["outcome"] == "passed"
    assert by_test["test_bot.py::test_one"]["cassette"] == "cassettes/test_bot/test_one.yaml"

    standin.reset()
    result, replay = _report(pytester, "--llm-record=none")
    result.assert_outcomes(passed=2)
    assert standin.hits == 0
    assert replay["totals"]["live_calls"] == 0
    assert replay["totals"]["spend_usd"] == 0
    assert replay["totals"]["cost_usd"] == totals["cost_usd"], "a replay still costs what it did"
    assert replay["totals"]["saved_usd"] == totals["cost_usd"]
    result.stdout.fnmatch_lines(
        [
            "*LLM budget*",
            "calls: 3 (0 live, 3 replayed)*",
            f"spend: $0.00   cost: {usd(Decimal(str(totals['cost_usd'])))}*",
        ]
    )


def test_terminal_is_one_line_without_llm_calls(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_plain="def test_plain():\n    assert 1 + 1 == 2\n")
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    assert result.stdout.lines.count("LLM budget: no LLM calls") == 1
    assert "LLM budget" not in result.stdout.str().replace("LLM budget: no LLM calls", "")


def test_verbose_shows_more_rows(pytester: pytest.Pytester, standin: StandIn) -> None:
    tests = "\n".join(f"def test_{i}():\n    ask('question number {i}')\n" for i in range(8))
    write_test(pytester, "test_many", CHAT.split("def test_one")[0] + tests)
    quiet = pytester.runpytest("-p", "no:cacheprovider")
    loud = pytester.runpytest("-p", "no:cacheprovider", "-v")

    def rows(result: pytest.RunResult) -> int:
        return sum("test_many.py::test_" in line for line in result.stdout.lines)

    assert rows(quiet) == 5 + 3  # dearest tests, slowest live calls
    assert rows(loud) > rows(quiet)


def test_llm_usage_fixture(pytester: pytest.Pytester, standin: StandIn) -> None:
    write_test(
        pytester,
        "test_fixture",
        CHAT.split("def test_one")[0]
        + """
def test_usage(llm_usage):
    assert llm_usage.calls == 0
    ask("count my tokens please")
    assert llm_usage.calls == 1
    assert llm_usage.input_tokens > 0 and llm_usage.output_tokens > 0
    assert llm_usage.cost_usd > 0
    save([llm_usage.live_calls, str(llm_usage.spend_usd), str(llm_usage.cost_usd),
          len(llm_usage.records)])
""",
    )
    import os

    os.environ["RESULT_FILE"] = str(pytester.path / "result.json")
    try:
        pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)
        live = json.loads((pytester.path / "result.json").read_text())
        pytester.runpytest("-p", "no:cacheprovider", "--llm-record=none").assert_outcomes(passed=1)
        replay = json.loads((pytester.path / "result.json").read_text())
    finally:
        del os.environ["RESULT_FILE"]
    assert live[0] == 1
    assert live[1] == live[2]
    assert replay[0] == 0
    assert replay[1] == "0"
    assert replay[2] == live[2]


def test_stream_without_usage_is_estimated_with_a_hint(
    pytester: pytest.Pytester, standin: StandIn
) -> None:
    write_test(
        pytester,
        "test_stream",
        CHAT.split("def test_one")[0]
        + """
def test_stream():
    for _ in ask("stream without usage please", stream=True):
        pass
""",
    )
    result, report = _report(pytester)
    record = report["tests"][0]["records"][0]
    assert record["estimated"] is True
    assert record["input_tokens"] > 0
    assert record["output_tokens"] > 0
    assert record["cost_usd"] > 0
    result.stdout.fnmatch_lines(["*estimated: 1 call stated*tiktoken*", "*include_usage*"])


QUOTA = {
    "error": {
        "message": "You exceeded your current quota",
        "type": "insufficient_quota",
        "code": "insufficient_quota",
    }
}
RATE = {
    "error": {"message": "Rate limit reached", "type": "requests", "code": "rate_limit_exceeded"}
}


def test_quota_errors_are_reported_apart_from_rate_limits(
    pytester: pytest.Pytester, standin: StandIn
) -> None:
    write_test(
        pytester,
        "test_quota",
        CHAT.split("def test_one")[0]
        + """
import pytest
def test_quota():
    with pytest.raises(openai.RateLimitError):
        ask("a")
    with pytest.raises(openai.RateLimitError):
        ask("b")
""",
    )
    standin.fail_next(429, QUOTA)
    standin.fail_next(429, RATE)
    result, report = _report(pytester)
    result.assert_outcomes(passed=1)
    assert [e["message"] for e in report["quota_errors"]] == ["quota exhausted at openai"]
    assert [e["message"] for e in report["rate_limited"]] == ["rate limited at openai"]
    assert report["totals"]["cost_usd"] == 0
    result.stdout.fnmatch_lines(["QUOTA EXHAUSTED at openai*", "rate limited at openai*"])


PUBLIC_HOST_CONFTEST = """
from pytest_llmbudget.classify import Classification

def pytest_llmbudget_classify(request):
    if request.url.endswith("/chat/completions"):
        return Classification("openai", "chat", "api.openai.com", "/v1/chat/completions")
"""


def test_unknown_model_on_a_public_host_is_listed(
    pytester: pytest.Pytester, standin: StandIn
) -> None:
    pytester.makeconftest(PUBLIC_HOST_CONFTEST)
    write_test(pytester, "test_unknown", CHAT.split("def test_one")[0] + UNKNOWN_TEST)
    result, report = _report(pytester)
    result.assert_outcomes(passed=1)
    assert report["unknown_models"][0]["model"] == "gpt-from-the-future"
    record = report["tests"][0]["records"][0]
    assert record["priced"] is False
    assert record["cost_usd"] == 0
    result.stdout.fnmatch_lines(["unknown model: openai gpt-from-the-future*"])
    assert result.ret == 0, "warn is the default"

    failing, report = _report(pytester, "--llm-unknown-model=fail")
    assert failing.ret == 1
    assert report["violations"][0]["kind"] == "unknown_model"
    failing.stdout.fnmatch_lines(["VIOLATION [[]unknown_model[]]*gpt-from-the-future*"])

    quiet, _ = _report(pytester, "--llm-unknown-model=ignore")
    assert "unknown model" not in quiet.stdout.str()


UNKNOWN_TEST = """
def test_unknown():
    ask("what model are you", model="gpt-from-the-future")
"""


def test_unknown_model_on_localhost_is_local_and_free(
    pytester: pytest.Pytester, standin: StandIn
) -> None:
    write_test(pytester, "test_local", CHAT.split("def test_one")[0] + UNKNOWN_TEST)
    result, report = _report(pytester, "--llm-unknown-model=fail")
    assert result.ret == 0
    record = report["tests"][0]["records"][0]
    assert record["priced"] is True
    assert record["cost_usd"] == 0
    assert report["unknown_models"] == []


def test_bad_unknown_model_mode_is_a_usage_error(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--llm-unknown-model=sometimes")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*use one of: warn, fail, ignore*"])


def test_llm_prices_overrides_and_free_hosts(pytester: pytest.Pytester, standin: StandIn) -> None:
    Path(pytester.path / "prices.toml").write_text(
        '[models."gpt-4o-mini"]\ninput = 1000\noutput = 2000\n'
    )
    pytester.makeini("[pytest]\nllm_prices = prices.toml\n")
    write_test(pytester, "test_bot", CHAT)
    _, report = _report(pytester, "-k", "one")
    record = report["tests"][0]["records"][0]
    expected = (record["input_tokens"] * 1000 + record["output_tokens"] * 2000) / 1_000_000
    assert record["cost_usd"] == pytest.approx(expected)

    pytester.makeini("[pytest]\nllm_prices = prices.toml\nllm_free_hosts =\n    127.0.0.1\n")
    _, free = _report(pytester, "-k", "one")
    assert free["totals"]["cost_usd"] == 0


def test_a_broken_price_file_is_a_usage_error(pytester: pytest.Pytester) -> None:
    Path(pytester.path / "prices.toml").write_text("[models.x]\ninput = 'cheap'\n")
    pytester.makeini("[pytest]\nllm_prices = prices.toml\n")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*llm_prices*prices.toml*"])


def test_replayed_calls_keep_their_recording_time(
    pytester: pytest.Pytester, standin: StandIn
) -> None:
    write_test(pytester, "test_bot", CHAT)
    _, live = _report(pytester, "-k", "one")
    _, replay = _report(pytester, "-k", "one", "--llm-record=none")
    assert live["tests"][0]["records"][0]["recorded_at"]
    assert (
        replay["tests"][0]["records"][0]["recorded_at"]
        == live["tests"][0]["records"][0]["recorded_at"]
    )


def test_per_file_totals_in_the_terminal_json_markdown_and_html(
    pytester: pytest.Pytester, standin: StandIn
) -> None:
    """Which test files are the dear ones: a module of three calls and one of one call."""
    pytester.makeconftest(FLAT_PRICE)
    write_test(pytester, "test_dear", CHAT)  # test_one (1 call) and test_two (2 calls)
    write_test(pytester, "test_cheap", CHAT.split("def test_two")[0])
    result, report = _report(pytester, f"--llm-html={pytester.path / 'page.html'}")

    result.assert_outcomes(passed=3)
    assert report["files"] == [
        {"path": "test_dear.py", "tests": 2, "calls": 3, "live_calls": 3,
         "cost_usd": 0.6, "spend_usd": 0.6},
        {"path": "test_cheap.py", "tests": 1, "calls": 1, "live_calls": 1,
         "cost_usd": 0.2, "spend_usd": 0.2},
    ]  # fmt: skip
    result.stdout.fnmatch_lines(
        [
            "dearest files:",
            "*$0.60  test_dear.py  (2 tests, 3 calls, 3 live, spend $0.60)",
            "*$0.20  test_cheap.py  (1 test, 1 call, 1 live, spend $0.20)",
        ]
    )
    result.stdout.fnmatch_lines(["*$0.20  test_cheap.py::test_one  (1 call, 1 live)"])
    page = (pytester.path / "page.html").read_text()
    assert "Test files, dearest first" in page
    assert page.index("test_dear.py</td>") < page.index("test_cheap.py</td>")

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["report", str(pytester.path / "report.json"), "--format", "markdown"]) == 0
    assert "Test files by cost (2)" in out.getvalue()
    assert "| test\\_dear.py | 2 | 3 | 3 | $0.60 | $0.60 |" in out.getvalue()
