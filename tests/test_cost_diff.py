"""`llmbudget diff`: two reports of real runs compared, per test and in total, and the gate."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from helpers import write_test
from standin import StandIn

from pytest_llmbudget.cli import main

ASK = """
import openai

def ask(text, model="gpt-4o-mini"):
    client = openai.OpenAI(base_url=URL + "/v1", api_key=KEY, max_retries=0)
    return client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": text}])
"""

BASE = (
    ASK
    + """
def test_same():
    ask("the same question every time")

def test_grows():
    ask("a short prompt")

def test_gone():
    ask("a test the change deletes")
"""
)

# test_grows now sends a longer prompt, three times, to a dearer model.
HEAD = (
    ASK
    + """
def test_same():
    ask("the same question every time")

def test_grows():
    for n in range(3):
        ask("a much longer prompt that says a great deal more than before " * 20, "gpt-4o")

def test_new():
    ask("a test the change adds")
"""
)


def _run(pytester: pytest.Pytester, source: str, report: Path, *args: str) -> dict[str, Any]:
    write_test(pytester, "test_bot", source)
    result = pytester.runpytest(
        "-p", "no:cacheprovider", "--llm-record=rewrite", f"--llm-report={report}", *args
    )
    assert result.ret == 0, result.stdout.str()
    loaded: dict[str, Any] = json.loads(report.read_text())
    return loaded


def _base_and_head(
    pytester: pytest.Pytester, base_source: str, *base_args: str
) -> tuple[Path, Path]:
    """The reports of a base run of ``base_source`` (with ``base_args``) and a head run of HEAD:
    every diff test compares some base with the same head."""
    base, head = pytester.path / "base.json", pytester.path / "head.json"
    _run(pytester, base_source, base, *base_args)
    _run(pytester, HEAD, head)
    return base, head


@pytest.fixture
def reports(pytester: pytest.Pytester, standin: StandIn) -> tuple[Path, Path]:
    """The reports of a base and a head run of the same suite, priced by genai-prices."""
    return _base_and_head(pytester, BASE)


def _diff(
    capsys: pytest.CaptureFixture[str], base: Path, head: Path, *options: str, status: int = 0
) -> str:
    """What `llmbudget diff` prints for the two reports, once its exit status is checked."""
    assert main(["diff", str(base), str(head), *options]) == status
    return capsys.readouterr().out


def _cost(report: Path, nodeid: str | None = None) -> Decimal:
    document = json.loads(report.read_text())
    if nodeid is None:
        return Decimal(str(document["totals"]["cost_usd"]))
    [test] = [t for t in document["tests"] if t["nodeid"] == nodeid]
    return sum((Decimal(str(r["cost_usd"])) for r in test["records"]), Decimal(0))


def test_diff_json_has_every_test_and_the_totals(
    reports: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    base, head = reports
    assert main(["diff", str(base), str(head), "--format", "json"]) == 0
    diff = json.loads(capsys.readouterr().out)
    base_cost, head_cost = _cost(base), _cost(head)
    assert head_cost > base_cost > 0
    assert diff["base"]["calls"] == 3
    assert diff["head"]["calls"] == 5
    assert Decimal(str(diff["cost_change_usd"])) == pytest.approx(head_cost - base_cost)
    assert diff["cost_change_pct"] == pytest.approx(
        float((head_cost - base_cost) / base_cost * 100), abs=0.01
    )
    assert diff["tests"] == {"new": 1, "removed": 1, "changed": 1, "unchanged": 1}
    statuses = [(c["nodeid"].split("::")[1], c["status"]) for c in diff["changes"]]
    assert statuses[0] == ("test_grows", "changed"), "the biggest change in cost comes first"
    assert sorted(statuses[1:]) == [("test_gone", "removed"), ("test_new", "new")]
    grows = diff["changes"][0]
    assert grows["base"]["models"] == ["gpt-4o-mini"]
    assert grows["head"]["models"] == ["gpt-4o"]
    assert (grows["base"]["calls"], grows["head"]["calls"]) == (1, 3)
    assert grows["tokens_change"] > 0
    gone = next(c for c in diff["changes"] if c["status"] == "removed")
    assert gone["head"] is None
    assert gone["calls_change"] == -1


def test_diff_text_and_markdown_say_where_the_cost_went(
    reports: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    base, head = reports
    assert main(["diff", str(base), str(head)]) == 0
    text = capsys.readouterr().out
    lines = text.splitlines()
    assert lines[0] == f"LLM cost diff: {base} → {head}"
    assert lines[1].startswith("LLM cost up: ")
    assert "calls" in lines[3]
    assert "3 → 5" in lines[3]
    assert "+2" in lines[3]
    assert "tests with LLM calls: 1 new, 1 removed, 1 changed, 1 unchanged" in text
    grows = next(line for line in lines if "::test_grows" in line)
    assert "1 → 3" in grows
    assert "gpt-4o-mini → gpt-4o" in grows
    assert lines.index(grows) < next(i for i, line in enumerate(lines) if "::test_new" in line)
    assert "test_same" not in text, "unchanged tests are counted, not listed"

    assert main(["diff", str(base), str(head), "--format", "markdown"]) == 0
    markdown = capsys.readouterr().out
    assert markdown.startswith("### LLM cost up: ")
    assert "| calls | 3 | 5 | +2 |" in markdown
    assert "| `test_bot.py::test_grows`<br>models: gpt-4o-mini → gpt-4o | changed |" in markdown
    assert "| `test_bot.py::test_new` | new |" in markdown
    assert "[!CAUTION]" not in markdown


@pytest.mark.parametrize(
    ("limits", "status"),
    [
        ([], 0),
        (["--max-increase", "1000"], 0),
        (["--max-increase", "0"], 1),
        (["--max-increase-pct", "1000000"], 0),
        (["--max-increase-pct", "5%"], 1),
        (["--max-increase", "1000", "--max-increase-pct", "5"], 1),
    ],
)
def test_diff_fails_past_the_increase_limits(
    reports: tuple[Path, Path],
    capsys: pytest.CaptureFixture[str],
    limits: list[str],
    status: int,
) -> None:
    base, head = reports
    assert main(["diff", str(base), str(head), *limits]) == status
    text = capsys.readouterr().out
    assert ("over the limit: the cost rose by" in text) == bool(status)
    assert main(["diff", str(base), str(head), "--format", "markdown", *limits]) == status
    assert ("> Over the limit: the cost rose by" in capsys.readouterr().out) == bool(status)
    # the other way round the cost fell: no limit is passed
    assert main(["diff", str(head), str(base), *limits]) == 0
    assert "LLM cost down: " in capsys.readouterr().out


def test_diff_of_a_report_with_itself_is_unchanged(
    reports: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    _base, head = reports
    text = _diff(capsys, head, head, "--max-increase", "0")
    assert "LLM cost unchanged at $" in text
    assert "tests with LLM calls: 3 unchanged" in text


def test_diff_from_nothing_breaks_any_percentage(
    pytester: pytest.Pytester, standin: StandIn, capsys: pytest.CaptureFixture[str]
) -> None:
    empty, head = _base_and_head(pytester, "def test_nothing():\n    pass\n")
    text = _diff(capsys, empty, head, "--max-increase-pct", "500", status=1)
    assert "over the limit: the cost rose from $0.00 to" in text
    assert "3 new" in text


def test_diff_notes_a_partial_run(
    pytester: pytest.Pytester, standin: StandIn, capsys: pytest.CaptureFixture[str]
) -> None:
    text = _diff(capsys, *_base_and_head(pytester, BASE, "-k", "same"))
    assert "note: BASE is the report of a partial run: " in text
    assert "-k" in text


def test_diff_usage_errors_name_the_problem(
    reports: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base, head = reports
    assert main(["diff", str(base), str(tmp_path / "missing.json")]) == 2
    assert f"{tmp_path / 'missing.json'}: no such file" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main(["diff", str(base), str(head), "--max-increase-pct", "ten"])
    assert exit_info.value.code == 2
    assert "'ten' is not a percentage" in capsys.readouterr().err
