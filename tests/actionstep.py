"""Running one step of the composite action (action.yml) the way the runner would.

Why one helper: the step tests of the action and of its comment must run
the steps alike, so that a test passing here means the step works on a
runner: the step's ``env:`` with the inputs filled in, its script under
bash in its working directory, and an environment that holds nothing of
the machine running the suite that a runner would not set (no
``LLMBUDGET_*`` or ``GITHUB_*`` leftovers, no proxy, no ``CI``).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
EXPRESSION = re.compile(r"\$\{\{\s*([^}]*?)\s*\}\}")
"""A ``${{ ... }}`` expression; group 1 is what is inside."""


def read_action() -> dict[str, Any]:
    """action.yml, parsed."""
    document: dict[str, Any] = yaml.safe_load((ROOT / "action.yml").read_text())
    return document


def action_step(chosen: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    """The one step of action.yml for which ``chosen`` is true."""
    (step,) = [s for s in read_action()["runs"]["steps"] if chosen(s)]
    found: dict[str, Any] = step
    return found


def _inherited() -> dict[str, str]:
    """This process's environment less what would make the step's run depend on the machine."""
    return {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("LLMBUDGET_", "GITHUB_"))
        and "proxy" not in name.lower()
        and name != "CI"
    }


def run_step(
    step: Mapping[str, Any],
    project: Path,
    inputs: Mapping[str, str],
    runner: Mapping[str, str],
    *,
    timeout: float | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``step`` for a project at ``project``, its output captured.

    ``inputs`` override the defaults of action.yml (``python`` is this
    interpreter unless given); ``runner`` holds the variables the runner
    would set for this job, on top of ``GITHUB_ACTIONS`` and ``GITHUB_WORKSPACE``.
    """
    values = {name: str(spec.get("default", "")) for name, spec in read_action()["inputs"].items()}
    values["python"] = sys.executable
    values.update(inputs)

    def fill(text: str) -> str:
        return EXPRESSION.sub(lambda m: values[m.group(1).removeprefix("inputs.")], text)

    env = _inherited()
    env.update({name: fill(value) for name, value in step["env"].items()})
    env.update(GITHUB_ACTIONS="true", GITHUB_WORKSPACE=str(project), PYTHONDONTWRITEBYTECODE="1")
    env.update(runner)
    return subprocess.run(
        ["bash", "-c", step["run"]],
        cwd=project / fill(step["working-directory"]),
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
    )
