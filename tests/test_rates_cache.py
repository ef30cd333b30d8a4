"""genai-prices' answers kept between runs: a replay prices its calls without importing it."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from helpers import write_test
from standin import StandIn

from pytest_llmbudget.pricing import PriceBook, Rates
from pytest_llmbudget.rates_cache import NOT_FLAT, UNKNOWN, RatesCache
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


@pytest.fixture
def project(pytester: pytest.Pytester, standin: StandIn, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("RESULT_FILE", str(pytester.path / "result.json"))
    pytester.makeconftest(MODULES_CONFTEST)
    write_test(pytester, "test_priced", TEST)
    return pytester.path / ".llmbudget" / "cache" / "rates.json"


def test_a_replay_reads_the_answers_and_never_imports_genai_prices(
    pytester: pytest.Pytester, project: Path
) -> None:
    modules, recorded = _run(pytester)
    assert "genai_prices" in modules, "the first run asked genai-prices"
    stored = json.loads(project.read_text())["answers"]
    rates = [
        [Decimal(x) for x in value[:5]] + value[5:] for value in stored.values() if value != UNKNOWN
    ]
    assert rates == [[0, Decimal("0.15"), Decimal("-0.075"), 0, Decimal("0.6"), None]]
    assert list(stored.values()).count(UNKNOWN) == 1
    assert (project.parent / ".gitignore").read_text().splitlines()[-1] == "*"

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
    good = json.loads(project.read_text())
    project.write_text(damage)
    modules, replayed = _run(pytester, "--llm-record=none")
    assert "genai_prices" in modules, "asked again"
    assert _costs(replayed) == _costs(recorded)
    assert json.loads(project.read_text()) == good


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
