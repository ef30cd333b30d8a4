"""Reports where CI looks: JUnit properties, --llm-junit, GitHub summary/annotations/outputs."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from helpers import FLAT_PRICE, chat_record, write_test
from standin import StandIn

from pytest_llmbudget.records import CallRecord
from pytest_llmbudget.report import github, markdown
from pytest_llmbudget.summary import RunSummary, build

SUITE = """
import openai
import pytest

def ask(text):
    client = openai.OpenAI(base_url=URL + "/v1", api_key=KEY, max_retries=0)
    return client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": text}])

def test_two_calls():
    ask("one")
    ask("two")

def test_no_call():
    assert True is not False

@pytest.mark.llm_budget(calls=2)
def test_polls():
    for i in range(5):
        ask(f"poll {i}")
"""


def _testcases(path: Path) -> dict[str, ET.Element]:
    root = ET.parse(path).getroot()
    return {case.attrib["name"]: case for case in root.iter("testcase")}


def _properties(case: ET.Element) -> dict[str, str]:
    return {p.attrib["name"]: p.attrib["value"] for p in case.iter("property")}


def _report(pytester: pytest.Pytester) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((pytester.path / "report.json").read_text())
    return loaded


@pytest.mark.parametrize("workers", [None, "2"], ids=["serial", "xdist"])
def test_junitxml_testcases_carry_cost_properties(
    pytester: pytest.Pytester, standin: StandIn, workers: str | None
) -> None:
    pytester.makeconftest(FLAT_PRICE)
    write_test(pytester, "test_bot", SUITE)
    args = ["-p", "no:cacheprovider", "--junitxml=junit.xml"]
    if workers is None:
        result = pytester.runpytest(*args, "--llm-report=report.json")
    else:
        result = pytester.runpytest_subprocess(*args, "-n", workers)
    result.assert_outcomes(passed=2, failed=1)
    cases = _testcases(pytester.path / "junit.xml")
    assert _properties(cases["test_two_calls"]) == {
        "llm_calls": "2",
        "llm_live_calls": "2",
        "llm_cost_usd": "0.4",
        "llm_spend_usd": "0.4",
    }
    assert _properties(cases["test_no_call"])["llm_calls"] == "0"
    assert _properties(cases["test_no_call"])["llm_cost_usd"] == "0"
    assert _properties(cases["test_polls"])["llm_calls"] == "2", "the blocked third call is not one"
    if workers is None:
        by_test = {t["nodeid"].split("::")[1]: t for t in _report(pytester)["tests"]}
        assert Decimal(_properties(cases["test_polls"])["llm_spend_usd"]) == Decimal(
            str(by_test["test_polls"]["spend_usd"])
        )
    standin.reset()
    replay = pytester.runpytest(*args, "--llm-record=none")
    replay.assert_outcomes(passed=2, failed=1)
    assert standin.hits == 0
    replayed = _properties(_testcases(pytester.path / "junit.xml")["test_two_calls"])
    assert replayed["llm_live_calls"] == "0"
    assert replayed["llm_spend_usd"] == "0"
    assert replayed["llm_cost_usd"] == "0.4", "a replayed call still costs what it did"


def test_llm_junit_has_one_testcase_per_budget_check(
    pytester: pytest.Pytester, standin: StandIn
) -> None:
    pytester.makeconftest(FLAT_PRICE)
    write_test(pytester, "test_bot", SUITE)
    result = pytester.runpytest(
        "-p", "no:cacheprovider", "--llm-junit=budget.xml", "--llm-max-cost=10", "--llm-budget=0.7"
    )
    assert result.ret == 1
    root = ET.parse(pytester.path / "budget.xml").getroot()
    suite = root.find("testsuite")
    assert suite is not None
    cases = {case.attrib["name"].split(":")[0]: case for case in suite.iter("testcase")}
    assert set(cases) == {"budget", "max_cost", "test_max_calls"}, "only the configured checks"
    assert cases["max_cost"].find("failure") is None
    budget_failure = cases["budget"].find("failure")
    assert budget_failure is not None
    assert "exceeds --llm-budget $0.70" in budget_failure.attrib["message"]
    polls = cases["test_max_calls"].find("failure")
    assert polls is not None
    assert "test_polls" in polls.attrib["message"]
    assert suite.attrib["failures"] == "2"
    assert _properties(suite)["llm_spend_usd"] == "0.8"


def test_llm_junit_passes_when_within_budget(pytester: pytest.Pytester, standin: StandIn) -> None:
    write_test(pytester, "test_ok", "import openai\n\ndef test_ok():\n    pass\n")
    result = pytester.runpytest("-p", "no:cacheprovider", "--llm-junit=out/budget.xml")
    result.assert_outcomes(passed=1)
    root = ET.parse(pytester.path / "out" / "budget.xml").getroot()
    cases = list(root.iter("testcase"))
    assert [c.attrib["name"].split(":")[0] for c in cases] == ["test_max_calls"]
    assert cases[0].find("failure") is None


@pytest.fixture
def on_github(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, Path]:
    files = {"GITHUB_STEP_SUMMARY": tmp_path / "summary.md", "GITHUB_OUTPUT": tmp_path / "output"}
    for name, path in files.items():
        path.write_text("earlier step\n")
        monkeypatch.setenv(name, str(path))
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    return files


def _outputs(path: Path) -> dict[str, str]:
    lines = path.read_text().splitlines()
    assert lines[0] == "earlier step", "appended, never overwritten"
    return dict(line.split("=", 1) for line in lines[1:])


def test_github_summary_annotations_and_outputs(
    pytester: pytest.Pytester, standin: StandIn, on_github: dict[str, Path]
) -> None:
    pytester.makeconftest(FLAT_PRICE)
    source = write_test(pytester, "test_bot", SUITE)
    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.setenv("GITHUB_WORKSPACE", str(pytester.path))
    try:
        result = pytester.runpytest("-p", "no:cacheprovider", "--llm-report=report.json")
    finally:
        monkeypatch.undo()
    assert result.ret == 1
    report = _report(pytester)
    # pytest places a decorated test at its first decorator, as Python does
    line = source.read_text().splitlines().index("@pytest.mark.llm_budget(calls=2)") + 1
    errors = [x for x in result.outlines if x.startswith("::error")]
    assert errors == [
        f"::error file=test_bot.py,line={line},title=LLM budget::"
        + github.escape_data(report["violations"][0]["message"])
    ]
    assert _outputs(on_github["GITHUB_OUTPUT"]) == {
        "llm-spend-usd": "0.8",
        "llm-cost-usd": "0.8",
        "llm-calls": str(report["totals"]["calls"]),
        "llm-live-calls": "4",
        "llm-violations": "1",
    }
    summary = on_github["GITHUB_STEP_SUMMARY"].read_text()
    assert summary.startswith("earlier step\n## LLM budget\n")
    assert summary.index("| calls |") < summary.index("### Violations") < summary.index("<details>")
    assert "$0.80" in summary
    assert "test\\_bot.py::test\\_polls" in summary


PUBLIC_HOST = """
from pytest_llmbudget.classify import Classification

