"""`llmbudget prune`, run the way users run it, on reports of real runs against the stand-in."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from helpers import load_cassette
from standin import StandIn

from pytest_llmbudget.report import jsonreport

LLMBUDGET = Path(sys.executable).parent / "llmbudget"

PROLOGUE = """
import os

import pytest
import requests

URL = os.environ["STANDIN_URL"]
BOTH = os.environ.get("BOTH")


def ask(text):
    answer = requests.post(
        URL + "/v1/chat/completions",
        json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": text}]},
        timeout=10,
    )
    answer.raise_for_status()
"""

# Recorded with BOTH=1; the report run is without it.
TESTS = """
def test_summarize():
    ask("summarize")
    if BOTH:
        ask("summarize more")


@pytest.mark.skipif(not BOTH, reason="only with BOTH")
def test_sometimes():
    ask("sometimes")
    if BOTH:
        ask("sometimes more")


def test_flaky():
    ask("flaky")
    if BOTH:
        ask("flaky more")
    assert BOTH, "fails without BOTH"


def test_quiet():
    pass
"""

OLD_TEST = """

def test_old():
    ask("old")
"""

CASSETTES = Path("cassettes/test_bot")


@pytest.fixture
def project(pytester: pytest.Pytester, standin: StandIn, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A suite recorded with BOTH=1, then test_old deleted and BOTH unset.

    Also a module skipped at collection and one the conftest ignores, each
    with a cassette: their tests still exist, so their cassettes must stay.
    """
    pytester.makeini("[pytest]\n")
    pytester.makeconftest('collect_ignore = ["test_ignored.py"]\n')
    pytester.makepyfile(test_bot=PROLOGUE + TESTS + OLD_TEST)
    monkeypatch.setenv("BOTH", "1")
    record = pytester.runpytest("-p", "no:cacheprovider", "--llm-record=rewrite")
    record.assert_outcomes(passed=5)
    monkeypatch.delenv("BOTH")
    pytester.makepyfile(test_bot=PROLOGUE + TESTS)
    pytester.makepyfile(
        test_optional='import pytest\npytest.importorskip("no_such_module")\n\ndef test_x():\n    pass\n',
        test_ignored="def test_y():\n    pass\n",
    )
    for module, name in [("test_optional", "test_x"), ("test_ignored", "test_y")]:
        folder = pytester.path / "cassettes" / module
        folder.mkdir(parents=True)
        (folder / f"{name}.yaml").write_bytes(
            (pytester.path / CASSETTES / "test_old.yaml").read_bytes()
        )
    an_hour_ago = time.time() - 3600
    for path in (pytester.path / "cassettes").rglob("*.yaml"):
        os.utime(path, (an_hour_ago, an_hour_ago))  # recorded well before the report's run
    standin.reset()
    return pytester.path


def full_run(pytester: pytest.Pytester, *args: str, subprocess_run: bool = False) -> Path:
    report = pytester.path / "report.json"
    options = ["-p", "no:cacheprovider", "--llm-record=none", f"--llm-report={report}", *args]
    if subprocess_run:
        pytester.runpytest_subprocess(*options)
    else:
        pytester.runpytest(*options)
    return report


def llmbudget(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LLMBUDGET), *map(str, args)],
        cwd=cwd,
        env={**os.environ, "PYTHONUTF8": "1"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def snapshot(root: Path) -> dict[str, bytes]:
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in sorted((root / "cassettes").rglob("*.yaml"))
    }


def interactions(path: Path) -> list[dict[str, Any]]:
    loaded: list[dict[str, Any]] = load_cassette(path)["interactions"]
    return loaded


EXPECTED_PLAN = [
    "Would delete 1 cassette that no collected test uses:",
    "  cassettes/test_bot/test_old.yaml",
    "Would remove 1 interaction that the run did not play, from 1 cassette:",
    "  cassettes/test_bot/test_summarize.yaml: #2 (1 of 2 kept)",
    "Left alone (3 cassettes):",
    "  cassettes/test_ignored/test_y.yaml: its module was skipped or ignored at collection",
    "  cassettes/test_optional/test_x.yaml: its module was skipped or ignored at collection",
    "  cassettes/test_bot/test_flaky.yaml: a test using it did not pass "
    "(test_bot.py::test_flaky: failed)",
]


