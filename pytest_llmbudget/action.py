"""The steps of the composite GitHub Action (``action.yml``): install, pytest, comment.

The action hands its inputs over as environment variables, never as
``${{ }}`` expressions inside a script: an input such as ``pytest-args`` is
text a pull request can influence, and an expression pasted into a shell
script runs whatever that text says. Here the inputs are only data: the
arguments are split the way a shell splits words, without a shell.

pytest itself writes the step outputs and the job summary (the plugin sees
``GITHUB_ACTIONS=true``), so this module only builds the command line, runs
it with the interpreter it was started with, and passes pytest's exit status
on.

``comment`` compares the run's report with the base branch's (``llmbudget
diff``) and keeps the result in one comment on the pull request, edited on
every push. It exits with the comparison's status only after the comment is
posted, so a cost rise past a limit fails the job with the reason in view. A
comment that cannot be posted (a fork's read-only token) is a warning: the
comparison is in the job summary as well.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from pytest_llmbudget import github_api

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

# The comment step's inputs, beside REPORT (the head report).
BASE_REPORT = "LLMBUDGET_BASE_REPORT"
BASE_ARTIFACT = "LLMBUDGET_BASE_ARTIFACT"
TOKEN = "LLMBUDGET_GITHUB_TOKEN"
DIFF_LIMITS: dict[str, tuple[str, str]] = {
    "max-increase": ("LLMBUDGET_MAX_INCREASE", "--max-increase"),
    "max-increase-pct": ("LLMBUDGET_MAX_INCREASE_PCT", "--max-increase-pct"),
}
DEFAULT_ARTIFACT = "llm-report"
# How our comment is found again among the pull request's comments: its first line.
MARKER = "<!-- pytest-llmbudget:cost-diff -->"
# GitHub refuses a longer comment body; counted here in UTF-16 code units, the stricter count.
COMMENT_LIMIT = 65536


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


def _say(level: str, message: str) -> None:
    from pytest_llmbudget.report.github import command as workflow_command

    print(workflow_command(level, message), flush=True)


def _say_error(message: str) -> None:
    _say("error", message)


# -- the comment step ------------------------------------------------------------------


def diff_command(
    base: str, head: str, environ: Mapping[str, str], python: str = sys.executable
) -> list[str]:
    """``llmbudget diff`` of the two reports, as Markdown, with the limits the inputs give."""
    command = [python, "-m", "pytest_llmbudget", "diff", base, head, "--format", "markdown"]
    for _name, (variable, option) in DIFF_LIMITS.items():
        value = environ.get(variable, "").strip()
        if value:
            command.append(f"{option}={value}")
    return command


def _utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def fit(body: str, limit: int = COMMENT_LIMIT) -> str:
    """``body``, cut at a line so GitHub takes it, with open blocks closed and a line saying so."""
    if _utf16(body) <= limit:
        return body
    note = (
        f"\n\n*Cut here: a comment holds at most {limit} characters. "
        "`llmbudget diff` on the two reports prints it all.*\n"
    )
    room = limit - _utf16(note) - 64  # 64: the closing fence and tags below
    cut = body[:room]
    while _utf16(cut) > room:
        cut = cut[: room - (_utf16(cut) - room)]
    cut = cut[: cut.rfind("\n")] if "\n" in cut else cut
    if cut.count("```") % 2:
        cut += "\n```"
    cut += "\n\n</details>" * max(0, cut.count("<details") - cut.count("</details>"))
    return cut + note


def _fence(text: str) -> str:
    """``text`` in a code block that no backticks inside it can close."""
    longest = run = 0
    for char in text:
        run = run + 1 if char == "`" else 0
        longest = max(longest, run)
    ticks = "`" * max(3, longest + 1)
    return f"{ticks}\n{text.rstrip()}\n{ticks}"


@dataclass(frozen=True)
class _Base:
    """The base report (``path``) and where it came from, or why there is none (``missing``)."""

    path: str | None
    source: str = ""
    missing: str = ""


def _find_base(
    environ: Mapping[str, str],
    client: github_api.Client | None,
    pr: github_api.PullRequest,
    head: str,
    scratch: Path,
) -> _Base:
    given = environ.get(BASE_REPORT, "").strip()
    if given:
        if not os.path.isfile(given):
            _say("warning", f"No base report at {given} (the base-report input).")
            return _Base(None, missing=f"No base report to compare with: `{given}` does not exist.")
        return _Base(given, source=f"`{given}`")
    name = environ.get(BASE_ARTIFACT, "").strip() or DEFAULT_ARTIFACT
    what = f"unexpired artifact named `{name}` from a run on `{pr.base_ref}`"
    if client is None:
        return _Base(None, missing=f"No base report: without a token, no {what} can be found.")
    try:
        artifact = client.newest_artifact(name, pr.base_ref)
        if artifact is None:
            print(f"No base report: no {what}.", flush=True)
            return _Base(
                None,
                missing=f"No base report to compare with: there is no {what}. "
                f"Once a run on `{pr.base_ref}` uploads its report as `{name}`, "
                "the next run here is compared with it.",
            )
        report = github_api.report_from_zip(
            client.download_artifact(artifact.id), os.path.basename(head)
        )
    except (github_api.GitHubError, github_api.ArtifactError) as error:
        _say("warning", f"The base report could not be fetched: {error}")
        return _Base(None, missing=f"The base report could not be fetched: {error}")
    path = scratch / f"base-{os.path.basename(head) or 'report.json'}"
    path.write_bytes(report)
    at = f" at {artifact.head_sha[:7]}" if artifact.head_sha else ""
    return _Base(str(path), source=f"the `{name}` artifact of `{pr.base_ref}`{at}")


def _compare(base: _Base, head: str, environ: Mapping[str, str]) -> tuple[str, int]:
    """The comment's text and the step's status: ``llmbudget diff``'s own."""
    if base.path is None:
        return f"### LLM cost diff\n\n{base.missing}\n", 0
    command = diff_command(base.path, head, environ)
    print("+ " + shlex.join(command), flush=True)
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    sys.stderr.write(done.stderr)
    if done.returncode in (0, 1):
        return (
            f"{done.stdout.rstrip()}\n\n<sub>Compared with {base.source}.</sub>\n",
            done.returncode,
        )
    _say("error", f"llmbudget diff exited with status {done.returncode}")
    return (
        f"### LLM cost diff\n\nThe comparison with {base.source} failed "
        f"(`llmbudget diff` exited with status {done.returncode}):\n\n"
        f"{_fence(done.stderr or done.stdout or '(no message)')}\n",
        done.returncode,
    )


