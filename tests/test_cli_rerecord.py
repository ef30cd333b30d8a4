"""`llmbudget rerecord`, run the way users run it, against the stand-in provider."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import load_cassette
from standin import StandIn

from pytest_llmbudget.cli.rerecord import split_words

LLMBUDGET = Path(sys.executable).parent / "llmbudget"

# Every call costs $0.25, through the project's own price hook: the command
# must price cassettes the way the plugin does.
FLAT_PRICE = "def pytest_llmbudget_price(record):\n    return 0.25\n"

SUITE = """
import os

import pytest
import requests

URL = os.environ["STANDIN_URL"]
VARIANT = os.environ.get("VARIANT", "1")


def ask(text):
    answer = requests.post(
        URL + "/v1/chat/completions",
        json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": text}]},
        timeout=10,
    )
    answer.raise_for_status()
    return answer.json()


def test_summarize():
    ask("summarize, version " + VARIANT)


@pytest.mark.llm_cassette("translations/french")
def test_translate():
    ask("translate, version " + VARIANT)
"""

SUMMARIZE = Path("cassettes/test_bot/test_summarize.yaml")
TRANSLATE = Path("cassettes/test_bot/translations/french.yaml")


@pytest.fixture
def project(pytester: pytest.Pytester, standin: StandIn) -> Path:
    """A project whose two tests were recorded once (VARIANT 1)."""
    pytester.makeini("[pytest]\n")
    pytester.makeconftest(FLAT_PRICE)
    pytester.makepyfile(test_bot=SUITE)
    pytester.runpytest("-p", "no:cacheprovider", "--llm-record=rewrite").assert_outcomes(passed=2)
    standin.reset()
    return pytester.path


def llmbudget(
    *args: str, cwd: Path, variant: str = "2", stdin: int | None = subprocess.DEVNULL
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LLMBUDGET), *args],
        cwd=cwd,
        env={**os.environ, "VARIANT": variant, "PYTHONUTF8": "1"},
        stdin=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def snapshot(root: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(root)): path.read_bytes()
        for path in sorted((root / "cassettes").rglob("*.yaml"))
    }


def prompts(path: Path) -> list[str]:
    return [str(i["request"]["body"]) for i in load_cassette(path)["interactions"]]


def test_rerecords_only_the_selected_test(project: Path, standin: StandIn) -> None:
    before = snapshot(project)
    result = llmbudget(
        "rerecord", "test_bot.py", "-k", "summarize", "--budget", "1.00", "--yes", cwd=project
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "1 test selected, 1 cassette, as last recorded:" in out
    assert "cassettes/test_bot/test_summarize.yaml  1 call  $0.25" in out
    assert "Last recorded cost: $0.25 for 1 call." in out
    assert "Running: pytest --llm-record=rewrite --llm-budget=1 test_bot.py -k summarize" in out
    assert "cassettes/test_bot/test_summarize.yaml: 1 added, 1 removed; cost $0.25 → $0.25" in out
    assert "Spent $0.25 live in 1 call (budget $1.00)." in out
    assert standin.hits == 1
    after = snapshot(project)
    assert after[str(TRANSLATE)] == before[str(TRANSLATE)], "the other test's cassette is untouched"
    assert after[str(SUMMARIZE)] != before[str(SUMMARIZE)]
    assert "version 2" in prompts(project / SUMMARIZE)[0]


def test_the_marker_names_the_cassette_and_the_whole_suite_is_the_default(
    project: Path, standin: StandIn
) -> None:
    result = llmbudget("rerecord", "--yes", cwd=project)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 tests selected, 2 cassettes" in result.stdout
    assert "Changed 2 cassettes:" in result.stdout
    assert f"{TRANSLATE.as_posix()}: 1 added, 1 removed; cost $0.25 → $0.25" in result.stdout
    assert "version 2" in prompts(project / TRANSLATE)[0]
    assert standin.hits == 2


def test_rerecording_the_same_calls_changes_nothing(project: Path, standin: StandIn) -> None:
    """Same requests, same answers: only the recording times differ, and that is no change."""
    before = snapshot(project)
    result = llmbudget("rerecord", "--yes", cwd=project, variant="1")
    assert result.returncode == 0, result.stdout + result.stderr
    assert standin.hits == 2, "both were re-recorded live"
    assert "Changed" not in result.stdout
    assert (
        "Unchanged, the same requests and answers (only the recording times are new): "
        f"{SUMMARIZE.as_posix()}, {TRANSLATE.as_posix()}"
    ) in result.stdout.splitlines()
    after = snapshot(project)
    assert after != before, "the files were written again, with new recording times"
    assert "version 1" in prompts(project / SUMMARIZE)[0]


def test_without_a_terminal_it_asks_for_yes(project: Path, standin: StandIn) -> None:
    before = snapshot(project)
    result = llmbudget("rerecord", "-k", "summarize", cwd=project)
    assert result.returncode == 2
    assert "standard input is not a terminal" in result.stderr
    assert "pass --yes" in result.stderr
    assert standin.hits == 0
    assert snapshot(project) == before


@pytest.mark.parametrize(("answer", "hits"), [("n", 0), ("y", 1)])
def test_asks_on_a_terminal(project: Path, standin: StandIn, answer: str, hits: int) -> None:
    before = snapshot(project)
    controller, terminal = pty.openpty()
    try:
        os.write(controller, f"{answer}\n".encode())
        result = llmbudget("rerecord", "-k", "summarize", cwd=project, stdin=terminal)
    finally:
        os.close(terminal)
        os.close(controller)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Re-record 1 cassette? [y/N]" in result.stdout
    assert standin.hits == hits
    if answer == "n":
        assert "Nothing re-recorded." in result.stdout
        assert snapshot(project) == before
    else:
        assert "version 2" in prompts(project / SUMMARIZE)[0]


def test_a_budget_too_small_stops_and_keeps_the_old_recordings(
    project: Path, standin: StandIn
) -> None:
    before = snapshot(project)
    result = llmbudget("rerecord", "--budget", "0.10", "--yes", "test_bot.py", cwd=project)
    assert result.returncode == 1, result.stdout + result.stderr
    out = result.stdout
    assert "1 failed, 1 passed" in out
    assert "Stopped: live spend $0.25 has reached --llm-budget $0.10" in out
    assert (
        f"Put back as they were, since the run stopped before their tests passed: {TRANSLATE.as_posix()}"
        in out
    )
    assert "Spent $0.25 live in 1 call (budget $0.10)." in out
    assert standin.hits == 1, "the second call was refused before it was sent"
    after = snapshot(project)
    assert after[str(TRANSLATE)] == before[str(TRANSLATE)]
    assert "version 2" in prompts(project / SUMMARIZE)[0], (
        "the test that passed keeps its new recording"
    )


def test_a_failing_test_exits_1(project: Path, standin: StandIn) -> None:
    (project / "test_bot.py").write_text(
        SUITE + "\n\ndef test_fails():\n    ask('fails')\n    assert False\n"
    )
    result = llmbudget("rerecord", "--yes", "-k", "fails", cwd=project)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "cassettes/test_bot/test_fails.yaml: new, 1 added; cost - → $0.25" in result.stdout
    assert (project / "cassettes/test_bot/test_fails.yaml").exists(), (
        "a failing test keeps its recording"
    )


def test_a_cassette_shared_with_a_test_left_out_is_refused(
    pytester: pytest.Pytester, standin: StandIn
) -> None:
    pytester.makeini("[pytest]\n")
    pytester.makepyfile(
        test_shared="""