def pytest_llmbudget_classify(request):
    if request.url.endswith("/chat/completions"):
        return Classification("openai", "chat", "api.openai.com", "/v1/chat/completions")
"""

QUOTA = {
    "error": {
        "message": "You exceeded your current quota",
        "type": "insufficient_quota",
        "code": "insufficient_quota",
    }
}


def test_github_warns_of_quota_errors_and_unknown_models(
    pytester: pytest.Pytester, standin: StandIn, on_github: dict[str, Path]
) -> None:
    pytester.makeconftest(PUBLIC_HOST)
    source = write_test(
        pytester,
        "test_quota",
        """
import openai
import pytest

def ask(model):
    client = openai.OpenAI(base_url=URL + "/v1", api_key=KEY, max_retries=0)
    return client.chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}])

def test_quota():
    with pytest.raises(openai.RateLimitError):
        ask("gpt-4o-mini")

def test_unknown():
    ask("gpt-from-the-future")
""",
    )
    standin.fail_next(429, QUOTA)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
    warnings = [x for x in result.outlines if x.startswith("::warning")]
    assert len(warnings) == 2
    lines = source.read_text().splitlines()
    quota_line = lines.index("def test_quota():") + 1
    unknown_line = lines.index("def test_unknown():") + 1
    assert (
        f"file=test_quota.py,line={quota_line},title=LLM budget::quota exhausted at openai"
        in (warnings[0])
    )
    assert (
        f"line={unknown_line},title=LLM budget::unknown model openai gpt-from-the-future"
        in (warnings[1])
    )
    assert not [x for x in result.outlines if x.startswith("::error")]


def test_nothing_for_github_without_its_variable(
    pytester: pytest.Pytester, standin: StandIn, on_github: dict[str, Path]
) -> None:
    pytester.makeconftest(FLAT_PRICE)
    write_test(pytester, "test_bot", SUITE)
    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.delenv("GITHUB_ACTIONS")
    try:
        result = pytester.runpytest("-p", "no:cacheprovider")
    finally:
        monkeypatch.undo()
    assert result.ret == 1
    assert not [x for x in result.outlines if x.startswith("::")]
    for path in on_github.values():
        assert path.read_text() == "earlier step\n"


def test_github_run_without_llm_calls_only_sets_outputs(
    pytester: pytest.Pytester, on_github: dict[str, Path]
) -> None:
    pytester.makepyfile(test_plain="def test_ok():\n    assert 2 + 2 == 4\n")
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    assert _outputs(on_github["GITHUB_OUTPUT"])["llm-calls"] == "0"
    assert on_github["GITHUB_STEP_SUMMARY"].read_text() == "earlier step\n"
    assert not [x for x in result.outlines if x.startswith("::")]


def test_a_violation_without_any_call_is_still_reported_everywhere(
    pytester: pytest.Pytester, standin: StandIn, on_github: dict[str, Path]
) -> None:
    """The run's only call refused before it was sent: no call, but the run failed, and says why."""
    write_test(
        pytester,
        "test_refused",
        "import openai\n\ndef test_refused():\n"
        "    client = openai.OpenAI(base_url=URL + '/v1', api_key=KEY, max_retries=0)\n"
        "    client.chat.completions.create(model='gpt-4o-mini', messages=[])\n",
    )
    result = pytester.runpytest(
        "-p", "no:cacheprovider", "--llm-record=rewrite", "--llm-max-calls=0"
    )
    result.assert_outcomes(failed=1)
    assert standin.hits == 0
    assert "LLM budget: no LLM calls" not in result.outlines
    result.stdout.fnmatch_lines(["*- LLM budget -*", "VIOLATION [[]max_calls[]]: *"])
    assert [x for x in result.outlines if x.startswith("::error")], "annotated"
    assert _outputs(on_github["GITHUB_OUTPUT"])["llm-violations"] == "1"
    summary = on_github["GITHUB_STEP_SUMMARY"].read_text()
    assert "1 budget violation" in summary
    assert "**max\\_calls**" in summary


