"""`llmbudget scan`: secrets in cassettes are found, named by file:line, and never printed whole.

The planted keys are built at run time from a seeded generator, in the real
formats and lengths: no key-shaped literal sits in this file for other
scanners to trip on.
"""

from __future__ import annotations

import os
import random
import string
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_llmbudget import leaks

LLMBUDGET = Path(sys.executable).parent / "llmbudget"
CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "cassettes"

_RANDOM = random.Random(20240611)
ALNUM = string.ascii_letters + string.digits
URLSAFE = ALNUM + "_-"


def _chars(count: int, alphabet: str = ALNUM) -> str:
    return "".join(_RANDOM.choice(alphabet) for _ in range(count))


# kind → a realistic key of that kind.
KEYS: dict[str, str] = {
    "openai-key": "sk-proj-" + _chars(156, URLSAFE),
    "anthropic-key": "sk-ant-api03-" + _chars(93, URLSAFE) + "AA",
    "google-api-key": "AIza" + _chars(35, URLSAFE),
    "groq-key": "gsk_" + _chars(52),
    "xai-key": "xai-" + _chars(80),
    "aws-access-key-id": "AKIA" + _chars(16, string.ascii_uppercase + string.digits),
    "openrouter-key": "sk-or-v1-" + _chars(64, "0123456789abcdef"),
}
LEGACY_OPENAI = "sk-" + _chars(20) + "T3BlbkFJ" + _chars(20)
BEARER_TOKEN = "eyJhbGciOiJIUzI1NiJ9." + _chars(40) + "." + _chars(30)


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without its credentials: the findings must not depend on the machine."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.upper().endswith(("_KEY", "_TOKEN", "_SECRET"))
    }
    env.update(extra)
    return env


def llmbudget(
    *args: str | Path, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LLMBUDGET), *map(str, args)],
        cwd=cwd,
        env=clean_env() if env is None else env,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
        check=False,
    )


def cassette(*body_lines: str) -> str:
    """A vcrpy cassette whose response body holds ``body_lines``, each on a line of its own.

    Body line ``i`` (from 0) is on line ``BODY_LINE + i`` of the file.
    """
    head = [
        "interactions:",
        "- request:",
        '    body: \'{"model": "gpt-4o-mini"}\'',
        "    headers:",
        "      authorization:",
        "      - REDACTED",
        "    method: POST",
        "    uri: https://api.openai.com/v1/chat/completions",
        "  response:",
        "    body:",
        "      string: |",
    ]
    tail = ["    status:", "      code: 200", "      message: OK", "version: 1", ""]
    return "\n".join([*head, *(f"        {line}" for line in body_lines), *tail])


BODY_LINE = 12


def test_every_kind_is_found_with_its_file_and_line_and_masked(tmp_path: Path) -> None:
    lines = [f'{{"leak": "{key}"}}' for key in KEYS.values()]
    lines += [f"legacy {LEGACY_OPENAI} key", f"Authorization: Bearer {BEARER_TOKEN}"]
    path = tmp_path / "cassettes" / "test_bot" / "test_reply.yaml"
    path.parent.mkdir(parents=True)
    path.write_text(cassette(*lines))

    result = llmbudget("scan", "cassettes", cwd=tmp_path)

    assert result.returncode == 1, result.stdout + result.stderr
    name = "cassettes/test_bot/test_reply.yaml"
    expected = [
        *(
            f"{name}:{BODY_LINE + i}: {kind} ({leaks.mask(key)})"
            for i, (kind, key) in enumerate(KEYS.items())
        ),
        f"{name}:{BODY_LINE + len(KEYS)}: openai-key ({LEGACY_OPENAI[:6]}…)",
        f"{name}:{BODY_LINE + len(KEYS) + 1}: bearer-token ({BEARER_TOKEN[:6]}…)",
    ]
    assert result.stdout.splitlines()[: len(expected)] == expected
    assert f"{len(expected)} secrets found in 1 of 1 file scanned." in result.stdout
    for secret in [*KEYS.values(), LEGACY_OPENAI, BEARER_TOKEN]:
        assert secret[:12] not in result.stdout + result.stderr, "a report must not leak the key"


