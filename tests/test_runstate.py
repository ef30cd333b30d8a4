"""What tests without LLM calls no longer pay for still works when calls come late in a run.

The recorder, the outcome log and the per-test cost check are made or
registered at the first point they can matter; these runs put that point in
the middle of a suite and check nothing is missed around it.
"""

from __future__ import annotations

import json

import pytest
from helpers import FLAT_PRICE, write_test
from standin import StandIn

SUMMARY_CONFTEST = (
    FLAT_PRICE
    + """
import json

def pytest_llmbudget_summary(summary):
    with open("summary.json", "w") as stream:
        json.dump([[test.nodeid, test.outcome, test.totals.calls] for test in summary.tests], stream)
"""
)

LATE_CALLS = """
import openai, pytest

def ask(text):
    client = openai.OpenAI(base_url=URL + "/v1", api_key=KEY, max_retries=0)
    client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": text}])

@pytest.mark.parametrize("n", range(3))
def test_quiet(n):
    assert n >= 0

def test_first_caller_fails_after_its_call():
    ask("one")
    assert False, "after the call"

@pytest.fixture
def asked_in_setup():
    ask("from a fixture")
    raise RuntimeError("setup breaks after the call")

def test_setup_caller(asked_in_setup):
    pass

def test_later_caller_passes():
    ask("two")

@pytest.mark.skip(reason="never runs")
def test_skipped():
    ask("never")
"""


def test_outcomes_of_tests_calling_after_quiet_ones(
    pytester: pytest.Pytester, standin: StandIn
) -> None:
    """The outcome log starts at the run's first call: the caller's own outcome is in it."""
    pytester.makeconftest(SUMMARY_CONFTEST)
    write_test(pytester, "test_late", LATE_CALLS)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=4, failed=1, errors=1, skipped=1)
    summary = json.loads((pytester.path / "summary.json").read_text())
    assert sorted(summary) == sorted(
        [
            ["test_late.py::test_first_caller_fails_after_its_call", "failed", 1],
            ["test_late.py::test_setup_caller", "error", 1],
            ["test_late.py::test_later_caller_passes", "passed", 1],
        ]
    )
    assert standin.hits == 3


def test_a_cost_budget_on_a_late_test_is_enforced(
    pytester: pytest.Pytester, standin: StandIn
) -> None:
    """The cost check is registered by the first test that has a budget, before its call phase."""
    pytester.makeconftest(FLAT_PRICE)
    write_test(
        pytester,
        "test_budgeted",
        """
        import openai, pytest

        def ask(text):
            client = openai.OpenAI(base_url=URL + "/v1", api_key=KEY, max_retries=0)
            client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": text}])

        def test_unbudgeted():
            ask("free to spend")
            ask("and again")

        @pytest.mark.llm_budget(usd=0.3)
        def test_budgeted():
            ask("one")
            ask("two")

        def test_after():
            ask("three")
            ask("four")
        """,
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*LLMBudgetExceeded: test_budgeted.py::test_budgeted cost $0.40* over its budget of $0.30*"
        ]
    )


@pytest.mark.parametrize(
    "where",
    [
        "@pytest.mark.llm_budget(dollars=1)\ndef test_quiet():\n    pass\n",
        "pytestmark = pytest.mark.llm_budget(1)\ndef test_quiet():\n    pass\n",
        "@pytest.mark.llm_budget(usd=1, call=2)\nclass TestQuiet:\n"
        "    def test_quiet(self):\n        pass\n",
    ],
    ids=["function", "module", "class"],
)
def test_a_malformed_budget_marker_fails_its_test_without_any_call(
    pytester: pytest.Pytester, where: str
) -> None:
    pytester.makepyfile(test_marked="import pytest\n" + where)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*@pytest.mark.llm_budget takes usd= and calls= only*"])


def test_the_closest_budget_marker_wins(pytester: pytest.Pytester, standin: StandIn) -> None:
    """A function's marker overrides its class's, which overrides its module's."""
    write_test(
        pytester,
        "test_nested",
        """
        import openai, pytest

        pytestmark = pytest.mark.llm_budget(calls=1)

        def ask():
            client = openai.OpenAI(base_url=URL + "/v1", api_key=KEY, max_retries=0)
            client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])

        def test_module_limit():
            ask()
            ask()

        @pytest.mark.llm_budget(calls=3)
        class TestClassLimit:
            def test_class(self):
                ask(); ask(); ask()

            @pytest.mark.llm_budget(calls=2)
            def test_function(self):
                ask(); ask(); ask()
        """,
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines(
        [
            "*test_module_limit*limit is 1 (@pytest.mark.llm_budget(calls=...))*",
            "*test_function*limit is 2 (@pytest.mark.llm_budget(calls=...))*",
        ],
        consecutive=False,
    )