import pytest

@pytest.mark.llm_cassette("shared")
def test_one():
    pass

@pytest.mark.llm_cassette("shared")
def test_two():
    pass
"""
    )
    result = llmbudget("rerecord", "--yes", "-k", "one", cwd=pytester.path)
    assert result.returncode == 2
    assert "share a cassette with the selection but are not selected" in result.stderr
    assert "test_shared.py::test_two (uses cassettes/test_shared/shared.yaml)" in result.stderr
    assert standin.hits == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--yes", "--llm-record=new"], "--llm-record is set by llmbudget rerecord itself"),
        (["--yes", "--budget", "lots"], "is not an amount in USD"),
        (["--yes", "-k", "no_such_test"], "pytest selected no test from: -k no_such_test"),
        (["--yes", "--no-such-pytest-option"], "pytest could not collect the tests"),
    ],
)
def test_usage_errors_exit_2(
    project: Path, standin: StandIn, args: list[str], message: str
) -> None:
    result = llmbudget("rerecord", *args, cwd=project)
    assert result.returncode == 2
    assert message in result.stderr
    assert standin.hits == 0


def test_own_options_are_split_from_pytest_options() -> None:
    own, rest = split_words(["tests", "-k", "x", "--budget", "1", "--yes", "-n", "2", "--budget=2"])
    assert own == ["--budget", "1", "--yes", "--budget=2"]
    assert rest == ["tests", "-k", "x", "-n", "2"]
    assert split_words(["--yes", "--", "--yes", "-h"]) == (["--yes"], ["--yes", "-h"])


@pytest.mark.parametrize(
    "command", ["rerecord", "report", "merge", "prune", "scan", "prices", "history"]
)
def test_every_command_has_help(command: str, tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pytest_llmbudget", command, "--help"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"usage: llmbudget {command}")