def test_dry_run_lists_then_prune_removes_what_the_run_did_not_play(
    pytester: pytest.Pytester, project: Path, standin: StandIn
) -> None:
    report = full_run(pytester)
    jsonschema.validate(json.loads(report.read_text()), jsonreport.schema())
    before = snapshot(project)

    dry = llmbudget("prune", "--dry-run", "--report", report, cwd=project)
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert "From " + str(report) + ": a full run of 4 tests" in dry.stdout
    lines = dry.stdout.splitlines()
    assert lines[1 : 1 + len(EXPECTED_PLAN)] == EXPECTED_PLAN
    assert lines[-1] == "Dry run: nothing was changed."
    assert snapshot(project) == before

    real = llmbudget("prune", "--report", report, cwd=project)
    assert real.returncode == 0, real.stdout + real.stderr
    assert "Deleted 1 cassette that no collected test uses:" in real.stdout
    assert "Removed 1 interaction that the run did not play, from 1 cassette:" in real.stdout
    after = snapshot(project)
    assert set(before) - set(after) == {f"{CASSETTES}/test_old.yaml"}
    for name in ["test_flaky", "test_sometimes"]:
        key = f"{CASSETTES}/{name}.yaml"
        assert after[key] == before[key], f"{name}: its test failed or was skipped"
    for key in ["cassettes/test_optional/test_x.yaml", "cassettes/test_ignored/test_y.yaml"]:
        assert after[key] == before[key]
    [kept] = interactions(project / CASSETTES / "test_summarize.yaml")
    assert "summarize more" not in kept["request"]["body"]
    assert "summarize" in kept["request"]["body"]

    # The suite replays the trimmed cassette with no live call, and vcrpy still reads it.
    replay = pytester.runpytest("-p", "no:cacheprovider", "--llm-record=none", "-k", "summarize")
    replay.assert_outcomes(passed=1, skipped=1, deselected=3)
    assert standin.hits == 0
    from vcr.serialize import deserialize
    from vcr.serializers import yamlserializer

    requests_, responses = deserialize(
        (project / CASSETTES / "test_summarize.yaml").read_text(), yamlserializer
    )
    assert len(requests_) == len(responses) == 1

    # The same report again: the trimmed cassette is no longer what the run saw.
    again = llmbudget("prune", "--report", report, cwd=project)
    assert again.returncode == 0
    assert "cassettes/test_bot/test_summarize.yaml: it changed since the run (or is gone)" in (
        again.stdout
    )
    assert snapshot(project) == after


@pytest.mark.parametrize(
    ("selection", "reason"),
    [
        (["-k", "summarize"], "3 tests deselected (-k, -m, --deselect, --lf or a plugin)"),
        (["test_bot.py::test_summarize"], "tests chosen by node id: test_bot.py::test_summarize"),
        (["-x"], "the run stopped early: stopping after 1 failures"),
        (["test_bot.py", "-x"], "the run stopped early: stopping after 1 failures"),
    ],
    ids=["k", "nodeid", "exitfirst", "path-and-exitfirst"],
)
def test_a_partial_run_is_refused(
    pytester: pytest.Pytester, project: Path, selection: list[str], reason: str
) -> None:
    report = full_run(pytester, *selection)
    before = snapshot(project)
    result = llmbudget("prune", "--report", report, cwd=project)
    assert result.returncode == 2
    assert "is the report of a partial run" in result.stderr
    assert f"  - {reason}" in result.stderr
    assert snapshot(project) == before


