"""Budgets: stop the spend before it happens, and catch runaway loops (SPEC §5)."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from helpers import FLAT_PRICE, write_test
from standin import StandIn

from pytest_llmbudget import LLMBudgetExceeded, LLMCallLimitExceeded
from pytest_llmbudget.budget import RunGate, TestGate
from pytest_llmbudget.ledger import Ledger
from pytest_llmbudget.limits import Limits
from pytest_llmbudget.records import CallRecord

# Every chat call costs exactly $0.20 here, whatever its tokens.

ASK = """
import openai

def ask(text="are we there yet"):
    client = openai.OpenAI(base_url=URL + "/v1", api_key=KEY, max_retries=0)
    return client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": text}])
"""


def _run(pytester: pytest.Pytester, *args: str) -> tuple[pytest.RunResult, dict[str, Any]]:
    path = pytester.path / "report.json"
    result = pytester.runpytest("-p", "no:cacheprovider", f"--llm-report={path}", *args)
    return result, json.loads(path.read_text())


def test_budget_refuses_the_next_live_call_before_it_is_sent(
    pytester: pytest.Pytester, standin: StandIn
) -> None:
    pytester.makeconftest(FLAT_PRICE)
    write_test(
        pytester,
        "test_spend",
        ASK + "\ndef test_spend():\n    for i in range(5):\n        ask(f'call {i}')\n",
    )
    result, report = _run(pytester, "--llm-budget=0.50")
    result.assert_outcomes(failed=1)
    assert result.ret == 1
    assert standin.hits == 3, "calls 1-3 went out ($0.60); call 4 was refused"
    result.stdout.fnmatch_lines(
        [
            "*LLMBudgetExceeded: live spend $0.60 has reached --llm-budget $0.50*not sent*",
        ]
    )
    assert [v["kind"] for v in report["violations"]] == ["budget"]
    assert report["violations"][0]["limit"] == 0.5
    assert report["limits"]["budget_usd"] == 0.5
    output = result.stdout.str()
    for mark in ("50%", "75%", "90%"):
        assert output.count(f"has passed {mark}") <= 1
    assert "has passed 90% of --llm-budget $0.50" in output


def test_budget_warnings_reach_the_terminal_past_capture_from_any_thread(
    pytester: pytest.Pytester, standin: StandIn
) -> None:
    """A warning seen only in a failing test's captured output would warn nobody.

    A subprocess: only there does pytest capture at the file-descriptor level,
    as in a user's run (in-process, the inner terminal is pytester's own stream).
    """
    pytester.makeconftest(FLAT_PRICE)
    write_test(
        pytester,
        "test_warn",
        ASK
        + """
import threading

def test_main_thread():
    ask("one")
    ask("two")

def test_other_thread():
    worker = threading.Thread(target=ask, args=("three",))
    worker.start()
    worker.join()

def test_fails_to_show_its_captured_output():
    assert False
""",
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--llm-budget=0.50")
    result.assert_outcomes(passed=2, failed=1)
    assert "Captured stdout" not in result.stdout.str()
    # $0.20, $0.40, $0.60: the second call passes 50 % and 75 % at once; each is said, once.
    # The third, from a thread the test started, is written by pytest's own thread.
    assert [line for line in result.outlines if "has passed" in line] == [
        "LLM budget: live spend $0.40 has passed 50% of --llm-budget $0.50",
        "LLM budget: live spend $0.40 has passed 75% of --llm-budget $0.50",
        "LLM budget: live spend $0.60 has passed 90% of --llm-budget $0.50",
    ]


def test_a_polling_loop_that_swallows_exceptions_is_still_cut(
    pytester: pytest.Pytester, standin: StandIn
) -> None:
    write_test(
        pytester,
        "test_poll",
        ASK
        + """
def test_poll():
    while True:  # waits for a "done" that never comes
        try:
            ask("is the job done")
        except Exception:
            pass
