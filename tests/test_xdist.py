"""pytest-xdist: ``-n 2`` is one run, with the totals, reports and limits of a serial run."""

from __future__ import annotations

import json
import os
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from helpers import FLAT_PRICE, load_cassette, write_test
from standin import StandIn

SUITE = """
import openai
import pytest

def ask(text):
    client = openai.OpenAI(base_url=URL + "/v1", api_key=KEY, max_retries=0)
    return client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": text}])

@pytest.mark.parametrize("topic", ["tea", "maps", "owls", "rain", "jazz"])
def test_asks(topic):
    ask(f"tell me about {topic}")
    ask(f"and more about {topic}")

def test_no_call():
    assert "no call" in "a test with no call"

@pytest.mark.llm_budget(calls=2)
def test_polls():
    for i in range(5):
        ask(f"poll {i}")

def test_embeds():
    client = openai.OpenAI(base_url=URL + "/v1", api_key=KEY, max_retries=0)
    client.embeddings.create(model="text-embedding-3-small", input="four words of text")
"""

# Fields that differ between any two runs, serial or not.
VOLATILE = {"duration_s", "recorded_at"}


def _run(pytester: pytest.Pytester, name: str, *args: str, workers: bool) -> Any:
    """One run in a subprocess (xdist starts fresh processes anyway); its reports by name."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("GITHUB_ACTIONS", "true")
        env.setenv("GITHUB_OUTPUT", str(pytester.path / f"{name}.out"))
        env.setenv("GITHUB_STEP_SUMMARY", str(pytester.path / f"{name}.md"))
        spread = ["-n", "2"] if workers else ["-p", "no:xdist"]
        return pytester.runpytest_subprocess(
            *spread,
            "-p",
            "no:cacheprovider",
            f"--llm-report={name}.json",
            f"--junitxml={name}.xml",
            f"--llm-junit={name}-budget.xml",
            "--llm-max-cost=100",
            *args,
        )


def _report(pytester: pytest.Pytester, name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((pytester.path / f"{name}.json").read_text())
    for test in document["tests"]:
        for record in test["records"]:
            for field in VOLATILE:
                record.pop(field, None)
    return {
        key: document[key]
        for key in ("totals", "models", "tests", "violations", "quota_errors", "unknown_models")
    }


def _junit(path: Path) -> dict[str, tuple[dict[str, str], bool]]:
    root = ET.parse(path).getroot()
    return {
        case.attrib["name"]: (
            {p.attrib["name"]: p.attrib["value"] for p in case.iter("property")},
            case.find("failure") is not None,
        )
        for case in root.iter("testcase")
    }


def _same_run(pytester: pytest.Pytester, serial: str, xdist: str, *, summaries: bool) -> None:
    assert _report(pytester, xdist) == _report(pytester, serial)
    assert _junit(pytester.path / f"{xdist}.xml") == _junit(pytester.path / f"{serial}.xml")
    budget_checks = _junit(pytester.path / f"{xdist}-budget.xml")
    assert budget_checks == _junit(pytester.path / f"{serial}-budget.xml")
    out = (pytester.path / f"{xdist}.out").read_text()
    assert out == (pytester.path / f"{serial}.out").read_text()
    if summaries:  # live runs list their slowest calls, which differ from run to run
        summary = (pytester.path / f"{xdist}.md").read_text()
        assert summary == (pytester.path / f"{serial}.md").read_text()


def test_xdist_reports_what_a_serial_run_reports(
    pytester: pytest.Pytester, standin: StandIn
) -> None:
    pytester.makeconftest(FLAT_PRICE)
    write_test(pytester, "test_bot", SUITE)
    cassettes = pytester.path / "cassettes"

    serial = _run(pytester, "serial-live", workers=False)
    serial.assert_outcomes(passed=7, failed=1)
    serial_hits = standin.hits
    shutil.rmtree(cassettes)
    standin.reset()
    xdist = _run(pytester, "xdist-live", workers=True)
    xdist.assert_outcomes(passed=7, failed=1)
    assert standin.hits == serial_hits == 13
    _same_run(pytester, "serial-live", "xdist-live", summaries=False)
    live = _report(pytester, "xdist-live")
    assert live["totals"]["calls"] == live["totals"]["live_calls"] == 13
    assert [v["kind"] for v in live["violations"]] == ["test_max_calls"]
    assert "test_polls" in live["violations"][0]["nodeid"]

    standin.reset()
    _run(pytester, "serial-replay", "--llm-record=none", workers=False)
    _run(pytester, "xdist-replay", "--llm-record=none", workers=True)
    assert standin.hits == 0
    _same_run(pytester, "serial-replay", "xdist-replay", summaries=True)
    replay = _report(pytester, "xdist-replay")
    assert replay["totals"]["live_calls"] == 0
    assert replay["totals"]["cost_usd"] == live["totals"]["cost_usd"]


def test_max_calls_holds_exactly_across_workers(
    pytester: pytest.Pytester, standin: StandIn
) -> None:
    write_test(pytester, "test_bot", SUITE)
    result = pytester.runpytest_subprocess(
        "-n", "2", "-p", "no:cacheprovider", "--llm-max-calls=5", "--llm-report=report.json"
    )
    assert result.ret == 1
    assert standin.hits == 5, "the workers share one count; none is sent past it"
    document = json.loads((pytester.path / "report.json").read_text())
    assert document["totals"]["live_calls"] == 5
    kinds = [v["kind"] for v in document["violations"]]
    assert kinds.count("max_calls") == 1, "a run-wide limit is reported once, not per worker"
    result.stdout.fnmatch_lines(["*--llm-max-calls is 5: the call was not sent*"])


def test_budget_overshoots_by_at_most_one_call_per_worker(
    pytester: pytest.Pytester, standin: StandIn
) -> None:
    pytester.makeconftest(FLAT_PRICE)
    write_test(pytester, "test_bot", SUITE)
    result = pytester.runpytest_subprocess(
        "-n", "2", "-p", "no:cacheprovider", "--llm-budget=0.5", "--llm-report=report.json"
    )
    assert result.ret == 1
    # Serially, the third call ($0.40 spent, under $0.50) is the last one let through;
    # the other worker may have one call in flight when that happens.
    assert 3 <= standin.hits <= 4
    document = json.loads((pytester.path / "report.json").read_text())
    assert document["totals"]["live_calls"] == standin.hits
    assert document["totals"]["spend_usd"] == pytest.approx(0.2 * standin.hits)
    assert [v["kind"] for v in document["violations"]].count("budget") == 1


SHARED = """
import time