def test_a_run_of_one_module_prunes_only_that_modules_cassettes(
    pytester: pytest.Pytester, project: Path
) -> None:
    """`pytest test_bot.py` ran every test of test_bot: a full run for its cassettes alone.

    The cassettes of test_optional and test_ignored are the plugin's and used
    by no test of the run: a full run would keep them only because their
    modules were skipped or ignored; this one keeps them because it did not
    run their modules at all.
    """
    report = full_run(pytester, "test_bot.py")
    document = json.loads(report.read_text())
    jsonschema.validate(document, jsonreport.schema())
    run = document["run"]
    assert run["partial"] is True
    assert run["reasons"] == ["ran only test_bot.py, not all of the rootdir"]
    assert run["complete_in"] == ["test_bot.py"]
    before = snapshot(project)

    result = llmbudget("prune", "--report", report, cwd=project)
    assert result.returncode == 0, result.stdout + result.stderr
    elsewhere = "its tests are not in test_bot.py, which the run ran"
    assert result.stdout.splitlines() == [
        f"From {report}: a run of 4 tests, whole in test_bot.py but not the whole suite, "
        f"started {run['started_at']}: only the cassettes of the tests there are pruned.",
        "Deleted 1 cassette that no collected test uses:",
        "  cassettes/test_bot/test_old.yaml",
        "Removed 1 interaction that the run did not play, from 1 cassette:",
        "  cassettes/test_bot/test_summarize.yaml: #2 (1 of 2 kept)",
        "Left alone (3 cassettes):",
        f"  cassettes/test_ignored/test_y.yaml: {elsewhere}",
        f"  cassettes/test_optional/test_x.yaml: {elsewhere}",
        "  cassettes/test_bot/test_flaky.yaml: a test using it did not pass "
        "(test_bot.py::test_flaky: failed)",
    ]
    after = snapshot(project)
    assert set(before) - set(after) == {f"{CASSETTES}/test_old.yaml"}
    for key in ["cassettes/test_optional/test_x.yaml", "cassettes/test_ignored/test_y.yaml"]:
        assert after[key] == before[key]


KEPT = PROLOGUE + "\ndef test_kept():\n    ask('kept')\n"


def _recorded_then_renamed(pytester: pytest.Pytester, modules: list[str]) -> list[Path]:
    """Modules recorded with test_old, which is then deleted: its cassettes, aged, to prune."""
    pytester.makepyfile(**{module: KEPT + OLD_TEST for module in modules})
    recorded = pytester.runpytest("-p", "no:cacheprovider", "--llm-record=rewrite")
    recorded.assert_outcomes(passed=2 * len(modules))
    pytester.makepyfile(**{module: KEPT for module in modules})
    old = list(pytester.path.rglob("test_old.yaml"))
    assert len(old) == len(modules)
    _age(*pytester.path.rglob("*.yaml"))
    return sorted(old)


def test_a_run_of_a_folder_prunes_the_cassettes_under_it(
    pytester: pytest.Pytester, standin: StandIn
) -> None:
    """No testpaths: `pytest tests`, then `llmbudget prune tests`. Whole for tests/ (its
    subfolders included), it is a full run for every cassette there; scripts/ is not looked at."""
    pytester.makeini("[pytest]\n")
    scripts, top, nested = _recorded_then_renamed(
        pytester, ["tests/test_bot", "tests/unit/test_unit", "scripts/test_smoke"]
    )
    assert scripts.is_relative_to(pytester.path / "scripts")
    report = full_run(pytester, "tests")
    run = json.loads(report.read_text())["run"]
    assert run["reasons"] == ["ran only tests, not all of the rootdir"]
    assert run["complete_in"] == ["tests"]

    result = llmbudget("prune", "--report", report, "tests", cwd=pytester.path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "whole in tests but not the whole suite" in result.stdout
    assert "Deleted 2 cassettes that no collected test uses:" in result.stdout
    assert "scripts" not in result.stdout
    assert not top.exists()
    assert not nested.exists()
    assert scripts.exists()


def test_the_configured_testpaths_given_as_paths_are_a_full_run(
    pytester: pytest.Pytester, standin: StandIn
) -> None:
    pytester.makeini("[pytest]\ntestpaths = tests\n")
    (old,) = _recorded_then_renamed(pytester, ["tests/test_bot"])
    report = full_run(pytester, "tests")
    run = json.loads(report.read_text())["run"]
    assert run["partial"] is False, run["reasons"]
    assert run["complete_in"] is None
    result = llmbudget("prune", "--report", report, cwd=pytester.path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"From {report}: a full run of 1 test, started" in result.stdout
    assert not old.exists()


VCR_ELSEWHERE = """
import pytest


@pytest.fixture
def vcr_cassette_dir(request):
    return str(request.config.rootpath / "shared")
"""


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (
            "cassette_dir",
            "is the report of a run of tests only, and with --llm-cassette-dir every test "
            "keeps its cassettes in one folder",
        ),
        (
            "vcr_cassette_dir",
            "is the report of a run of tests only, and tests/test_bot.py::test_kept keeps its "
            "cassette shared/test_kept.yaml outside tests/cassettes/test_bot/",
        ),
    ],
)
def test_a_run_of_some_paths_cannot_speak_for_a_shared_cassette_folder(
    pytester: pytest.Pytester, standin: StandIn, setup: str, message: str
) -> None:
    """Where tests elsewhere may keep cassettes in the same folder, only a full run can tell."""
    if setup == "cassette_dir":
        pytester.makeini("[pytest]\naddopts = --llm-cassette-dir=recordings\n")
    else:
        pytester.makeini("[pytest]\naddopts = -p no:recording\n")
        pytester.makeconftest(VCR_ELSEWHERE)
        pytester.makepyfile(**{"tests/test_bot": "import pytest\n" + KEPT})
        marked = (pytester.path / "tests" / "test_bot.py").read_text()
        (pytester.path / "tests" / "test_bot.py").write_text(
            marked.replace("def test_kept", "@pytest.mark.vcr\ndef test_kept")
        )
    modules = ["tests/test_bot", "scripts/test_smoke"] if setup == "cassette_dir" else []
    if modules:
        _recorded_then_renamed(pytester, modules)
    else:
        pytester.runpytest("-p", "no:cacheprovider", "--llm-record=rewrite").assert_outcomes(
            passed=1
        )
    before = sorted(pytester.path.rglob("*.yaml"))
    assert before
    report = full_run(pytester, "tests")
    assert json.loads(report.read_text())["run"]["complete_in"] == ["tests"]
    result = llmbudget("prune", "--report", report, cwd=pytester.path)
    assert result.returncode == 2, result.stdout
    assert f"llmbudget prune: error: {report} {message}" in result.stderr
    assert "run the whole suite with --llm-report" in result.stderr
    assert sorted(pytester.path.rglob("*.yaml")) == before