""",
    )
    result, report = _run(pytester)
    result.assert_outcomes(failed=1)
    assert standin.hits == 50, "the default per-test limit"
    result.stdout.fnmatch_lines(
        [
            "*LLMCallLimitExceeded: test_poll.py::test_poll made 50 LLM calls, the limit is 50 "
            "(--llm-test-max-calls); POST /v1/chat/completions was called 50 times: "
            "this looks like a polling loop*"
        ]
    )
    assert report["violations"][0]["kind"] == "test_max_calls"
    assert report["violations"][0]["nodeid"] == "test_poll.py::test_poll"


def test_per_test_limits_hold_in_replay(pytester: pytest.Pytester, standin: StandIn) -> None:
    write_test(
        pytester,
        "test_three",
        ASK + "\ndef test_three():\n    for i in range(3):\n        ask(f'q{i}')\n",
    )
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)
    write_test(
        pytester,
        "test_three",
        ASK
        + "\nimport pytest\n@pytest.mark.llm_budget(calls=2)\n"
        + "def test_three():\n    for i in range(3):\n        ask(f'q{i}')\n",
    )
    result, _ = _run(pytester, "--llm-record=none")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*LLMCallLimitExceeded*limit is 2 (@pytest.mark.llm_budget*"])

    write_test(
        pytester,
        "test_three",
        ASK + "\ndef test_three():\n    for i in range(3):\n        ask(f'q{i}')\n",
    )
    result, report = _run(pytester, "--llm-record=none", "--llm-test-budget=0.0000001")
    result.assert_outcomes(failed=1)
    assert report["totals"]["live_calls"] == 0
    assert [v["kind"] for v in report["violations"]] == ["test_budget"]
    result.stdout.fnmatch_lines(["*LLMBudgetExceeded: test_three.py::test_three cost $0.0000*"])


def test_marker_budget_in_usd(pytester: pytest.Pytester, standin: StandIn) -> None:
    pytester.makeconftest(FLAT_PRICE)
    write_test(
        pytester,
        "test_dear",
        ASK
        + """
import pytest
@pytest.mark.llm_budget(usd=0.3)
def test_dear():
    ask("one")
    ask("two")

@pytest.mark.llm_budget(usd=0.5)
def test_fine():
    ask("three")
""",
    )
    result, report = _run(pytester)
    result.assert_outcomes(failed=1, passed=1)
    assert report["violations"][0]["nodeid"] == "test_dear.py::test_dear"
    assert report["violations"][0]["actual"] == pytest.approx(0.4)


def test_a_test_cost_violation_is_kept_when_the_test_fails_otherwise(
    pytester: pytest.Pytester, standin: StandIn
) -> None:
    pytester.makeconftest(FLAT_PRICE)
    write_test(
        pytester,
        "test_dear",
        ASK
        + """
import pytest

@pytest.fixture(scope="module")
def module_cleanup():
    yield
    ask("summarise the module")  # torn down in the last test's teardown: not its cost

@pytest.mark.llm_budget(usd=0.3)
def test_fails_anyway(module_cleanup):
    ask("one")
    ask("two")
    assert False, "a bug of its own"

@pytest.mark.llm_budget(usd=0.3)
def test_last_of_the_module(module_cleanup):
    ask("one")
""",
    )
    result, report = _run(pytester)
    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines(["*AssertionError: a bug of its own*"])
    assert "LLMBudgetExceeded" not in result.stdout.str(), "reported, not raised over the error"
    found = [(v["kind"], v["nodeid"], round(v["actual"], 6)) for v in report["violations"]]
    assert found == [("test_budget", "test_dear.py::test_fails_anyway", 0.4)]


def test_max_calls_counts_live_calls_only(pytester: pytest.Pytester, standin: StandIn) -> None:
    write_test(
        pytester,
        "test_calls",
        ASK + "\ndef test_calls():\n    ask('a')\n    ask('b')\n",
    )
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)
    write_test(
        pytester,
        "test_calls",
        ASK + "\ndef test_calls():\n    ask('a')\n    ask('b')\n    ask('c')\n    ask('d')\n",
    )
    standin.reset()
    result, report = _run(pytester, "--llm-max-calls=1")
    result.assert_outcomes(failed=1)
    assert standin.hits == 1, "two replays and one live call; the second live call is refused"
    assert report["violations"][0]["kind"] == "max_calls"
    assert report["violations"][0]["message"] == (
        "1 live call made, --llm-max-calls is 1: the call was not sent"
    )


def test_max_cost_is_a_violation_at_the_end_even_when_tests_pass(
    pytester: pytest.Pytester, standin: StandIn
) -> None:
    write_test(pytester, "test_cost", ASK + "\ndef test_cost():\n    ask('priced')\n")
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)
    result, report = _run(pytester, "--llm-record=none", "--llm-max-cost=0.0000001")
    result.assert_outcomes(passed=1)
    assert result.ret == 1
    assert [v["kind"] for v in report["violations"]] == ["max_cost"]
    result.stdout.fnmatch_lines(["VIOLATION [[]max_cost[]]*over --llm-max-cost*"])


THREADS = """
import threading
import pytest
from pytest_llmbudget import LLMCallLimitExceeded

