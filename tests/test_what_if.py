"""What-if repricing: a real run's report priced on other models, by the CLI and on the HTML page."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from helpers import chat_record, write_test
from standin import StandIn

from pytest_llmbudget.cli import main
from pytest_llmbudget.records import Usage
from pytest_llmbudget.report import jsonreport
from pytest_llmbudget.summary import build

SUITE = """
import openai

def client():
    return openai.OpenAI(base_url=URL + "/v1", api_key=KEY, max_retries=0)

def ask(text, model):
    return client().chat.completions.create(
        model=model, messages=[{"role": "user", "content": text}])

def test_cheap():
    ask("a short question for the small model", "gpt-4o-mini")

def test_dear():
    for n in range(2):
        ask("a long question for the big model " * 30, "gpt-4o")

def test_lists_models():
    client().models.list()
"""


@pytest.fixture
def report(pytester: pytest.Pytester, standin: StandIn) -> Path:
    """The JSON report of a real run: gpt-4o-mini, gpt-4o, and a call with no usage."""
    pytester.makeini("[pytest]\nllm_hosts = 127.0.0.1\n")  # the model list counts as a call
    write_test(pytester, "test_bot", SUITE)
    path = pytester.path / "report.json"
    result = pytester.runpytest(
        "-p", "no:cacheprovider", "--llm-record=rewrite", f"--llm-report={path}"
    )
    assert result.ret == 0, result.stdout.str()
    return path


def _tests(report: Path) -> dict[str, list[dict[str, Any]]]:
    document = json.loads(report.read_text())
    return {test["nodeid"].split("::")[1]: test["records"] for test in document["tests"]}


def _what_if(capsys: pytest.CaptureFixture[str], *args: str, status: int = 0) -> dict[str, Any]:
    assert main(["report", *args, "--format", "json"]) == status
    loaded: dict[str, Any] = json.loads(capsys.readouterr().out)
    return loaded


def _row(rows: list[dict[str, Any]], key: str, suffix: str) -> dict[str, Any]:
    [row] = [row for row in rows if row[key].endswith(suffix)]
    return row


def test_reprices_every_call_with_usage_and_names_the_rest(
    report: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tests = _tests(report)
    document = _what_if(capsys, str(report), "--what-if", "gpt-4o", "--what-if", "gpt-4o-mini")
    on_4o, on_mini = document["what_if"]
    assert (on_4o["model"], on_4o["from"], on_4o["known"]) == ("gpt-4o", None, True)
    # test_dear called gpt-4o: priced on gpt-4o it costs what it cost as recorded
    dear = _row(on_4o["tests"], "nodeid", "::test_dear")
    recorded = sum(Decimal(str(r["cost_usd"])) for r in tests["test_dear"])
    assert dear["recorded_usd"] == pytest.approx(float(recorded))
    assert dear["what_if_usd"] == pytest.approx(float(recorded))
    # ... and the small model's call gets dearer on it, by gpt-4o's own price ratio
    cheap = _row(on_4o["tests"], "nodeid", "::test_cheap")
    assert cheap["what_if_usd"] > cheap["recorded_usd"] > 0
    assert cheap["change_pct"] == pytest.approx(
        (cheap["what_if_usd"] - cheap["recorded_usd"]) / cheap["recorded_usd"] * 100, abs=0.01
    )
    assert _row(on_mini["tests"], "nodeid", "::test_dear")["what_if_usd"] < float(recorded)
    for result in (on_4o, on_mini):
        assert result["repriced_calls"] == 3
        assert result["total"]["what_if_usd"] == pytest.approx(
            sum(row["what_if_usd"] for row in result["tests"])
        )
        [file_row] = result["files"]
        assert file_row["path"] == "test_bot.py"
        assert file_row["what_if_usd"] == pytest.approx(result["total"]["what_if_usd"])
        assert result["not_repriced"] == [], "a model list costs nothing on any model"
        lists = _row(result["tests"], "nodeid", "::test_lists_models")
        assert lists["what_if_usd"] == lists["recorded_usd"] == 0


def test_calls_to_a_model_without_usage_are_named_and_kept(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A model's answer without usage (a cut stream, a proxy that drops it) is not guessed at."""
    calls = [
        chat_record("tests/test_a.py::test_cut", "0.01", model="gpt-4o"),
        chat_record("tests/test_a.py::test_whole", "0.02", model="gpt-4o", usage=Usage(1000, 100)),
    ]
    path = tmp_path / "report.json"
    jsonreport.write(build(calls, outcomes={}, limits={}, violations=[], token_counter=""), path)
    [result] = _what_if(capsys, str(path), "--what-if", "gpt-4o-mini")["what_if"]
    assert result["repriced_calls"] == 1
    assert result["not_repriced"] == [
        {
            "reason": "no usage",
            "model": "gpt-4o",
            "calls": 1,
            "tests": ["tests/test_a.py::test_cut"],
        }
    ]
    cut = _row(result["tests"], "nodeid", "::test_cut")
    assert cut["what_if_usd"] == cut["recorded_usd"] == pytest.approx(0.01)
    assert main(["report", str(path), "--what-if", "gpt-4o-mini"]) == 0
    assert (
        "note: gpt-4o-mini: 1 call to gpt-4o not repriced, no usage in the report "
        "(tests/test_a.py::test_cut); kept at the recorded cost"
    ) in capsys.readouterr().out.splitlines()