def test_an_xdist_run_prunes_the_same(pytester: pytest.Pytester, project: Path) -> None:
    report = full_run(pytester, "-n", "2", subprocess_run=True)
    document = json.loads(report.read_text())
    jsonschema.validate(document, jsonreport.schema())
    run = document["run"]
    assert run["xdist"] is True
    assert run["partial"] is False, run["reasons"]
    result = llmbudget("prune", "--dry-run", "--report", report, cwd=project)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[1 : 1 + len(EXPECTED_PLAN)] == EXPECTED_PLAN


def test_without_a_report_it_runs_the_suite_replay_only(
    pytester: pytest.Pytester, project: Path, standin: StandIn
) -> None:
    before = snapshot(project)
    result = llmbudget("prune", "--dry-run", "cassettes/test_bot", cwd=project)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No --report given: running the whole suite replay-only" in result.stdout
    assert "1 failed, 2 passed, 2 skipped" in result.stdout
    assert "  cassettes/test_bot/test_old.yaml" in result.stdout
    assert "test_optional" not in result.stdout, "DIR limits what is pruned"
    assert standin.hits == 0
    assert snapshot(project) == before


def test_a_cassette_newer_than_the_run_stays(pytester: pytest.Pytester, project: Path) -> None:
    report = full_run(pytester)
    (project / CASSETTES / "test_new.yaml").write_bytes(
        (project / CASSETTES / "test_old.yaml").read_bytes()
    )
    result = llmbudget("prune", "--report", report, cwd=project)
    assert result.returncode == 0, result.stderr
    assert "  cassettes/test_bot/test_new.yaml: it changed after the run started" in result.stdout
    assert (project / CASSETTES / "test_new.yaml").exists()
    assert not (project / CASSETTES / "test_old.yaml").exists()


def test_reports_that_cannot_tell_are_refused(pytester: pytest.Pytester, project: Path) -> None:
    report = full_run(pytester)
    merged = project / "merged.json"
    assert llmbudget("merge", report, "-o", merged, cwd=project).returncode == 0
    result = llmbudget("prune", "--report", merged, cwd=project)
    assert result.returncode == 2
    assert "does not say which cassettes the run used" in result.stderr
    missing = llmbudget("prune", "--report", "nope.json", cwd=project)
    assert missing.returncode == 2
    assert "nope.json: no such file" in missing.stderr
    outside = llmbudget("prune", "--report", report, "/", cwd=project)
    assert outside.returncode == 2
    assert "is outside the rootdir" in outside.stderr