def test_placeholders_redactions_and_near_misses_are_clean(tmp_path: Path) -> None:
    near_misses = [
        "REDACTED",
        "Authorization: Bearer REDACTED",
        "Bearer YOUR_API_KEY_GOES_HERE_PLEASE",  # prose: no digit
        "sk-demo-key-0000",
        "sk-test-abcdefghijklmnop1234",  # the test suites' placeholder
        "sk-" + _chars(24),  # too short for any sk- key
        "sk-ant-api03-" + _chars(20),  # too short for an Anthropic key
        "AIza" + _chars(34),  # one short
        "AIza" + _chars(36),  # one long
        "gsk_" + _chars(20),
        "xai-" + _chars(20),
        "AKIAIOSFODNN7EXAMPLE",  # AWS's documented example id
        "AKIA" + _chars(15, string.ascii_uppercase),  # 19 chars
        "signature: " + _chars(30) + "AKIA" + _chars(16, string.ascii_uppercase) + _chars(8),
        "task-" + _chars(40),  # "sk-" inside a word
    ]
    path = tmp_path / "cassettes" / "clean.yaml"
    path.parent.mkdir()
    path.write_text(cassette(*near_misses))

    result = llmbudget("scan", path, cwd=tmp_path)

    assert result.returncode == 0, result.stdout
    assert result.stdout == "No secrets found in 1 file.\n"


def test_environment_credentials_are_found(tmp_path: Path) -> None:
    token, short = "hunter2-correct-horse", "seven77"
    path = tmp_path / "cassettes" / "t.json"
    path.parent.mkdir()
    path.write_text(
        '{"interactions": [\n'
        f'  {{"response": {{"body": {{"string": "echo {token}"}}}}}},\n'
        f'  {{"response": {{"body": {{"string": "{short} and also-not-a-secret-x"}}}}}}\n'
        "]}\n"
    )
    env = clean_env(FOO_TOKEN=token, FOO_KEY=short, PLAIN_VALUE="also-not-a-secret-x")

    result = llmbudget("scan", cwd=tmp_path, env=env)

    assert result.returncode == 1
    assert result.stdout.splitlines()[0] == "cassettes/t.json:2: env:FOO_TOKEN (hunte…)"
    assert "1 secret found in 1 of 1 file scanned." in result.stdout
    assert token not in result.stdout
    # Without the variable, the same file is clean: the value itself looks like nothing.
    assert llmbudget("scan", cwd=tmp_path).returncode == 0


def test_default_is_every_cassettes_folder_under_the_cwd(tmp_path: Path) -> None:
    key = KEYS["anthropic-key"]
    planted = {
        "tests/cassettes/test_a/leak.yaml": cassette(key),
        "tests/unit/cassettes/clean.yml": cassette("nothing here"),
        "tests/cassettes/notes.txt": key,  # not a cassette file
        "docs/example.yaml": cassette(key),  # not in a cassettes folder
        ".venv/lib/cassettes/vendored.yaml": cassette(key),  # someone else's
        "venv/pyvenv.cfg": "home = /usr/bin\n",
        "venv/lib/cassettes/vendored.yaml": cassette(key),
    }
    for name, text in planted.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)

    result = llmbudget("scan", cwd=tmp_path)

    assert result.returncode == 1
    assert result.stdout.splitlines()[:2] == [
        f"tests/cassettes/test_a/leak.yaml:{BODY_LINE}: anthropic-key (sk-ant…)",
        "1 secret found in 1 of 2 files scanned.",
    ]

    (tmp_path / "tests/cassettes/test_a/leak.yaml").write_text(cassette("fixed"))
    clean = llmbudget("scan", cwd=tmp_path)
    assert clean.returncode == 0
    assert clean.stdout == (
        "No secrets found in 2 files under tests/cassettes, tests/unit/cassettes.\n"
    )