import openai
import pytest

@pytest.mark.llm_cassette("shared")
@pytest.mark.parametrize("n", range(6))
def test_shares_a_cassette(n):
    client = openai.OpenAI(base_url=URL + "/v1", api_key=KEY, max_retries=0)
    client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": f"question {n}"}])
    time.sleep(0.2)  # keep the cassette open while the other worker wants it
"""


@pytest.mark.parametrize(
    ("mode", "spread"),
    [("new", "-n2"), ("rewrite", "-n2"), ("once", "-n2"), ("rewrite", "-pno:xdist")],
)
def test_tests_sharing_a_cassette_all_keep_their_recordings(
    pytester: pytest.Pytester, standin: StandIn, mode: str, spread: str
) -> None:
    """Two workers never write one cassette at once, and in every mode each test adds to it."""
    write_test(pytester, "test_shared", SHARED)
    result = pytester.runpytest_subprocess(spread, "-p", "no:cacheprovider", f"--llm-record={mode}")
    result.assert_outcomes(passed=6)
    (cassette,) = (pytester.path / "cassettes").rglob("shared.yaml")
    interactions = load_cassette(cassette)["interactions"]
    asked = sorted(json.loads(i["request"]["body"])["messages"][0]["content"] for i in interactions)
    assert asked == [f"question {n}" for n in range(6)], "no worker's recording was lost"
    standin.reset()
    replay = pytester.runpytest_subprocess("-n", "2", "-p", "no:cacheprovider", "--llm-record=none")
    replay.assert_outcomes(passed=6)
    assert standin.hits == 0


def test_runs_where_xdist_is_not_installed(
    pytester: pytest.Pytester, standin: StandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No import of xdist anywhere: a sitecustomize makes it unimportable, as if absent."""
    blocker = pytester.mkdir("no_xdist")
    (blocker / "sitecustomize.py").write_text(
        "import sys\nsys.modules['xdist'] = None  # `import xdist` raises ImportError\n"
    )
    pytester.makeconftest(
        FLAT_PRICE
        + "\ndef pytest_sessionfinish(session):\n"
        + "    import sys\n"
        + "    assert sys.modules.get('xdist') is None\n"
    )
    write_test(pytester, "test_bot", SUITE)
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join([str(blocker), os.environ.get("PYTHONPATH", "")])
    )
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    result = pytester.runpytest_subprocess(
        "-p", "pytest_llmbudget.plugin", "--llm-max-calls=4", "--llm-report=report.json"
    )
    assert result.ret == 1
    assert standin.hits == 4
    document = json.loads((pytester.path / "report.json").read_text())
    assert document["totals"]["live_calls"] == 4