def test_workflow_commands_are_escaped() -> None:
    assert github.escape_data("50% done\r\nnext") == "50%25 done%0D%0Anext"
    assert github.escape_property("a:b,c%") == "a%3Ab%2Cc%25"
    line = github.command("error", "spent $1: 100%\nstop", file="t/x,y.py", line=3)
    assert line == "::error file=t/x%2Cy.py,line=3,title=LLM budget::spent $1: 100%25%0Astop"


def _summary(records: list[CallRecord], violations: list[dict[str, Any]]) -> RunSummary:
    return build(
        records,
        outcomes={},
        limits={"budget_usd": 0.5, "test_max_calls": 50},
        violations=violations,
        token_counter="",
    )


def test_only_the_worst_violations_are_annotated(tmp_path: Path) -> None:
    violations: list[dict[str, Any]] = [
        {
            "kind": "test_budget",
            "nodeid": f"t.py::test_{i}",
            "limit": 1.0,
            "actual": 1.0 + i,
            "message": f"test {i} over",
        }
        for i in range(24)
    ]
    violations.append(
        {"kind": "budget", "nodeid": None, "limit": 0.5, "actual": 0.6, "message": "run over"}
    )
    summary = _summary([chat_record("t.py::test_0", "0.1")], violations)
    locations = {f"t.py::test_{i}": ("t.py", 10 * i) for i in range(24)}
    lines = github.workflow_commands(summary, locations, rootdir=tmp_path, environ={})
    assert len(lines) == 10
    assert lines[0] == "::error title=LLM budget::run over", "the run's budget first"
    assert lines[1].endswith("::test 23 over"), "then the test most over its limit"
    assert "line=231" in lines[1]
    assert lines[-1].endswith("::... and 16 more LLM budget errors: see the job summary")


def test_markdown_summary_stays_under_githubs_limit_for_any_suite_size() -> None:
    records = [
        chat_record(f"tests/test_many.py::test_case[{i}-|<b>]", "0.0001") for i in range(60_000)
    ]
    text = markdown.render(_summary(records, []))
    assert len(text.encode()) <= markdown.MAX_BYTES < 1024 * 1024
    assert text.startswith("## LLM budget\n")
    assert text.index("| 60,000 |") < text.index("<details>"), "totals come first"
    assert "more (see the JSON report)" in text
    assert "<b>" not in text
    assert "&lt;b&gt;" in text
    row = next(line for line in text.splitlines() if "test\\_case" in line)
    assert row.count(" | ") == 5, "a | in a test id does not open a new column"