def test_from_to_reprices_only_the_calls_to_from(
    report: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    [result] = _what_if(capsys, str(report), "--what-if", "gpt-4o = gpt-4o-mini")["what_if"]
    assert (result["from"], result["model"]) == ("gpt-4o", "gpt-4o-mini")
    assert result["repriced_calls"] == 2
    assert result["kept_calls"] == 1, "the gpt-4o-mini call keeps its recorded cost"
    cheap = _row(result["tests"], "nodeid", "::test_cheap")
    assert cheap["what_if_usd"] == cheap["recorded_usd"]
    dear = _row(result["tests"], "nodeid", "::test_dear")
    assert 0 < dear["what_if_usd"] < dear["recorded_usd"]
    assert result["not_repriced"] == [], "the call with no usage is not a call to gpt-4o"


def test_overrides_are_honoured_and_an_unknown_model_is_a_finding(
    report: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    prices = tmp_path / "prices.toml"
    prices.write_text('[models."house-model"]\ninput = 1.0\noutput = 2.0\n')
    document = _what_if(
        capsys,
        str(report),
        "--prices",
        str(prices),
        "--what-if",
        "house-model",
        "--what-if",
        "no-such-model-anywhere",
        status=1,
    )
    house, unknown = document["what_if"]
    expected = sum(
        Decimal(r["input_tokens"]) * 1 + Decimal(r["output_tokens"]) * 2
        for records in _tests(report).values()
        for r in records
    ) / Decimal(1_000_000)
    assert house["total"]["what_if_usd"] == pytest.approx(float(expected))
    assert unknown["known"] is False
    assert unknown["total"] is None

    assert main(["report", str(report), "--what-if", "no-such-model-anywhere"]) == 1
    text = capsys.readouterr().out
    assert "no-such-model-anywhere: no price known" in text


def test_text_and_markdown_put_the_models_side_by_side(
    report: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        main(
            [
                "report",
                str(report),
                "--what-if",
                "gpt-4o-mini",
                "--what-if",
                "gpt-4o=claude-haiku-4-5",
            ]
        )
        == 0
    )
    text = capsys.readouterr().out
    lines = text.splitlines()
    assert lines[0].startswith(f"LLM cost on other models: {report} (4 calls, ")
    assert lines[1].split() == ["as", "recorded", "gpt-4o-mini", "gpt-4o", "→", "claude-haiku-4-5"]
    assert lines[2].startswith("total ")
    assert "tests:" in lines
    dear = next(line for line in lines if line.strip().startswith("test_bot.py::test_dear"))
    assert "%)" in dear, "a changed cost shows its change"
    assert not any(line.startswith("note:") for line in lines), "every call with usage repriced"

    assert main(["report", str(report), "--what-if", "gpt-4o-mini", "--format", "markdown"]) == 0
    markdown = capsys.readouterr().out
    assert markdown.startswith("## LLM cost on other models\n")
    assert "| | as recorded | gpt-4o-mini |" in markdown
    assert "| `test_bot.py` |" in markdown
    assert "| `test_bot.py::test_dear` |" in markdown


def test_bad_what_if_is_a_usage_error(report: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(report), "--what-if", "=gpt-4o"]) == 2
    assert "--what-if '=gpt-4o': give a model" in capsys.readouterr().err


HTML_SUITE = """
import openai

def test_one():
    client = openai.OpenAI(base_url=URL + "/v1", api_key=KEY, max_retries=0)
    client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hello there"}])
"""


@pytest.mark.parametrize(
    ("ini", "shown", "hidden"),
    [
        ("", ["On other models", "claude-sonnet-4-5", "gemini-2.5-flash"], ["no price known"]),
        (
            "llm_what_if =\n    gpt-4o\n    gpt-4o-mini=gpt-4.1\n    no-such-model-anywhere",
            ["On other models", "gpt-4o-mini → gpt-4.1", "no price known"],
            ["claude-sonnet-4-5"],
        ),
        ("llm_what_if = none", [], ["On other models"]),
    ],
)
def test_the_html_page_has_the_suite_on_other_models(
    pytester: pytest.Pytester, standin: StandIn, ini: str, shown: list[str], hidden: list[str]
) -> None:
    pytester.makeini(f"[pytest]\n{ini}\n")
    write_test(pytester, "test_bot", HTML_SUITE)
    result = pytester.runpytest(
        "-p", "no:cacheprovider", "--llm-record=rewrite", "--llm-html=page.html"
    )
    assert result.ret == 0, result.stdout.str()
    page = (pytester.path / "page.html").read_text()
    for text in shown:
        assert text in page
    for text in hidden:
        assert text not in page


def test_a_bad_llm_what_if_stops_the_run(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nllm_what_if = gpt-4o=\n")
    pytester.makepyfile("def test_nothing():\n    pass\n")
    result = pytester.runpytest()
    assert result.ret == 4
    result.stderr.fnmatch_lines(["*llm_what_if: --what-if 'gpt-4o=': give a model*"])
