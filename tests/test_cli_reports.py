"""`llmbudget report` and `llmbudget merge`: saved reports printed and added up."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from helpers import FLAT_PRICE, write_test
from standin import StandIn

from pytest_llmbudget.cli import main
from pytest_llmbudget.report import jsonreport
from pytest_llmbudget.summary import to_json

SUITE = """
import openai

def ask(text):
    client = openai.OpenAI(base_url=URL + "/v1", api_key=KEY, max_retries=0)
    return client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": text}])

def test_alpha():
    ask("alpha")

def test_beta():
    ask("beta one")
    ask("beta two")
"""


@pytest.fixture
def reports(pytester: pytest.Pytester, standin: StandIn) -> dict[str, Path]:
    """A full run's report and the reports of two shards of the same suite."""
    pytester.makeconftest(FLAT_PRICE)
    write_test(pytester, "test_bot", SUITE)
    paths = {}
    for name, selection in [("full", []), ("alpha", ["-k", "alpha"]), ("beta", ["-k", "beta"])]:
        paths[name] = pytester.path / f"{name}.json"
        result = pytester.runpytest(
            "-p",
            "no:cacheprovider",
            "--llm-record=rewrite",
            f"--llm-report={paths[name]}",
            *selection,
        )
        assert result.ret == 0
    return paths


