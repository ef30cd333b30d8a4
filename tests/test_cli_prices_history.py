"""`llmbudget prices` and `llmbudget history`, and how both find the user's pytest project."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from standin import StandIn

from pytest_llmbudget.cli import main
from pytest_llmbudget.cli.common import UsageProblemError
from pytest_llmbudget.cli.project import find_project
from pytest_llmbudget.ledger import Ledger, first_day
from pytest_llmbudget.records import CallRecord, Usage

LLMBUDGET = Path(sys.executable).parent / "llmbudget"

OVERRIDES = """
[models."gpt-4o-mini"]
input = 1.5
output = 6
cached_input = 0.5

[models."house-model"]
input = 0.2
output = 0.4
"""


def llmbudget(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LLMBUDGET), *map(str, args)],
        cwd=cwd,
        env={**os.environ, "PYTHONUTF8": "1"},
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
        check=False,
    )


def row(output: str, *first: str) -> list[str]:
    """The cells of the one table row that starts with the cells ``first``."""
    [line] = [line for line in output.splitlines() if line.split()[: len(first)] == list(first)]
    return line.split()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A pytest project with price overrides and a free host, and a tests/ folder to run from."""
    (tmp_path / "pytest.ini").write_text(
        "[pytest]\nllm_prices = config/prices.toml\nllm_free_hosts =\n    gateway.internal\n"
    )
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "prices.toml").write_text(OVERRIDES)
    (tmp_path / "tests").mkdir()
    return tmp_path


# -- prices ------------------------------------------------------------------------