@pytest.mark.llm_budget(calls=10)
def test_threads():
    stopped = []
    def worker(n):
        for i in range(n):
            try:
                ask(f"thread call {threading.get_ident()} {i}")
            except LLMCallLimitExceeded:
                stopped.append(1)
    threads = [threading.Thread(target=worker, args=(4 if t < 6 else 3,)) for t in range(8)]
    for t in threads: t.start()
    for t in threads: t.join()
    assert len(stopped) == 20
"""

GATHER = """
import asyncio
import openai
import pytest
from pytest_llmbudget import LLMCallLimitExceeded

@pytest.mark.llm_budget(calls=10)
def test_gather():
    async def main():
        async with openai.AsyncOpenAI(base_url=URL + "/v1", api_key=KEY, max_retries=0) as client:
            calls = [client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": f"gather {i}"}])
                for i in range(30)]
            return await asyncio.gather(*calls, return_exceptions=True)
    results = asyncio.run(main())
    assert sum(isinstance(r, LLMCallLimitExceeded) for r in results) == 20
"""


@pytest.mark.parametrize("source", [THREADS, GATHER], ids=["threads", "asyncio"])
def test_limits_are_exact_under_concurrency(
    source: str, pytester: pytest.Pytester, standin: StandIn
) -> None:
    write_test(pytester, "test_conc", ASK + source)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    assert standin.hits == 10


def test_gates_unit() -> None:
    gate = RunGate(Limits(budget_usd=Decimal("0.1")))
    gate.admit_live("t::a")
    gate.spent(Decimal("0.1"))
    with pytest.raises(LLMBudgetExceeded) as caught:
        gate.admit_live("t::b")
    assert (caught.value.limit, caught.value.actual, caught.value.nodeid) == (0.1, 0.1, "t::b")
    assert not isinstance(caught.value, Exception)
    test_gate = TestGate("t::c", 1, "--llm-test-max-calls")
    test_gate.admit("POST", "/v1/responses")
    with pytest.raises(LLMCallLimitExceeded) as limited:
        test_gate.admit("GET", "/v1/responses/resp_1")
    assert limited.value.limit == 1
    assert limited.value.actual == 2
    assert str(limited.value) == (
        "t::c made 1 LLM call, the limit is 1 (--llm-test-max-calls); "
        "POST /v1/responses was called 1 time: this looks like a polling loop"
    )


def _record(cost: str) -> CallRecord:
    record = CallRecord(
        nodeid="t::x",
        provider="openai",
        api="chat",
        host="h",
        endpoint="/v1/chat/completions",
        method="POST",
        url="u",
        live=True,
        status=200,
        duration_s=0.1,
        recorded_at=None,
        cassette=None,
    )
    record.cost_usd = Decimal(cost)
    record.model = "gpt-4o-mini"
    return record


def test_live_calls_go_to_the_ledger_and_feed_the_daily_budget(
    pytester: pytest.Pytester, standin: StandIn
) -> None:
    write_test(pytester, "test_day", ASK + "\ndef test_day():\n    ask('ledger me')\n")
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)
    ledger_path = pytester.path / ".llmbudget" / "ledger.sqlite"
    other = Ledger(ledger_path, run_id="another-run")
    spent = other.spent_since(
        __import__("datetime").datetime(2000, 1, 1, tzinfo=__import__("datetime").UTC)
    )
    assert spent > 0, "the first run's live call is in the ledger"
    other.add(_record("5"))
    other.close()
    standin.reset()
    result, report = _run(pytester, "--llm-record=rewrite", "--llm-daily-budget=1")
    result.assert_outcomes(failed=1)
    assert standin.hits == 0
    assert report["violations"][0]["kind"] == "daily_budget"
    result.stdout.fnmatch_lines(
        ["*live spend over the last 24 h is $5.*--llm-daily-budget is $1.00*"]
    )


WRITER = """
import sys
from decimal import Decimal
from pytest_llmbudget.ledger import Ledger
from pytest_llmbudget.records import CallRecord
ledger = Ledger(__import__("pathlib").Path(sys.argv[1]), run_id=sys.argv[2])
for i in range(200):
    record = CallRecord(nodeid="t", provider="p", api="a", host="h", endpoint="/e", method="POST",
                        url="u", live=True, status=200, duration_s=0, recorded_at=None, cassette=None)
    record.cost_usd = Decimal("0.001")
    ledger.add(record)