def _json(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(path.read_text())
    return loaded


def test_report_round_trips_and_renders(
    reports: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    full = _json(reports["full"])
    assert to_json(jsonreport.read(reports["full"])) == full, "reading loses nothing"

    assert main(["report", str(reports["full"]), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == full

    assert main(["report", str(reports["full"])]) == 0
    text = capsys.readouterr().out
    assert text.startswith(f"LLM budget: {reports['full']}\n")
    assert "calls: 3 (3 live, 0 replayed)" in text
    assert "spend: $0.60" in text

    assert main(["report", str(reports["full"]), "--format", "markdown"]) == 0
    markdown = capsys.readouterr().out
    assert markdown.startswith("## LLM budget\n")
    assert "| 3 | 3 | 0 |" in markdown


def test_merge_adds_up_shards_to_the_full_run(
    reports: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "merged.json"
    status = main(["merge", str(reports["alpha"]), str(reports["beta"]), "-o", str(out)])
    assert status == 0
    merged, full = _json(out), _json(reports["full"])
    jsonschema.validate(merged, jsonreport.schema())
    assert merged["totals"] == full["totals"]
    assert merged["models"] == full["models"]
    assert sorted(t["nodeid"] for t in merged["tests"]) == sorted(
        t["nodeid"] for t in full["tests"]
    )
    assert "2 reports merged" in capsys.readouterr().out
    assert main(["merge", str(reports["full"])]) == 0
    assert capsys.readouterr().out.startswith("LLM budget: 1 report merged\n")


def test_merge_fails_when_the_sum_is_over_budget(
    reports: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shards = [str(reports["alpha"]), str(reports["beta"])]
    assert main(["merge", *shards, "--budget", "0.60"]) == 0, "$0.60 is within $0.60"
    capsys.readouterr()
    out = tmp_path / "merged.json"
    assert main(["merge", *shards, "--budget", "0.50", "-o", str(out)]) == 1
    printed = capsys.readouterr().out
    assert "VIOLATION [budget]: live spend $0.60 of 2 reports exceeds --budget $0.50" in printed
    merged = _json(out)
    assert merged["limits"]["budget_usd"] == 0.5
    assert [v["kind"] for v in merged["violations"]] == ["budget"]
    assert main(["merge", *shards, "--max-cost", "0.1"]) == 1
    assert "exceeds --max-cost $0.10" in capsys.readouterr().out
    assert main(["merge", shards[0], "--max-cost", "0.01"]) == 1
    assert " of 1 report (replayed included) exceeds --max-cost $0.01" in capsys.readouterr().out
    assert main(["report", str(out)]) == 1, "a saved violation still fails"


def test_a_shards_violation_survives_the_merge(
    reports: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shard = _json(reports["alpha"])
    shard["violations"] = [
        {
            "kind": "test_budget",
            "nodeid": "test_bot.py::test_alpha",
            "limit": 0.1,
            "actual": 0.2,
            "message": "test_bot.py::test_alpha cost $0.20",
        }
    ]
    bad = tmp_path / "alpha.json"
    bad.write_text(json.dumps(shard))
    assert main(["merge", str(bad), str(reports["beta"])]) == 1
    assert "VIOLATION [test_budget]: test_bot.py::test_alpha cost $0.20" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such file"),
        ("{not json", "not JSON (Expecting property name"),
        ('{"hello": "world"}', "not a pytest-llmbudget report"),
        ("[1, 2]", "not a pytest-llmbudget report"),
        (
            '{"version": 2, "limits": {}, "totals": {}, "tests": [], "violations": []}',
            "report version 2",
        ),
        (
            '{"version": 1, "limits": {}, "totals": {}, "tests": [{"nodeid": "x"}], '
            '"violations": []}',
            "malformed",
        ),
    ],
    ids=["missing", "not-json", "other-json", "a-list", "future-version", "malformed"],
)
@pytest.mark.parametrize("command", ["report", "merge"])
def test_bad_input_exits_2_naming_the_file(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    command: str,
    content: str | None,
    message: str,
) -> None:
    path = tmp_path / "r.json"
    if content is not None:
        path.write_text(content)
    assert main([command, str(path)]) == 2
    error = capsys.readouterr().err
    assert error.startswith(f"llmbudget {command}: error: {path}: ")
    assert message in error


@pytest.mark.parametrize(
    "argv",
    [
        ["merge", "r.json", "--budget", "abc"],
        ["merge", "r.json", "--max-cost", "-1"],
        ["report", "r.json", "--format", "xml"],
        ["merge"],
        [],
    ],
)
def test_bad_arguments_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(argv)
    assert stopped.value.code == 2
    assert "usage: llmbudget" in capsys.readouterr().err


def test_console_script_and_module_run_as_users_run_them(reports: dict[str, Path]) -> None:
    script = Path(sys.executable).parent / "llmbudget"
    for command in ([str(script)], [sys.executable, "-m", "pytest_llmbudget"]):
        done = subprocess.run(
            [*command, "report", str(reports["full"]), "--format", "markdown"],
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith("## LLM budget")
        missing = subprocess.run(
            [*command, "merge", str(reports["full"]), "nowhere.json"],
            capture_output=True,
            text=True,
            check=False,
        )
        assert missing.returncode == 2
        assert "nowhere.json: no such file" in missing.stderr
        assert "Traceback" not in missing.stderr


def test_a_reader_that_stops_early_keeps_the_exit_status(
    reports: dict[str, Path], tmp_path: Path
) -> None:
    """`llmbudget report r.json | head -1` on a report with violations still exits 1."""
    document = _json(reports["full"])
    document["violations"] = [
        {
            "kind": "test_budget",
            "nodeid": "test_bot.py::test_beta",
            "limit": 0.1,
            "actual": 0.4,
            "message": f"test_bot.py::test_beta cost $0.40 (check {number})",
        }
        for number in range(3000)
    ]
    path = tmp_path / "r.json"
    path.write_text(json.dumps(document))
    script = Path(sys.executable).parent / "llmbudget"
    for command in ["report", "merge"]:
        shown = subprocess.Popen(
            [str(script), command, str(path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        assert shown.stdout is not None
        assert shown.stderr is not None
        first = shown.stdout.readline()
        shown.stdout.close()  # as head does: most of the output is still to come
        status = shown.wait(timeout=120)
        error = shown.stderr.read()
        shown.stderr.close()
        assert first.startswith(b"LLM budget: ")
        assert status == 1, command
        assert b"Traceback" not in error


UNKNOWN = {"provider": "acme", "model": "acme-1", "calls": 1, "tests": ["test_bot.py::test_alpha"]}
BROKEN_VIOLATION = {"kind": "budget", "nodeid": None, "limit": 0.1, "actual": 0.6}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"limits": None}, '"limits" is null, not an object'),
        ({"limits": {"budget_usd": "lots"}}, '"limits.budget_usd" is "lots", not null or a number'),
        ({"violations": None}, '"violations" is null, not a list'),
        ({"violations": [BROKEN_VIOLATION]}, 'violations[0] has no "message" string'),
        ({"unknown_models": [{"provider": "acme"}]}, 'unknown_models[0] has no "model" string'),
        ({"unknown_models": [dict(UNKNOWN, calls=None)]}, 'unknown_models[0] has no "calls" count'),
        (
            {"tests": [{"nodeid": "t.py::t", "records": None}]},
            'tests[0] (t.py::t) has no "records"',
        ),
    ],
    ids=[
        "limits-null",
        "limit-text",
        "violations-null",
        "no-message",
        "unknown-no-model",
        "unknown-no-calls",
        "records-null",
    ],
)
@pytest.mark.parametrize("command", ["report", "merge"])
def test_a_malformed_report_exits_2_saying_what_is_wrong(
    reports: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    command: str,
    change: dict[str, Any],
    message: str,
) -> None:
    path = tmp_path / "r.json"
    path.write_text(json.dumps({**_json(reports["full"]), "unknown_models": [UNKNOWN], **change}))
    assert main([command, str(path), str(reports["beta"])][: 2 if command == "report" else 3]) == 2
    captured = capsys.readouterr()
    [line] = captured.err.splitlines()
    assert line.startswith(f"llmbudget {command}: error: {path}: malformed report: {message}")
    assert captured.out == ""


def test_a_well_formed_unknown_model_is_still_shown(
    reports: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "r.json"
    path.write_text(json.dumps({**_json(reports["full"]), "unknown_models": [UNKNOWN]}))
    assert main(["report", str(path)]) == 0
    assert "unknown model: acme acme-1 (1 call, priced $0)" in capsys.readouterr().out
    assert main(["merge", str(path), str(path)]) == 0
    assert "unknown model: acme acme-1 (2 calls, priced $0)" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("output", "message"),
    [("", "-o: the output path is empty"), ("DIR", "-o DIR: is a directory; give a file path")],
    ids=["empty", "directory"],
)
def test_merge_output_that_cannot_be_a_file_exits_2(
    reports: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    output: str,
    message: str,
) -> None:
    target = str(tmp_path) if output == "DIR" else output
    assert main(["merge", str(reports["alpha"]), str(reports["beta"]), "-o", target]) == 2
    captured = capsys.readouterr()
    assert captured.err == f"llmbudget merge: error: {message.replace('DIR', target)}\n"
    assert captured.out == ""
    assert sorted(tmp_path.iterdir()) == [], "nothing written"


def test_merge_output_in_a_folder_that_cannot_be_made_exits_2(
    reports: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert main(["merge", str(reports["full"]), "-o", str(blocker / "merged.json")]) == 2
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith(f"llmbudget merge: error: -o {blocker / 'merged.json'}: cannot write: ")


def test_a_shards_own_budget_is_not_applied_to_the_sum(
    pytester: pytest.Pytester,
    reports: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Each shard ran with --llm-budget=0.50 and kept to it; their $0.60 together broke nothing."""
    shards = []
    for name in ["alpha", "beta"]:
        shard = pytester.path / f"budget-{name}.json"
        result = pytester.runpytest(
            "-p",
            "no:cacheprovider",
            "--llm-record=rewrite",
            "--llm-budget=0.50",
            "--llm-test-budget=1",
            f"--llm-report={shard}",
            "-k",
            name,
        )
        assert result.ret == 0
        assert _json(shard)["limits"]["budget_usd"] == 0.5
        shards.append(str(shard))
    capsys.readouterr()
    out = tmp_path / "merged.json"
    assert main(["merge", *shards, "-o", str(out)]) == 0
    captured = capsys.readouterr()
    assert "spend: $0.60" in captured.out
    assert "budget used" not in captured.out
    assert captured.err == (
        "llmbudget merge: note: the shards' own --llm-budget limited each shard alone and are "
        "not applied to the sum; check the sum with --budget or --max-cost\n"
    )
    merged = _json(out)
    assert merged["limits"]["budget_usd"] is None
    assert merged["limits"]["test_budget_usd"] == 1.0, "a per-test limit holds in any shard"
    assert merged["violations"] == []

    assert main(["merge", *shards, "--budget", "0.50"]) == 1
    printed = capsys.readouterr().out
    assert "budget used: 120% of $0.50" in printed
    assert "VIOLATION [budget]: live spend $0.60 of 2 reports exceeds --budget $0.50" in printed