def _client(environ: Mapping[str, str], payload: Mapping[str, object]) -> github_api.Client | None:
    repository = environ.get("GITHUB_REPOSITORY", "")
    if not repository:
        home = payload.get("repository")
        repository = str(home.get("full_name", "")) if isinstance(home, dict) else ""
    try:
        return github_api.Client(
            environ.get("GITHUB_API_URL", "https://api.github.com"),
            repository,
            environ.get(TOKEN, ""),
        )
    except ValueError as error:
        _say("warning", f"No cost diff comment: {error} (the github-token input).")
        return None


def comment(environ: Mapping[str, str]) -> int:
    """Compare the head report with the base branch's and keep the result in one PR comment."""
    event = environ.get("GITHUB_EVENT_NAME", "")
    payload: dict[str, object] = {}
    try:
        if event in github_api.PULL_REQUEST_EVENTS:
            payload = github_api.read_event(environ.get("GITHUB_EVENT_PATH", ""))
        pr = github_api.pull_request(event, payload)
    except (OSError, ValueError) as error:
        _say("warning", f"No cost diff comment: the event payload cannot be read ({error}).")
        return 0
    if pr is None:
        print(f"No cost diff comment: {event or 'this run'} is not a pull request event.")
        return 0
    head = environ.get(REPORT, "").strip()
    if not head or not os.path.isfile(head):
        why = f"pytest wrote no report at {head}" if head else "the report input is empty"
        _say("warning", f"No cost diff comment: {why}.")
        return 0
    client = _client(environ, payload)
    with tempfile.TemporaryDirectory(prefix="llmbudget-base-") as scratch:
        base = _find_base(environ, client, pr, head, Path(scratch))
        text, status = _compare(base, head, environ)
    body = fit(f"{MARKER}\n{text}")
    summary = environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        with open(summary, "a", encoding="utf-8") as stream:
            stream.write(body.removeprefix(MARKER + "\n") + "\n")
    posted = client is None or _post(client, pr.number, body)
    if status == 1:
        _say(
            "error", "The LLM cost rose past max-increase or max-increase-pct: see the comparison."
        )
    return status or (0 if posted else 1)


def _post(client: github_api.Client, number: int, body: str) -> bool:
    """Post or edit the comment; False when that failed in a way worth failing the job for."""
    try:
        posted = client.upsert_comment(number, MARKER, body)
    except github_api.GitHubError as error:
        if error.status is None or error.forbidden:
            fork = " (a pull request from a fork gets a read-only token)" if error.forbidden else ""
            _say("warning", f"The cost diff comment was not posted{fork}: {error}")
            return True
        _say("error", f"The cost diff comment was not posted: {error}")
        return False
    verb = "Posted" if posted.created else "Updated"
    print(f"{verb} the cost diff comment: {posted.url or posted.id}", flush=True)
    return True


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] = os.environ) -> int:
    """``install`` runs the install input, ``comment`` the cost diff; no argument runs pytest."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args == ["comment"]:
        return comment(environ)
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
