"""The pytest step of the composite GitHub Action (``action.yml``).

The action hands its inputs over as environment variables, never as
``${{ }}`` expressions inside a script: an input such as ``pytest-args`` is
text a pull request can influence, and an expression pasted into a shell
script runs whatever that text says. Here the inputs are only data: the
arguments are split the way a shell splits words, without a shell.

pytest itself writes the step outputs and the job summary (the plugin sees
``GITHUB_ACTIONS=true``), so this module only builds the command line, runs
it with the interpreter it was started with, and passes pytest's exit status
on.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from collections.abc import Mapping, Sequence

# Input name → (environment variable, pytest option). Empty means "not set".
LIMITS: dict[str, tuple[str, str]] = {
    "budget": ("LLMBUDGET_BUDGET", "--llm-budget"),
    "max-calls": ("LLMBUDGET_MAX_CALLS", "--llm-max-calls"),
    "max-cost": ("LLMBUDGET_MAX_COST", "--llm-max-cost"),
}
PYTEST_ARGS = "LLMBUDGET_PYTEST_ARGS"
REPORT = "LLMBUDGET_REPORT"
USAGE = 2


class InputError(ValueError):
    """An action input that cannot be turned into a pytest command line."""


def pytest_command(environ: Mapping[str, str], python: str = sys.executable) -> list[str]:
    """The pytest command line the action's inputs ask for."""
    raw = environ.get(PYTEST_ARGS, "")
    try:
        args = shlex.split(raw)
    except ValueError as error:
        raise InputError(f"input pytest-args {raw!r} cannot be split: {error}") from None
    command = [python, "-m", "pytest", *args]
    for _name, (variable, option) in LIMITS.items():
        value = environ.get(variable, "").strip()
        if value:
            command.append(f"{option}={value}")
    report = environ.get(REPORT, "").strip()
    if report:
        command.append(f"--llm-report={report}")
    return command


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] = os.environ) -> int:
    del argv  # everything comes from the environment, as the action sets it
    try:
        command = pytest_command(environ)
    except InputError as error:
        from pytest_llmbudget.report.github import command as workflow_command

        print(workflow_command("error", str(error)), flush=True)
        return USAGE
    print("+ " + shlex.join(command), flush=True)
    return subprocess.run(command, check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
