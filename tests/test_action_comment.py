"""The action's cost-diff comment: one comment per pull request, the token kept to GitHub.

The step runs as the runner would run it: its ``env:`` from action.yml with
the inputs filled in, its script under bash, the ``GITHUB_*`` variables set
and a real ``pull_request`` event payload (tests/data), against a loopback
stand-in for GitHub's API and its artifact storage (tests/github_standin.py).
"""

from __future__ import annotations

import io
import json
import re
import subprocess
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from actionstep import EXPRESSION, ROOT, action_step, read_action, run_step
from github_standin import GitHubStandIn, Seen
from helpers import chat_record

from pytest_llmbudget import action, github_api
from pytest_llmbudget.report import jsonreport
from pytest_llmbudget.summary import build

EVENT = Path(__file__).parent / "data" / "pull_request_event.json"
TOKEN = "ghs_standInTokenThatMustNeverBePrinted0042"
BASE_COSTS = {"test_reply": "0.06", "test_summary": "0.04"}  # $0.10
HEAD_COSTS = {"test_reply": "0.06", "test_summary": "0.07"}  # $0.13, +30%


def _comment_step() -> dict[str, Any]:
    return action_step(lambda step: "action comment" in step.get("run", ""))


def _report(path: Path, costs: dict[str, str]) -> Path:
    records = [
        chat_record(f"tests/test_bot.py::{name}", cost, live=False) for name, cost in costs.items()
    ]
    summary = build(
        records,
        outcomes={record.nodeid: "passed" for record in records},
        limits={},
        violations=[],
        token_counter="tiktoken",
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    jsonreport.write(summary, path)
    return path


def _zip(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _report_zip(tmp_path: Path, costs: dict[str, str]) -> bytes:
    return _zip({"llm-report.json": _report(tmp_path / "zipped" / "r.json", costs).read_bytes()})


@pytest.fixture
def github() -> Iterator[GitHubStandIn]:
    with GitHubStandIn(TOKEN) as server:
        yield server


@dataclass
class Step:
    done: subprocess.CompletedProcess[str]
    summary: str

    @property
    def output(self) -> str:
        return self.done.stdout + self.done.stderr


def _run(
    tmp_path: Path,
    api_url: str,
    inputs: dict[str, str] | None = None,
    *,
    event: str = "pull_request",
    payload: Path = EVENT,
    head: dict[str, str] | None = HEAD_COSTS,
) -> Step:
    """Run the action's comment step in a project under tmp_path, as the runner would."""
    project = tmp_path / "project"
    project.mkdir(parents=True, exist_ok=True)
    if head is not None:
        _report(project / "llm-report.json", head)
    summary = tmp_path / "step_summary"
    summary.unlink(missing_ok=True)
    runner = {
        "GITHUB_EVENT_NAME": event,
        "GITHUB_EVENT_PATH": str(payload),
        "GITHUB_REPOSITORY": "octo-org/octo-repo",
        "GITHUB_API_URL": api_url,
        "GITHUB_STEP_SUMMARY": str(summary),
        "GITHUB_OUTPUT": str(tmp_path / "github_output"),
    }
    given = {"github-token": TOKEN, "comment": "true", **(inputs or {})}
    done = run_step(_comment_step(), project, given, runner, timeout=60)
    assert TOKEN not in done.stdout + done.stderr
    return Step(done, summary.read_text() if summary.exists() else "")


def _ours(github: GitHubStandIn) -> list[dict[str, Any]]:
    return [c for c in github.comments(42) if c["body"].startswith(action.MARKER)]


def _posted(
    tmp_path: Path,
    github: GitHubStandIn,
    inputs: dict[str, str],
    *,
    status: int = 0,
    branch: str = "main",
) -> tuple[Step, str]:
    """Run the step against a base artifact from ``branch``: the step, and the body of the
    one comment it must have posted, whatever its exit status."""
    github.add_artifact(branch=branch, zip_bytes=_report_zip(tmp_path, BASE_COSTS))
    step = _run(tmp_path, github.api_url, inputs)
    assert step.done.returncode == status, step.output
    (posted,) = _ours(github)
    body: str = posted["body"]
    return step, body


def _calls(github: GitHubStandIn, method: str, fragment: str) -> list[Seen]:
    return [s for s in github.seen if s.method == method and fragment in s.path]


def _token_stayed_home(github: GitHubStandIn) -> None:
    for seen in github.seen:
        if seen.server == "api":
            assert seen.headers["authorization"] == f"Bearer {TOKEN}"
            assert seen.headers["accept"] == "application/vnd.github+json"
            assert seen.headers["x-github-api-version"] == "2022-11-28"
            assert seen.headers["user-agent"].startswith("pytest-llmbudget/")
        else:
            assert "authorization" not in seen.headers
            assert TOKEN not in json.dumps(seen.headers)


# -- end to end --------------------------------------------------------------------


def test_first_run_posts_the_comment_and_the_next_one_edits_it(
    tmp_path: Path, github: GitHubStandIn
) -> None:
    for i in range(129):  # our comment goes to page 2 of the listing
        github.add_comment(42, f"review remark {i}")
    quoted = github.add_comment(42, f"> {action.MARKER}\n> ### LLM cost up\n\nWhy is it dearer?")
    github.add_artifact(branch="main", zip_bytes=_report_zip(tmp_path, BASE_COSTS))

    first = _run(tmp_path, github.api_url)
    assert first.done.returncode == 0, first.output
    assert (
        "Posted the cost diff comment: https://github.com/octo-org/octo-repo/pull/42#"
        in first.output
    )
    (posted,) = _ours(github)
    assert "$0.10 → $0.13" in posted["body"]
    assert "`test_bot.py::test_summary`" in posted["body"].replace("tests/", "")
    assert "artifact of `main`" in posted["body"]
    assert len(_calls(github, "POST", "/issues/42/comments")) == 1
    assert "$0.10 → $0.13" in first.summary

    second = _run(tmp_path / "again", github.api_url, head={"test_reply": "0.05"})
    assert second.done.returncode == 0, second.output
    assert "Updated the cost diff comment" in second.output
    (edited,) = _ours(github)
    assert edited["id"] == posted["id"]
    assert "$0.10 → $0.050" in edited["body"]
    assert len(github.comments(42)) == 131, "one comment of ours, whatever the runs"
    assert [s.path for s in _calls(github, "PATCH", "/issues/comments/")] == [
        f"/repos/octo-org/octo-repo/issues/comments/{posted['id']}"
    ]
    listed = [s.path for s in _calls(github, "GET", "/issues/42/comments")]
    assert any("page=2" in path for path in listed)
    assert all("per_page=100" in path for path in listed)
    assert github.comments(42)[129] == quoted, "a reply quoting the marker is not ours to edit"
    _token_stayed_home(github)


def test_the_base_is_the_newest_unexpired_artifact_of_the_base_branch(
    tmp_path: Path, github: GitHubStandIn
) -> None:
    wanted = github.add_artifact(
        branch="main", zip_bytes=_report_zip(tmp_path, BASE_COSTS), head_sha="c0ffee" + "0" * 34
    )
    dearer = _report_zip(tmp_path, {"test_reply": "9.00"})
    github.add_artifact(branch="main", zip_bytes=dearer, expired=True)
    github.add_artifact(branch="main", zip_bytes=dearer, from_fork=True)
    github.add_artifact(branch="main", zip_bytes=dearer, name="llm-report-old")
    for _ in range(100):  # the listing's first page, all of another branch
        github.add_artifact(branch="feature-x", zip_bytes=dearer)

    step = _run(tmp_path, github.api_url)

    assert step.done.returncode == 0, step.output
    listings = [s.path for s in _calls(github, "GET", "/actions/artifacts?")]
    assert len(listings) == 2
    assert "name=llm-report" in listings[0]
    assert "page=2" in listings[1]
    paths = [(s.server, s.path.split("?")[0]) for s in github.seen]
    assert [(server, path) for server, path in paths if "zip" in path] == [
        ("api", f"/repos/octo-org/octo-repo/actions/artifacts/{wanted}/zip"),
        ("storage", f"/artifacts/{wanted}.zip"),
    ]
    (posted,) = _ours(github)
    assert "$0.10 → $0.13" in posted["body"]
    assert "$9.00" not in posted["body"]
    assert "the `llm-report` artifact of `main` at c0ffee0" in posted["body"]
    assert "sig=" not in step.output
    _token_stayed_home(github)


def test_a_base_report_file_needs_no_artifact(tmp_path: Path, github: GitHubStandIn) -> None:
    _report(tmp_path / "project" / "base" / "main.json", BASE_COSTS)
    step = _run(tmp_path, github.api_url, {"base-report": "base/main.json"})
    assert step.done.returncode == 0, step.output
    assert not [s for s in github.seen if "/actions/" in s.path]
    (posted,) = _ours(github)
    assert "$0.10 → $0.13" in posted["body"]
    assert "Compared with `base/main.json`" in posted["body"]


def test_no_base_report_says_which_branch_and_artifact_and_shows_no_numbers(
    tmp_path: Path, github: GitHubStandIn
) -> None:
    _, body = _posted(tmp_path, github, {"base-artifact": "llm-costs"}, branch="feature-x")
    assert "no unexpired artifact named `llm-costs` from a run on `main`" in body
    assert "$" not in body
    assert not [s for s in github.seen if "/zip" in s.path]


def test_a_missing_base_report_file_is_said_in_the_comment(
    tmp_path: Path, github: GitHubStandIn
) -> None:
    step = _run(tmp_path, github.api_url, {"base-report": "nowhere.json"})
    assert step.done.returncode == 0, step.output
    assert "::warning " in step.done.stdout
    (posted,) = _ours(github)
    assert "`nowhere.json` does not exist" in posted["body"]


def test_a_push_is_not_a_pull_request(tmp_path: Path, github: GitHubStandIn) -> None:
    push = tmp_path / "push.json"
    push.write_text(json.dumps({"ref": "refs/heads/main", "after": "a" * 40, "commits": []}))
    step = _run(tmp_path, github.api_url, event="push", payload=push)
    assert step.done.returncode == 0, step.output
    assert step.done.stdout.strip().count("\n") == 0
    assert "push is not a pull request event" in step.done.stdout
    assert github.seen == []


def test_no_head_report_is_a_warning(tmp_path: Path, github: GitHubStandIn) -> None:
    step = _run(tmp_path, github.api_url, head=None)
    assert step.done.returncode == 0, step.output
    assert step.done.stdout.startswith("::warning ")
    assert "pytest wrote no report at llm-report.json" in step.done.stdout
    assert github.seen == []


def test_a_read_only_token_is_a_warning_not_a_failure(
    tmp_path: Path, github: GitHubStandIn
) -> None:
    github.add_artifact(branch="main", zip_bytes=_report_zip(tmp_path, BASE_COSTS))
    github.refuse("POST", 403, "Resource not accessible by integration")
    step = _run(tmp_path, github.api_url)
    assert step.done.returncode == 0, step.output
    (warning,) = [line for line in step.done.stdout.splitlines() if line.startswith("::warning")]
    assert "POST /repos/octo-org/octo-repo/issues/42/comments: HTTP 403" in warning
    assert "Resource not accessible by integration" in warning
    assert "fork" in warning
    assert _ours(github) == []
    assert "$0.10 → $0.13" in step.summary, "the comparison is in the job summary still"


def test_a_cost_rise_past_the_limit_fails_after_the_comment_is_posted(
    tmp_path: Path, github: GitHubStandIn
) -> None:
    limits = {"max-increase-pct": "10", "max-increase": "1"}
    step, body = _posted(tmp_path, github, limits, status=1)
    assert "Over the limit" in body
    assert "--max-increase-pct 10" in body
    *_, said, failed = step.done.stdout.rstrip().splitlines()
    assert said.startswith("Posted the cost diff comment")
    assert failed.startswith("::error ")


def test_an_unusable_limit_fails_with_the_message_in_the_comment(
    tmp_path: Path, github: GitHubStandIn
) -> None:
    _, body = _posted(tmp_path, github, {"max-increase-pct": "ten"}, status=2)
    assert "exited with status 2" in body
    assert "'ten' is not a percentage" in body


def test_github_out_of_reach_is_a_warning_naming_the_call(tmp_path: Path) -> None:
    with GitHubStandIn(TOKEN) as gone:
        closed = gone.api_url
    step = _run(tmp_path, closed)
    assert step.done.returncode == 0, step.output
    warnings = [line for line in step.done.stdout.splitlines() if line.startswith("::warning")]
    assert "GET /repos/octo-org/octo-repo/actions/artifacts?name=llm-report" in warnings[0]
    assert "no answer" in warnings[0]
    assert "not posted: GET /repos/octo-org/octo-repo/issues/42/comments?" in warnings[1]


# -- the action and the docs -------------------------------------------------------


def test_the_comment_step_takes_every_input_from_the_environment() -> None:
    step = _comment_step()
    assert "${{" not in step["run"]
    assert "inputs.comment == 'true'" in step["if"]
    variables = {name: EXPRESSION.fullmatch(value) for name, value in step["env"].items()}
    wanted = {variable: name for name, (variable, _) in action.DIFF_LIMITS.items()}
    wanted |= {
        action.REPORT: "report",
        action.BASE_REPORT: "base-report",
        action.BASE_ARTIFACT: "base-artifact",
        action.TOKEN: "github-token",
        "LLMBUDGET_PYTHON": "python",
    }
    for variable, name in wanted.items():
        match = variables.get(variable)
        assert match is not None, variable
        assert match.group(1) == f"inputs.{name}", variable
    inputs = read_action()["inputs"]
    assert inputs["comment"]["default"] == "false", "no comment unless asked for"
    assert inputs["github-token"]["default"] == "${{ github.token }}"
    assert inputs["base-artifact"]["default"] == action.DEFAULT_ARTIFACT


def test_the_docs_list_every_input_and_show_the_cost_diff_workflow() -> None:
    doc = (ROOT / "docs" / "ci.md").read_text()
    table = set(re.findall(r"^\| `([a-z-]+)` \|", doc, flags=re.MULTILINE))
    assert set(read_action()["inputs"]) <= table
    section = doc.split("## A cost diff on every pull request", 1)[1]
    workflow = yaml.safe_load(re.search(r"```yaml\n(.*?)```", section, re.DOTALL)[1])  # type: ignore[index]
    (job,) = workflow["jobs"].values()
    assert job["permissions"]["pull-requests"] == "write"
    assert job["permissions"]["actions"] == "read"
    (ours,) = [s for s in job["steps"] if s.get("uses", "").startswith("pytest-llmbudget/")]
    assert set(ours["with"]) <= set(read_action()["inputs"])
    assert ours["with"]["comment"] == "true"
    (upload,) = [s for s in job["steps"] if s.get("uses", "").startswith("actions/upload-artifact")]
    assert upload["with"]["name"] == action.DEFAULT_ARTIFACT
    assert "push" in upload["if"]


# -- the parts ---------------------------------------------------------------------


def test_the_event_payload_gives_the_pull_request() -> None:
    payload = github_api.read_event(str(EVENT))
    for event in github_api.PULL_REQUEST_EVENTS:
        assert github_api.pull_request(event, payload) == github_api.PullRequest(42, "main")
    assert github_api.pull_request("pull_request_review", payload) is None
    assert github_api.pull_request("push", {}) is None
    with pytest.raises(ValueError, match=r"pull_request\.number"):
        github_api.pull_request("pull_request", {"pull_request": {"number": "42"}})


def test_the_token_is_in_no_repr_and_no_error(github: GitHubStandIn) -> None:
    client = github_api.Client(github.api_url, github.repository, TOKEN + "x")
    assert TOKEN not in repr(client)
    with pytest.raises(github_api.GitHubError) as caught:
        client.newest_artifact("llm-report", "main")
    assert str(caught.value) == (
        "GET /repos/octo-org/octo-repo/actions/artifacts?name=llm-report&per_page=100&page=1: "
        "HTTP 401: Bad credentials"
    )
    assert TOKEN not in repr(caught.value)
    with pytest.raises(ValueError, match="not a token") as refused:
        github_api.Client(github.api_url, github.repository, f"{TOKEN}\nInjected: 1")
    assert TOKEN not in str(refused.value)


def test_the_report_is_taken_from_the_zip_by_name_or_as_its_one_json_file() -> None:
    named = _zip({"llm-report.json": b"{1}", "other.json": b"{2}", "logs/x.txt": b""})
    assert github_api.report_from_zip(named, "reports/llm-report.json") == b"{1}"
    assert github_api.report_from_zip(_zip({"costs.json": b"{3}"}), "llm-report.json") == b"{3}"
    with pytest.raises(github_api.ArtifactError, match=r"a\.json, b\.json"):
        github_api.report_from_zip(_zip({"a.json": b"", "b.json": b""}), "llm-report.json")
    with pytest.raises(github_api.ArtifactError, match="not a zip"):
        github_api.report_from_zip(b"<html>", "llm-report.json")


def test_a_zip_bomb_is_refused_by_what_it_holds() -> None:
    bomb = _zip({"llm-report.json": b"0" * 3_000_000})
    assert len(bomb) < 10_000
    with pytest.raises(github_api.ArtifactError, match="larger than 1000000 bytes"):
        github_api.report_from_zip(bomb, "llm-report.json", limit=1_000_000)


def test_a_long_comment_is_cut_at_a_line_with_its_blocks_closed() -> None:
    rows = "".join(f"| `tests/test_{i}.py::test_💸` | changed | $0.01 |\n" for i in range(5000))
    body = f"{action.MARKER}\n### LLM cost up\n\n<details open><summary>Tests</summary>\n\n{rows}"
    cut = action.fit(body)
    assert len(cut.encode("utf-16-le")) // 2 <= action.COMMENT_LIMIT
    kept, note = cut.rsplit("\n\n*Cut here", 1)
    assert kept.endswith("|\n\n</details>")
    assert "65536 characters" in note
    assert action.fit("short") == "short"