def test_a_file_named_explicitly_is_scanned_whatever_its_suffix(tmp_path: Path) -> None:
    (tmp_path / "dump.txt").write_text("x\n" + KEYS["groq-key"] + "\n")
    result = llmbudget("scan", "dump.txt", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stdout.startswith("dump.txt:2: groq-key (gsk_")


def test_python_dash_m_runs_the_same_command(tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text(cassette(KEYS["xai-key"]))
    result = subprocess.run(
        [sys.executable, "-m", "pytest_llmbudget", "scan", "."],
        cwd=tmp_path,
        env=clean_env(),
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
        check=False,
    )
    assert result.returncode == 1
    assert result.stdout.startswith(f"c.yaml:{BODY_LINE}: xai-key (xai-")


def test_a_missing_path_is_a_usage_error(tmp_path: Path) -> None:
    result = llmbudget("scan", "nowhere", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == "llmbudget scan: error: nowhere: no such file or directory\n"


def test_no_cassettes_folder_is_clean(tmp_path: Path) -> None:
    result = llmbudget("scan", cwd=tmp_path)
    assert result.returncode == 0
    assert "No cassettes folder" in result.stdout


@pytest.mark.parametrize("command", ["scan", "prices", "history"])
def test_help(command: str, tmp_path: Path) -> None:
    result = llmbudget(command, "--help", cwd=tmp_path)
    assert result.returncode == 0
    assert result.stdout.startswith(f"usage: llmbudget {command} ")


def test_the_recorded_corpus_scans_clean(tmp_path: Path) -> None:
    if not CORPUS.is_dir():
        pytest.skip(f"the shared corpus is not checked out next to the project ({CORPUS})")
    count = sum(1 for _ in CORPUS.rglob("*.yaml"))
    assert count > 70

    result = llmbudget("scan", CORPUS, cwd=tmp_path)

    assert result.returncode == 0, result.stdout
    assert result.stdout == f"No secrets found in {count} files.\n"


def test_the_example_project_scans_clean() -> None:
    result = llmbudget("scan", cwd=EXAMPLES.parent)
    assert result.returncode == 0, result.stdout
    count = sum(1 for _ in EXAMPLES.rglob("*.yaml"))
    assert result.stdout == f"No secrets found in {count} files under cassettes.\n"


# -- the detectors, in process ---------------------------------------------------


def test_one_secret_is_one_finding_named_by_its_most_specific_kind() -> None:
    key = KEYS["openai-key"]
    text = f"a\nb: Bearer {key}\n"
    findings = leaks.find(text, environ={"OPENAI_API_KEY": key})
    assert findings == [leaks.Finding("<text>", 2, "openai-key", key[:6] + "…")]


def test_a_key_after_an_escape_is_found_but_not_one_inside_a_word() -> None:
    key = KEYS["google-api-key"]
    text = f'"body": "line one\\n{key}\\n"\nx{key}\nuri: /v1?q=key%3D{key}\n'
    findings = leaks.find(text, environ={})
    assert [(finding.line, finding.kind) for finding in findings] == [
        (1, "google-api-key"),
        (3, "google-api-key"),
    ]


def test_a_short_secret_is_masked_harder() -> None:
    assert leaks.mask("abcdefgh") == "ab…"
    assert leaks.mask("AKIA" + "Z" * 16) == "AKIAZ…"
    assert leaks.mask("a" * 40) == "aaaaaa…"


def test_the_env_value_redacted_is_not_a_credential() -> None:
    assert leaks.env_credentials({"X_KEY": "REDACTED", "Y_SECRET": "longenough"}) == {
        "longenough": "Y_SECRET"
    }


def test_a_reader_that_stops_early_keeps_the_exit_status(tmp_path: Path) -> None:
    """`llmbudget scan | head -1`: the pipe closes before the findings are all out; still 1."""
    path = tmp_path / "cassettes" / "test_bot" / "test_reply.yaml"
    path.parent.mkdir(parents=True)
    path.write_text(cassette(*(f'{{"leak": "{KEYS["groq-key"]}"}}' for _ in range(5000))))
    scan = subprocess.Popen(
        [str(LLMBUDGET), "scan"],
        cwd=tmp_path,
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert scan.stdout is not None
    assert scan.stderr is not None
    first = scan.stdout.readline()
    scan.stdout.close()  # what head does after its line: far more than a pipe's buffer is left
    status = scan.wait(timeout=120)
    error = scan.stderr.read()
    scan.stderr.close()
    assert first.startswith(f"cassettes/test_bot/test_reply.yaml:{BODY_LINE}: groq-key".encode())
    assert status == 1
    assert error == b"", "no traceback, no 'Exception ignored'"
