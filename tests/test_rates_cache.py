"""genai-prices' answers kept between runs: a replay prices its calls without importing it."""

from __future__ import annotations

import json
import shutil
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from helpers import write_test
from standin import StandIn

from pytest_llmbudget.pricing import PriceBook, Rates
from pytest_llmbudget.rates_cache import NOT_FLAT, UNKNOWN, RatesCache, user_cache_folder
from pytest_llmbudget.records import Usage

MODULES_CONFTEST = """
import json, sys
def pytest_unconfigure(config):
    with open("modules.json", "w") as stream:
        json.dump(sorted(sys.modules), stream)
"""

TEST = """
import httpx

def chat(model):
    body = {"model": model, "messages": [{"role": "user", "content": "price me"}]}
    return httpx.post(URL + "/v1/chat/completions", json=body).json()["choices"][0]["message"]["content"]

def test_priced():
    save([chat("gpt-4o-mini"), chat("no-such-model-anywhere")])
"""


def _run(pytester: pytest.Pytester, *args: str) -> tuple[set[str], dict[str, Any]]:
    """One run in a fresh process: the modules it imported and its JSON report."""
    report = pytester.path / "report.json"
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", f"--llm-report={report}", *args
    )
    result.assert_outcomes(passed=1)
    modules = set(json.loads((pytester.path / "modules.json").read_text()))
    return modules, json.loads(report.read_text())


def _costs(report: dict[str, Any]) -> list[tuple[str, float, bool]]:
    return [
        (call["model"], call["cost_usd"], call["priced"])
        for test in report["tests"]
        for call in test["records"]
    ]


def _answers_file(folder: Path) -> Path:
    """The one file of answers a run wrote under the user cache folder ``folder``."""
    (found,) = (folder / "rates").glob("*.json")
    return found


@pytest.fixture
def project(pytester: pytest.Pytester, standin: StandIn, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The file of answers, in the user cache folder LLMBUDGET_CACHE_DIR names."""
    monkeypatch.setenv("RESULT_FILE", str(pytester.path / "result.json"))
    monkeypatch.setenv("LLMBUDGET_CACHE_DIR", str(pytester.path / "user-cache"))
    pytester.makeconftest(MODULES_CONFTEST)
    write_test(pytester, "test_priced", TEST)
    return pytester.path / "user-cache"


def test_a_replay_reads_the_answers_and_never_imports_genai_prices(
    pytester: pytest.Pytester, project: Path
) -> None:
    modules, recorded = _run(pytester)
    assert "genai_prices" in modules, "the first run asked genai-prices"
    stored = json.loads(_answers_file(project).read_text())["answers"]
    rates = [
        [Decimal(x) for x in value[:5]] + value[5:] for value in stored.values() if value != UNKNOWN
    ]
    assert rates == [[0, Decimal("0.15"), Decimal("-0.075"), 0, Decimal("0.6"), None]]
    assert list(stored.values()).count(UNKNOWN) == 1

    # A fresh clone: no .llmbudget folder at all. The answers are the install's, not the
    # project's, so its first replay still prices without genai-prices.
    shutil.rmtree(pytester.path / ".llmbudget")
    modules, replayed = _run(pytester, "--llm-record=none")
    assert "genai_prices" not in modules
    assert _costs(replayed) == _costs(recorded)
    (model, cost, priced), (unknown, free, local) = _costs(replayed)
    # A model nobody prices, on a loopback host: a local model, free.
    assert (model, priced, unknown, free, local) == (
        "gpt-4o-mini",
        True,
        "no-such-model-anywhere",
        0,
        True,
    )
    assert cost > 0


@pytest.mark.parametrize(
    "damage",
    ["", "not json", '{"stamp": "another genai-prices", "answers": {}}', '["a list"]'],
)
def test_an_unusable_file_is_ignored_and_replaced(
    pytester: pytest.Pytester, project: Path, damage: str
) -> None:
    _modules, recorded = _run(pytester)
    answers = _answers_file(project)
    good = json.loads(answers.read_text())
    answers.write_text(damage)
    modules, replayed = _run(pytester, "--llm-record=none")
    assert "genai_prices" in modules, "asked again"
    assert _costs(replayed) == _costs(recorded)
    assert json.loads(answers.read_text()) == good


def test_the_user_cache_folder_follows_the_platform_convention(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("LLMBUDGET_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setattr(sys, "platform", "linux")
    assert user_cache_folder() == tmp_path / "xdg" / "pytest-llmbudget"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert user_cache_folder() == tmp_path / "home" / ".cache" / "pytest-llmbudget"
    monkeypatch.setattr(sys, "platform", "darwin")
    assert user_cache_folder() == tmp_path / "home" / "Library" / "Caches" / "pytest-llmbudget"
    monkeypatch.setenv("LLMBUDGET_CACHE_DIR", str(tmp_path / "chosen"))
    assert user_cache_folder() == tmp_path / "chosen"
    cache = RatesCache.for_this_install()
    assert cache.path is not None
    assert cache.path.parent == tmp_path / "chosen" / "rates"


def test_an_unwritable_cache_folder_only_costs_the_next_run_a_lookup(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    cache = RatesCache(blocker / "rates" / "x.json")  # its folder cannot be made
    cache.put(("gpt-4o-mini", "openai", True), UNKNOWN)
    assert cache.get(("gpt-4o-mini", "openai", True)) == UNKNOWN  # kept for this run
    assert RatesCache(blocker / "rates" / "x.json").get(("gpt-4o-mini", "openai", True)) is None
    assert RatesCache(None).get(("gpt-4o-mini", "openai", True)) is None


def test_stored_answers_round_trip_and_bad_entries_are_ignored(tmp_path: Path) -> None:
    cache = RatesCache(tmp_path / "rates.json")
    rates = Rates(Decimal("0.001"), Decimal("0.15"), Decimal("-0.075"), Decimal(0), Decimal("0.6"))
    cache.put(("gpt-4o-mini", "openai", True), rates)
    cache.put(("mystery", None, False), UNKNOWN)
    cache.put(("deepseek-chat", "deepseek", True), NOT_FLAT)
    again = RatesCache(tmp_path / "rates.json")
    assert again.get(("gpt-4o-mini", "openai", True)) == rates
    assert again.get(("gpt-4o-mini", "openai", False)) is None, "own host is part of the key"
    assert again.get(("mystery", None, False)) == UNKNOWN
    assert again.get(("deepseek-chat", "deepseek", True)) == NOT_FLAT
    document = json.loads((tmp_path / "rates.json").read_text())
    name = next(iter(document["answers"]))
    for bad in (["1", "2"], ["a", "b", "c", "d", "e"], 7, None):
        document["answers"][name] = bad
        (tmp_path / "rates.json").write_text(json.dumps(document))
        assert RatesCache(tmp_path / "rates.json").get(json.loads(name)) is None, bad


def test_a_price_book_with_the_cache_prices_like_one_without(tmp_path: Path) -> None:
    usage = Usage(input_tokens=12_345, output_tokens=678, cached_tokens=2_000)

    def cost(book: PriceBook) -> Any:
        return book.price(
            provider="openai", model="gpt-4o-mini", host="api.openai.com", usage=usage
        ).cost_usd

    plain = cost(PriceBook())
    first = cost(PriceBook(cache=RatesCache(tmp_path / "rates.json")))
    read_back = PriceBook(cache=RatesCache(tmp_path / "rates.json"))
    assert cost(read_back) == first == plain
    assert isinstance(read_back._answers[("gpt-4o-mini", "openai", True)], Rates)
