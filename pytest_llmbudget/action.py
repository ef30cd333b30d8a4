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
INSTALL = "LLMBUDGET_INSTALL"
USAGE = 2
# Set when pytest ended before the plugin could write the step outputs.
ERROR_OUTPUT = "llm-error"


class InputError(ValueError):
    """An action input that cannot be turned into a command line."""


def _split(name: str, raw: str) -> list[str]:
    try:
        return shlex.split(raw)
    except ValueError as error:
        raise InputError(f"input {name} {raw!r} cannot be split: {error}") from None


def pytest_command(environ: Mapping[str, str], python: str = sys.executable) -> list[str]:
    """The pytest command line the action's inputs ask for.

    Our options come first: after a ``--`` in pytest-args they would be paths.
    """
    command = [python, "-m", "pytest"]
    for _name, (variable, option) in LIMITS.items():
        value = environ.get(variable, "").strip()
        if value:
            command.append(f"{option}={value}")
    report = environ.get(REPORT, "").strip()
    if report:
        command.append(f"--llm-report={report}")
    return command + _split("pytest-args", environ.get(PYTEST_ARGS, ""))


def install_command(environ: Mapping[str, str], python: str = sys.executable) -> list[str] | None:
    """``pip install`` of the install input (words across lines, quotes honoured), or None."""
    words = _split("install", environ.get(INSTALL, ""))
    if not words:
        return None
    return [python, "-m", "pip", "install", "--disable-pip-version-check", *words]


def _outputs_written(environ: Mapping[str, str], since: int) -> bool:
    path = environ.get("GITHUB_OUTPUT")
    if not path:
        return True
    try:
        with open(path, "rb") as stream:
            stream.seek(since)
            return b"llm-calls=" in stream.read()
    except OSError:
        return False


def _output_size(environ: Mapping[str, str]) -> int:
    path = environ.get("GITHUB_OUTPUT")
    try:
        return os.path.getsize(path) if path else 0
    except OSError:
        return 0


def _say_error(message: str) -> None:
    from pytest_llmbudget.report.github import command as workflow_command

    print(workflow_command("error", message), flush=True)


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] = os.environ) -> int:
    """``install`` runs the install input; no argument runs pytest."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        if args == ["install"]:
            command = install_command(environ)
            if command is None:
                return 0
        else:
            command = pytest_command(environ)
    except InputError as error:
        _say_error(str(error))
        return USAGE
    print("+ " + shlex.join(command), flush=True)
    before = _output_size(environ)
    status = subprocess.run(command, check=False).returncode
    if args != ["install"] and not _outputs_written(environ, before):
        # pytest stopped before the plugin reported (a usage error, a broken
        # conftest): say so in an output, so later steps do not read blanks as zero.
        message = f"pytest exited with status {status} before the LLM budget report"
        with open(environ["GITHUB_OUTPUT"], "a", encoding="utf-8") as stream:
            stream.write(f"{ERROR_OUTPUT}={message}\n")
    return status


if __name__ == "__main__":
    sys.exit(main())