FOUR_CALLS = """
import openai

def ask(text):
    client = openai.OpenAI(base_url=URL + "/v1", api_key=KEY, max_retries=0)
    client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": text}])

def test_a():
    ask("a1")
    ask("a2")

def test_b():
    ask("b1")
    ask("b2")
"""


def test_runs_with_a_pinned_testrunuid_have_their_own_budgets(
    pytester: pytest.Pytester, standin: StandIn
) -> None:
    """CI often pins --testrunuid (say, to the workflow run id); runs must not share counts."""
    write_test(pytester, "test_bot", FOUR_CALLS)
    args = ["-n", "2", "-p", "no:cacheprovider", "--testrunuid=nightly", "--llm-max-calls=5"]
    first = pytester.runpytest_subprocess(*args, "--llm-record=rewrite")
    first.assert_outcomes(passed=2)
    second = pytester.runpytest_subprocess(*args, "--llm-record=rewrite")
    second.assert_outcomes(passed=2)
    assert standin.hits == 8


def test_daily_budget_counts_earlier_runs_across_workers(
    pytester: pytest.Pytester, standin: StandIn
) -> None:
    pytester.makeconftest(FLAT_PRICE)
    write_test(pytester, "test_bot", FOUR_CALLS)
    earlier = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--llm-record=rewrite")
    earlier.assert_outcomes(passed=2)  # $0.80 in the ledger
    standin.reset()
    result = pytester.runpytest_subprocess(
        "-n", "2", "-p", "no:cacheprovider", "--llm-record=rewrite", "--llm-daily-budget=1.10"
    )
    assert result.ret == 1
    # At $0.80 and at $1.00 a call is let through; the other worker may have one more in flight.
    assert 2 <= standin.hits <= 3
    result.stdout.fnmatch_lines(["*--llm-daily-budget is $1.10: the call was not sent*"])


LEFT_OPEN = """
import openai
import pytest

@pytest.mark.llm_cassette("shared")
def test_leaves_a_stream_open():
    client = openai.OpenAI(base_url=URL + "/v1", api_key=KEY, max_retries=0)
    stream = client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "a long story"}], stream=True)
    next(iter(stream))

@pytest.mark.llm_cassette("shared")
def test_then_uses_the_same_cassette():
    client = openai.OpenAI(base_url=URL + "/v1", api_key=KEY, max_retries=0)
    client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
"""

BROKEN_PRICE_FOR_TRUNCATED = """
def pytest_llmbudget_price(record):
    if record.truncated:
        raise RuntimeError("no price for a cut stream")
"""


def test_a_failing_teardown_does_not_keep_the_cassette_locked(
    pytester: pytest.Pytester, standin: StandIn
) -> None:
    """Finishing a stream left open fails here; the next test must still get the cassette."""
    pytester.makeconftest(BROKEN_PRICE_FOR_TRUNCATED)
    write_test(pytester, "test_open", LEFT_OPEN)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", timeout=120)
    result.assert_outcomes(passed=2, errors=1)