@pytest.mark.parametrize(
    ("conftest", "body", "reason"),
    [
        (
            "def pytest_collection_modifyitems(items):\n    del items[0]\n",
            "def test_a():\n    pass\n\ndef test_b():\n    pass\n",
            "1 collected test dropped by a plugin or conftest.py without being reported as deselected",
        ),
        (
            "",
            "def test_a():\n    raise KeyboardInterrupt\n\ndef test_b():\n    pass\n",
            "the run was interrupted (KeyboardInterrupt)",
        ),
    ],
    ids=["dropped", "interrupted"],
)
def test_the_report_says_why_a_run_was_partial(
    pytester: pytest.Pytester, conftest: str, body: str, reason: str
) -> None:
    pytester.makeini("[pytest]\n")
    pytester.makeconftest(conftest)
    pytester.makepyfile(test_it=body)
    pytester.runpytest_subprocess("-p", "no:cacheprovider", "--llm-report=report.json")
    run = json.loads((pytester.path / "report.json").read_text())["run"]
    assert run["partial"] is True
    assert reason in run["reasons"]


def test_the_cassette_dir_is_pruned_too(pytester: pytest.Pytester, standin: StandIn) -> None:
    pytester.makeini("[pytest]\naddopts = --llm-cassette-dir=recordings\n")
    pytester.makepyfile(test_bot=PROLOGUE + "\ndef test_kept():\n    ask('kept')\n" + OLD_TEST)
    pytester.runpytest("-p", "no:cacheprovider", "--llm-record=rewrite").assert_outcomes(passed=2)
    pytester.makepyfile(test_bot=PROLOGUE + "\ndef test_kept():\n    ask('kept')\n")
    old = pytester.path / "recordings" / "test_bot" / "test_old.yaml"
    os.utime(old, (time.time() - 3600, time.time() - 3600))
    report = full_run(pytester)
    result = llmbudget("prune", "--report", report, cwd=pytester.path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "  recordings/test_bot/test_old.yaml" in result.stdout
    assert not old.exists()
    assert (pytester.path / "recordings" / "test_bot" / "test_kept.yaml").exists()


def _age(*paths: Path) -> None:
    """Files recorded well before the report's run, as a real project's are."""
    an_hour_ago = time.time() - 3600
    for path in paths:
        os.utime(path, (an_hour_ago, an_hour_ago))


def test_only_the_cassette_folders_of_the_runs_tests_are_pruned(
    pytester: pytest.Pytester, standin: StandIn
) -> None:
    """A nested project (examples/, its own pytest.ini) outside testpaths keeps its cassettes."""
    pytester.makeini("[pytest]\ntestpaths = tests\n")
    kept = PROLOGUE + "\ndef test_kept():\n    ask('kept')\n"
    pytester.makepyfile(**{"tests/test_bot": kept + OLD_TEST})
    pytester.runpytest("-p", "no:cacheprovider", "--llm-record=rewrite").assert_outcomes(passed=2)
    pytester.makepyfile(**{"tests/test_bot": kept})
    old = pytester.path / "tests" / "cassettes" / "test_bot" / "test_old.yaml"
    (pytester.path / "examples").mkdir()
    (pytester.path / "examples" / "pytest.ini").write_text("[pytest]\n")
    (pytester.path / "examples" / "test_examples.py").write_text(
        "def test_support_bot():\n    pass\n"
    )
    example = pytester.path / "examples" / "cassettes" / "test_examples" / "test_support_bot.yaml"
    example.parent.mkdir(parents=True)
    example.write_bytes(old.read_bytes())
    _age(old, example)

    report = full_run(pytester)
    dry = llmbudget("prune", "--dry-run", "--report", report, cwd=pytester.path)
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert "  tests/cassettes/test_bot/test_old.yaml" in dry.stdout
    assert "examples" not in dry.stdout
    real = llmbudget("prune", "--report", report, cwd=pytester.path)
    assert real.returncode == 0, real.stdout + real.stderr
    assert not old.exists()
    assert example.exists()


def test_a_report_of_another_project_is_refused(
    pytester: pytest.Pytester, project: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    other = tmp_path_factory.mktemp("other")
    (other / "pytest.ini").write_text("[pytest]\n")
    (other / "test_quiet.py").write_text("def test_quiet():\n    pass\n")
    report = other / "r.json"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", f"--llm-report={report}"],
        cwd=other,
        capture_output=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout
    before = snapshot(project)
    result = llmbudget("prune", "--dry-run", "--report", report, cwd=project)
    assert result.returncode == 2, result.stdout
    assert result.stderr == (
        f"llmbudget prune: error: {report} is not the report of a run in {project}: its test "
        "files are not all there (test_quiet.py missing); prune in the project the report "
        "comes from (or pass --rootdir), with a report of the tests as they are now\n"
    )
    assert result.stdout == ""
    assert snapshot(project) == before
    assert llmbudget("prune", "--dry-run", "--report", report, cwd=other).returncode == 0


def test_a_report_of_a_run_that_collected_no_test_is_refused(
    pytester: pytest.Pytester, project: Path
) -> None:
    report = full_run(pytester, "-o", "python_files=nothing_*.py")
    run = json.loads(report.read_text())["run"]
    assert run["collected"] == 0
    assert run["partial"] is False, run["reasons"]
    before = snapshot(project)
    result = llmbudget("prune", "--report", report, cwd=project)
    assert result.returncode == 2, result.stdout
    [line] = result.stderr.splitlines()
    assert line == (
        f"llmbudget prune: error: {report} is the report of a run that collected no test, so "
        "every cassette would look unused: run the whole suite with --llm-report, then prune "
        "with that report"
    )
    assert snapshot(project) == before


AUTH_TESTS = """
import os

import pytest
import requests

URL = os.environ["STANDIN_URL"]


@pytest.mark.{marker}
def test_login():
    assert requests.get(URL + "/login", timeout=10).ok
"""


def test_another_tools_cassette_is_never_deleted(
    pytester: pytest.Pytester, project: Path, standin: StandIn
) -> None:
    """A file pytest-recording plays for a test (``vcr("login_flow.yaml")``) stays."""
    pytester.makepyfile(
        test_auth=AUTH_TESTS.replace(
            "{marker}", 'default_cassette("login_flow.yaml")\n@pytest.mark.vcr'
        )
    )
    pytester.runpytest(
        "-p", "no:cacheprovider", "--record-mode=once", "test_auth.py"
    ).assert_outcomes(passed=1)
    login = project / "cassettes" / "test_auth" / "login_flow.yaml"
    assert "recorded_at" not in login.read_text(), "written by vcrpy, not by the plugin"
    _age(login)
    pytester.makepyfile(test_auth=AUTH_TESTS.replace("{marker}", 'vcr("login_flow.yaml")'))
    standin.reset()

    report = full_run(pytester)
    assert standin.hits == 0, "pytest-recording replayed the login from login_flow.yaml"
    before = snapshot(project)
    dry = llmbudget("prune", "--dry-run", "--report", report, cwd=project)
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert (
        "  cassettes/test_auth/login_flow.yaml: not recorded by pytest-llmbudget "
        "(another tool's cassette)" in dry.stdout.splitlines()
    )
    assert "  cassettes/test_bot/test_old.yaml" in dry.stdout.splitlines()
    real = llmbudget("prune", "--report", report, cwd=project)
    assert real.returncode == 0, real.stdout + real.stderr
    assert (
        snapshot(project)["cassettes/test_auth/login_flow.yaml"]
        == before["cassettes/test_auth/login_flow.yaml"]
    )
    replay = pytester.runpytest("-p", "no:cacheprovider", "--llm-record=none", "test_auth.py")
    replay.assert_outcomes(passed=1)
    assert standin.hits == 0


def test_interactions_another_tool_recorded_are_not_trimmed(
    pytester: pytest.Pytester, project: Path
) -> None:
    """The unplayed interaction of a cassette stays when vcrpy, not the plugin, recorded it."""
    import yaml

    path = project / CASSETTES / "test_summarize.yaml"
    document = load_cassette(path)
    for key in ("recorded_at", "duration_s"):
        del document["interactions"][1][key]  # as vcrpy writes an interaction
    path.write_text(yaml.safe_dump(document))
    _age(path)
    report = full_run(pytester)
    before = snapshot(project)
    result = llmbudget("prune", "--report", report, cwd=project)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (
        "  cassettes/test_bot/test_summarize.yaml: what its tests did not play was not "
        "recorded by pytest-llmbudget" in result.stdout.splitlines()
    )
    assert "interaction that the run did not play" not in result.stdout
    assert (
        snapshot(project)[f"{CASSETTES}/test_summarize.yaml"]
        == before[f"{CASSETTES}/test_summarize.yaml"]
    )