def test_prices_from_genai_prices(tmp_path: Path) -> None:
    result = llmbudget("prices", "gpt-4o-mini", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert row(result.stdout, "gpt-4o-mini") == [
        "gpt-4o-mini",
        "openai",
        "$0.15",
        "$0.60",
        "$0.075",
        "genai-prices",
    ]
    assert "USD per million tokens" in result.stdout


def test_an_override_from_the_ini_changes_the_price(project: Path) -> None:
    result = llmbudget(
        "prices", "gpt-4o-mini", "openai/gpt-4o-mini-2024-07-18", cwd=project / "tests"
    )
    assert result.returncode == 0, result.stderr
    expected = ["any", "$1.50", "$6.00", "$0.50", "override"]
    assert row(result.stdout, "gpt-4o-mini")[1:] == expected
    assert row(result.stdout, "openai/gpt-4o-mini-2024-07-18")[1:] == expected
    assert f"override: from {project / 'config' / 'prices.toml'}" in result.stdout
    assert "Calls to gateway.internal cost 0 (ini llm_free_hosts)." in result.stdout


def test_the_prices_option_wins_over_the_ini(project: Path) -> None:
    (project / "other.json").write_text('{"models": {"gpt-4o-mini": {"input": 9, "output": 10}}}')
    result = llmbudget(
        "prices", "--prices", "other.json", "gpt-4o-mini", "claude-sonnet-4-5", cwd=project
    )
    assert result.returncode == 0, result.stderr
    # No cached_input: cached input costs what input costs.
    assert row(result.stdout, "gpt-4o-mini")[1:] == ["any", "$9.00", "$10.00", "$9.00", "override"]
    claude = row(result.stdout, "claude-sonnet-4-5")
    assert claude[1] == "anthropic"
    assert claude[-1] == "genai-prices"


def test_without_a_model_the_overrides_are_listed(project: Path) -> None:
    result = llmbudget("prices", cwd=project)
    assert result.returncode == 0
    assert f"Price overrides from {project / 'config' / 'prices.toml'}" in result.stdout
    assert row(result.stdout, "house-model")[1:] == ["any", "$0.20", "$0.40", "$0.20", "override"]
    assert "llmbudget prices gpt-4o-mini" in result.stdout


def test_without_a_model_or_overrides_it_says_how_to_ask(tmp_path: Path) -> None:
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    result = llmbudget("prices", cwd=tmp_path)
    assert result.returncode == 0
    assert result.stdout.splitlines() == [
        "No price overrides (ini llm_prices is not set); prices come from genai-prices.",
        "Ask for models by name: llmbudget prices gpt-4o-mini claude-sonnet-4-5",
    ]


def test_an_unknown_model_exits_1(tmp_path: Path) -> None:
    result = llmbudget("prices", "gpt-4o-mini", "no-such-model-9000", cwd=tmp_path)
    assert result.returncode == 1
    assert row(result.stdout, "no-such-model-9000") == [
        "no-such-model-9000",
        "-",
        "-",
        "-",
        "-",
        "unknown",
    ]
    assert "no-such-model-9000: no price known" in result.stdout
    assert row(result.stdout, "gpt-4o-mini")[2] == "$0.15", "known models are still shown"


def test_a_provider_picks_genai_prices_entry(tmp_path: Path) -> None:
    result = llmbudget("prices", "--provider", "openai", "text-embedding-3-small", cwd=tmp_path)
    assert result.returncode == 0, result.stdout
    assert row(result.stdout, "text-embedding-3-small")[1:3] == ["openai", "$0.02"]

    typo = llmbudget("prices", "--provider", "opnai", "gpt-4o-mini", cwd=tmp_path)
    assert typo.returncode == 2
    assert typo.stderr.startswith("llmbudget prices: error: --provider 'opnai' is unknown")


@pytest.mark.parametrize("blank", ["", "  "])
def test_an_empty_model_name_is_a_usage_error(tmp_path: Path, blank: str) -> None:
    result = llmbudget("prices", "gpt-4o-mini", blank, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == (
        f"llmbudget prices: error: MODEL {blank!r}: a model name cannot be empty\n"
    )


def test_a_tiered_price_is_marked(tmp_path: Path) -> None:
    result = llmbudget("prices", "gemini-2.5-pro", cwd=tmp_path)
    assert result.returncode == 0
    assert row(result.stdout, "gemini-2.5-pro")[2] == "$1.25*"
    assert "* base tier: above 200,000 input tokens" in result.stdout


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[models.x\ninput = 1", "invalid TOML"),
        ('[models."x"]\ninput = 1\n', "missing field 'output'"),
        ('[models."x"]\ninput = -1\noutput = 1\n', "must not be negative"),
    ],
)
def test_a_broken_prices_file_is_a_usage_error(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "prices.toml").write_text(text)
    result = llmbudget("prices", "--prices", "prices.toml", "gpt-4o-mini", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith("llmbudget prices: error: prices.toml: ")
    assert message in result.stderr


def test_a_missing_prices_file_named_in_the_ini_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "tox.ini").write_text("[pytest]\nllm_prices = gone.toml\n")
    result = llmbudget("prices", "gpt-4o-mini", cwd=tmp_path)
    assert result.returncode == 2
    assert f"{tmp_path / 'gone.toml'}: no such file" in result.stderr


def test_python_dash_m_prices(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pytest_llmbudget", "prices", "o3"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0
    assert row(result.stdout, "o3")[1:5] == ["openai", "$2.00", "$8.00", "$0.50"]


# -- project discovery -----------------------------------------------------------


def test_the_nearest_pytest_config_wins_and_its_folder_is_the_rootdir(tmp_path: Path) -> None:
    (tmp_path / "pytest.ini").write_text("[pytest]\nllm_prices = top.toml\n")
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "pyproject.toml").write_text("[project]\nname = 'x'\n")  # no pytest settings
    (sub / "setup.cfg").write_text("[metadata]\nname = x\n")  # neither
    project = find_project(sub)
    assert (project.rootdir, project.inifile) == (tmp_path, tmp_path / "pytest.ini")
    assert project.path("llm_prices") == tmp_path / "top.toml"

    (sub / "setup.cfg").write_text("[tool:pytest]\nllm_free_hosts =\n  a.local\n  b.local\n")
    project = find_project(sub)
    assert project.rootdir == sub
    assert project.ini_lines("llm_free_hosts") == ("a.local", "b.local")

    (sub / "pyproject.toml").write_text(
        "[tool.pytest.ini_options]\nllm_prices = 'p.json'\nllm_free_hosts = ['c.local']\n"
    )
    project = find_project(sub)
    assert project.inifile == sub / "pyproject.toml", "pyproject.toml comes before setup.cfg"
    assert project.ini_lines("llm_free_hosts") == ("c.local",)
    assert project.path("llm_prices") == sub / "p.json"


def test_native_toml_settings_and_pytest_ini_precedence(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.pytest]\nllm_free_hosts = ['n.local']\n")
    assert find_project(tmp_path).ini_lines("llm_free_hosts") == ("n.local",)
    (tmp_path / "pytest.ini").write_text("")  # counts even when empty, and comes first
    project = find_project(tmp_path)
    assert (project.inifile, project.ini_lines("llm_free_hosts")) == (tmp_path / "pytest.ini", ())


def test_without_a_config_a_pyproject_or_the_start_is_the_rootdir(tmp_path: Path) -> None:
    sub = tmp_path / "a" / "b"
    sub.mkdir(parents=True)
    assert find_project(sub).rootdir in (sub, *sub.parents)
    (tmp_path / "a" / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    assert find_project(sub).rootdir == tmp_path / "a"
    assert find_project(sub, rootdir=sub).rootdir == sub


def test_a_broken_config_file_and_a_missing_rootdir_are_usage_errors(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.pytest\n")
    with pytest.raises(UsageProblemError, match=r"pyproject\.toml: cannot read pytest's settings"):
        find_project(tmp_path)
    with pytest.raises(UsageProblemError, match="no such directory"):
        find_project(rootdir=tmp_path / "nowhere")


# -- history -----------------------------------------------------------------------


def record(model: str | None, cost: str, provider: str = "openai") -> CallRecord:
    return CallRecord(
        nodeid="tests/test_bot.py::test_reply",
        provider=provider,
        api="chat",
        host="api.example.com",
        endpoint="/v1/chat/completions",
        method="POST",
        url="https://api.example.com/v1/chat/completions",
        live=True,
        status=200,
        duration_s=0.3,
        recorded_at=None,
        cassette=None,
        model=model,
        usage=Usage(input_tokens=1000, output_tokens=200),
        cost_usd=Decimal(cost),
    )


@pytest.fixture
def ledger_project(tmp_path: Path) -> Path:
    """A project whose ledger holds calls today, yesterday, three days and thirty days ago."""
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    today = dt.datetime.now(dt.UTC).replace(hour=0, minute=0, second=1, microsecond=0)
    ledger = Ledger(tmp_path / ".llmbudget" / "ledger.sqlite", run_id="r1")
    ledger.add(record("gpt-4o-mini", "0.001"), today)
    ledger.add(record("gpt-4o-mini", "0.002"), today - dt.timedelta(days=1))
    ledger.add(record("claude-haiku-4-5", "0.01", "anthropic"), today - dt.timedelta(days=3))
    ledger.add(record(None, "0.5"), today - dt.timedelta(days=30))
    ledger.close()
    return tmp_path


def day(days_ago: int) -> str:
    return (dt.datetime.now(dt.UTC).date() - dt.timedelta(days=days_ago)).isoformat()


def test_history_per_day_and_per_model(ledger_project: Path) -> None:
    result = llmbudget("history", cwd=ledger_project)

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    ledger = ledger_project / ".llmbudget" / "ledger.sqlite"
    assert lines[0] == f"Live LLM spend in the last 7 days (UTC, since {day(6)}), from {ledger}:"
    assert row(result.stdout, day(0))[1:] == ["1", "$0.0010"]
    assert row(result.stdout, day(1))[1:] == ["1", "$0.0020"]
    assert row(result.stdout, day(3))[1:] == ["1", "$0.010"]
    assert day(30) not in result.stdout
    assert row(result.stdout, "openai") == ["openai", "gpt-4o-mini", "2", "2,000", "400", "$0.0030"]
    assert row(result.stdout, "anthropic") == [
        "anthropic",
        "claude-haiku-4-5",
        "1",
        "1,000",
        "200",
        "$0.010",
    ]
    assert lines[-1] == "Total: 3 live calls, $0.013."


def test_history_days_limits_the_window(ledger_project: Path) -> None:
    today = llmbudget("history", "--days", "1", cwd=ledger_project)
    assert today.returncode == 0
    assert today.stdout.splitlines()[-1] == "Total: 1 live call, $0.0010."
    assert day(1) not in today.stdout

    month = llmbudget("history", "--days", "31", cwd=ledger_project)
    assert row(month.stdout, day(30))[1:] == ["1", "$0.50"]
    assert row(month.stdout, "openai", "(unknown)")[2:] == ["1", "1,000", "200", "$0.50"]
    assert month.stdout.splitlines()[-1] == "Total: 4 live calls, $0.51."


def test_history_with_no_call_in_the_window(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ledger = Ledger(tmp_path / "l.sqlite", run_id="r")
    ledger.add(record("m", "1"), dt.datetime.now(dt.UTC) - dt.timedelta(days=10))
    ledger.close()
    assert main(["history", "--ledger", str(tmp_path / "l.sqlite"), "--days", "2"]) == 0
    out = capsys.readouterr().out
    assert (
        out.splitlines()[-1] == "No live calls in the last 2 days; the ledger holds 1 older call."
    )


def test_history_without_a_ledger_says_so_and_creates_nothing(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.pytest.ini_options]\n")
    (tmp_path / "tests").mkdir()
    result = llmbudget("history", cwd=tmp_path / "tests")
    assert result.returncode == 0
    ledger = tmp_path / ".llmbudget" / "ledger.sqlite"
    assert result.stdout == f"No live calls recorded yet: no ledger at {ledger}.\n"
    assert not (tmp_path / ".llmbudget").exists()


def test_history_rootdir_option(
    ledger_project: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    result = llmbudget("history", "--rootdir", ledger_project, cwd=elsewhere)
    assert result.returncode == 0
    assert result.stdout.splitlines()[-1] == "Total: 3 live calls, $0.013."


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--ledger", "gone.sqlite"], "--ledger gone.sqlite: no such file"),
        (["--ledger", "junk.sqlite"], "junk.sqlite: not a readable pytest-llmbudget ledger"),
        (["--ledger", "empty.sqlite"], "empty.sqlite: not a readable pytest-llmbudget ledger"),
        (["--days", "0"], "argument --days: '0' is not a whole number of days"),
        (["--days", "1000000"], "argument --days: '1000000' days reach back before the year 1"),
        (["--days", "9" * 30], "days reach back before the year 1"),
    ],
)
def test_history_usage_errors(tmp_path: Path, args: list[str], message: str) -> None:
    (tmp_path / "junk.sqlite").write_text("this is not SQLite\n" * 100)
    (tmp_path / "empty.sqlite").write_bytes(b"")
    result = llmbudget("history", *args, cwd=tmp_path)
    assert result.returncode == 2
    assert message in result.stderr
    assert (tmp_path / "junk.sqlite").read_text() == "this is not SQLite\n" * 100


LIVE_TEST = """
import os

import requests


def test_reply():
    answer = requests.post(
        os.environ["STANDIN_URL"] + "/v1/chat/completions",
        json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]},
        timeout=10,
    )
    answer.raise_for_status()
"""


def test_history_ledger_is_taken_from_the_rootdir_as_llm_ledger_takes_it(
    tmp_path: Path, standin: StandIn
) -> None:
    """The same relative PATH, from the same subfolder, names the same file for both."""
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    tests = tmp_path / "tests"
    tests.mkdir()
    (tests / "test_bot.py").write_text(LIVE_TEST)
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "--llm-record=rewrite",
            "--llm-ledger=costs/ledger.sqlite",
        ],
        cwd=tests,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    ledger = tmp_path / "costs" / "ledger.sqlite"
    assert ledger.is_file(), "--llm-ledger is relative to the rootdir"
    assert standin.hits == 1

    result = llmbudget("history", "--ledger", "costs/ledger.sqlite", cwd=tests)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0].endswith(f", from {ledger}:")
    assert result.stdout.splitlines()[-1].startswith("Total: 1 live call, ")

    absolute = llmbudget("history", "--ledger", ledger, cwd=tmp_path / "tests")
    assert absolute.returncode == 0
    missing = llmbudget("history", "--ledger", "tests/costs/ledger.sqlite", cwd=tests)
    assert missing.returncode == 2
    assert missing.stderr == (
        "llmbudget history: error: --ledger tests/costs/ledger.sqlite: no such file "
        f"({tmp_path / 'tests' / 'costs' / 'ledger.sqlite'})\n"
    )


def test_first_day_counts_today() -> None:
    assert first_day(1, dt.date(2025, 3, 1)) == dt.date(2025, 3, 1)
    assert first_day(7, dt.date(2025, 3, 1)) == dt.date(2025, 2, 23)


def test_history_refuses_a_ledger_url_it_cannot_read_without_showing_its_password(
    tmp_path: Path,
) -> None:
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    result = llmbudget("history", "--ledger", "mysql://u:s3cret-pass@db/costs", cwd=tmp_path)
    assert result.returncode == 2
    assert "mysql://u:***@db/costs is not a ledger" in result.stderr
    assert "s3cret-pass" not in result.stderr + result.stdout