ledger.close()
"""


def test_parallel_ledger_writers_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(path), f"run-{n}"]) for n in range(4)
    ]
    assert [writer.wait(timeout=120) for writer in writers] == [0, 0, 0, 0]
    ledger = Ledger(path, run_id="reader")
    import datetime as dt

    assert ledger.spent_since(dt.datetime(2000, 1, 1, tzinfo=dt.UTC)) == Decimal("0.800")
    assert sum(row[3] for row in ledger.per_day(1)) == 800


OPENER = """
import sys, time
from pathlib import Path
from pytest_llmbudget.ledger import open_for_writing
start = float(sys.argv[2])
while time.time() < start:
    pass
for n in range(20):
    connection = open_for_writing(Path(sys.argv[1]) / f"ledger-{n}.sqlite")
    connection.execute("BEGIN IMMEDIATE")
    connection.execute("COMMIT")
    connection.close()
"""


def test_processes_opening_a_ledger_at_once_all_get_it(tmp_path: Path) -> None:
    """xdist workers start together and open the same ledger: none may fail to get it."""
    import time

    from pytest_llmbudget.ledger import open_for_writing

    for n in range(20):  # existing ledgers, closed: the next opening must recover each
        open_for_writing(tmp_path / f"ledger-{n}.sqlite").close()
    start = str(time.time() + 1.5)  # every process spins until the same instant
    openers = [
        subprocess.Popen([sys.executable, "-c", OPENER, str(tmp_path), start]) for _ in range(6)
    ]
    assert [opener.wait(timeout=120) for opener in openers] == [0] * 6


@pytest.mark.parametrize(
    ("args", "ini", "expected"),
    [
        (["--llm-budget=abc"], "", "--llm-budget='abc' is not an amount in USD"),
        (["--llm-budget=-1"], "", "use a number >= 0"),
        (["--llm-max-cost=nan"], "", "--llm-max-cost='nan' is not an amount"),
        (["--llm-test-budget=$"], "", "--llm-test-budget"),
        (["--llm-daily-budget=1e400x"], "", "--llm-daily-budget"),
        (["--llm-max-calls=1.5"], "", "--llm-max-calls='1.5' is not a count"),
        (["--llm-test-max-calls=-3"], "", "use a whole number >= 0"),
        (["--llm-record=sometimes"], "", "use one of: none, once, new, rewrite"),
        (["--llm-unknown-model=loud"], "", "use one of: warn, fail, ignore"),
        ([], "llm_budget = lots", "llm_budget='lots' is not an amount in USD"),
        ([], "llm_max_calls = many", "llm_max_calls='many' is not a count"),
        ([], "llm_max_cost = -0.5", "llm_max_cost"),
        ([], "llm_test_budget = x", "llm_test_budget"),
        ([], "llm_test_max_calls = y", "llm_test_max_calls"),
        ([], "llm_daily_budget = z", "llm_daily_budget"),
        ([], "llm_record = maybe", "llm_record='maybe'"),
        ([], "llm_unknown_model = loud", "llm_unknown_model='loud' is not allowed; use one of"),
        ([], "llm_record_errors = perhaps", "true or false"),
        ([], "llm_prices = missing.toml", "llm_prices"),
    ],
)
def test_bad_values_are_usage_errors(
    pytester: pytest.Pytester, args: list[str], ini: str, expected: str
) -> None:
    if ini:
        pytester.makeini(f"[pytest]\n{ini}\n")
    result = pytester.runpytest(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert expected in result.stderr.str()


@pytest.mark.parametrize(
    "value",
    ["mysql://root:s3cret-pass@db/costs", "redis://default:s3cret-pass@cache:6379/0"],
)
def test_a_ledger_url_the_plugin_cannot_use_is_a_usage_error_without_its_password(
    pytester: pytest.Pytester, value: str
) -> None:
    """Taken as a path it was a SQLite file named after the URL, password included."""
    pytester.makepyfile(test_none="def test_none():\n    pass\n")

    result = pytester.runpytest("-p", "no:cacheprovider", f"--llm-ledger={value}")

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--llm-ledger: *:***@* is not a ledger*SQLite file path*"])
    assert "s3cret-pass" not in result.stderr.str() + result.stdout.str()
    assert sorted(p.name for p in pytester.path.iterdir()) == ["test_none.py"]


def test_a_sqlite_url_names_the_ledger_file(pytester: pytest.Pytester, standin: StandIn) -> None:
    write_test(pytester, "test_day", ASK + "\ndef test_day():\n    ask('ledger me')\n")
    pytester.runpytest(
        "-p", "no:cacheprovider", "--llm-ledger=sqlite:///costs/team.sqlite"
    ).assert_outcomes(passed=1)
    assert (pytester.path / "costs" / "team.sqlite").is_file()
    assert not (pytester.path / ".llmbudget" / "ledger.sqlite").exists()
