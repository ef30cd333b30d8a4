"""The team ledger on PostgreSQL: one daily budget for every process and host that shares it.

Against a real server (tests/pgserver.py) and the provider stand-in: what
matters is what reaches the provider, counted by the stand-in, while several
pytest processes, each its own "machine" (its own rootdir), spend at once.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from decimal import Decimal
from pathlib import Path

import psycopg
from helpers import FLAT_PRICE, PROLOGUE
from standin import StandIn

# Each call costs $0.20 (FLAT_PRICE), whatever the model.
CALLS = """
import openai

def ask(text):
    client = openai.OpenAI(base_url=URL + "/v1", api_key=KEY, max_retries=0)
    return client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": text}])
"""


def _machine(root: Path, name: str, calls: int) -> Path:
    """One machine's project: a rootdir whose one test makes ``calls`` live calls."""
    folder = root / name
    folder.mkdir()
    (folder / "pytest.ini").write_text("[pytest]\n")
    (folder / "conftest.py").write_text(FLAT_PRICE)
    body = "\n".join(f"    ask('{name} call {n}')" for n in range(calls))
    source = PROLOGUE + textwrap.dedent(CALLS) + f"\n\ndef test_spend():\n{body}\n"
    (folder / "test_spend.py").write_text(source)
    return folder


def _pytest(folder: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    import os

    return subprocess.Popen(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--llm-record=rewrite", *args],
        cwd=folder,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **(env or {})},
    )


def _rows(url: str) -> list[tuple[str, Decimal]]:
    with psycopg.connect(url) as connection:
        return [
            (str(run), Decimal(cost))
            for run, cost in connection.execute("SELECT run_id, cost_usd FROM llmbudget_calls")
        ]


def test_live_calls_go_to_the_team_ledger_whose_schema_is_versioned(
    tmp_path: Path, standin: StandIn, postgres_url: str
) -> None:
    folder = _machine(tmp_path, "laptop", calls=2)
    done = _pytest(folder, f"--llm-ledger={postgres_url}")
    output, _ = done.communicate(timeout=120)

    assert done.returncode == 0, output
    assert standin.hits == 2
    rows = _rows(postgres_url)
    assert [cost for _run, cost in rows] == [Decimal("0.2"), Decimal("0.2")]
    assert len({run for run, _cost in rows}) == 1
    with psycopg.connect(postgres_url) as connection:
        assert connection.execute("SELECT version FROM llmbudget_schema").fetchall() == [(1,)]
    assert not (folder / ".llmbudget" / "ledger.sqlite").exists()


def test_a_daily_budget_holds_across_machines_spending_at_once(
    tmp_path: Path, standin: StandIn, postgres_url: str
) -> None:
    """Three machines, 4 calls of $0.20 each, one $1.00 daily budget: 5 calls fit.

    Each admission sees the spend of the calls that have finished, so each process may
    have one more call in flight: at most 5 + 2 calls reach the provider.
    """
    password_url = postgres_url.replace("postgres@", "postgres:pg-s3cret@", 1)
    machines = [_machine(tmp_path, f"runner{n}", calls=4) for n in range(3)]
    runs = [
        _pytest(folder, "--llm-daily-budget=1.00", env={"LLMBUDGET_LEDGER": password_url})
        for folder in machines
    ]
    outputs = [run.communicate(timeout=180)[0] for run in runs]

    assert 5 <= standin.hits <= 7, outputs
    rows = _rows(postgres_url)
    assert len(rows) == standin.hits
    assert sum(cost for _run, cost in rows) == Decimal("0.2") * standin.hits
    refused = [output for output in outputs if "LLMBudgetExceeded" in output]
    assert refused, "12 calls were asked for and at most 7 fit: some machine was refused"
    assert all("--llm-daily-budget" in output for output in refused)
    assert not any("pg-s3cret" in output for output in outputs)


def test_max_calls_holds_across_xdist_workers_on_the_team_ledger(
    tmp_path: Path, standin: StandIn, postgres_url: str
) -> None:
    folder = tmp_path / "xdist"
    folder.mkdir()
    (folder / "pytest.ini").write_text("[pytest]\n")
    tests = "\n".join(f"def test_{n}():\n    ask('call {n}')\n" for n in range(6))
    (folder / "test_many.py").write_text(PROLOGUE + textwrap.dedent(CALLS) + "\n" + tests)
    done = _pytest(folder, "-n", "2", "--llm-max-calls=3", f"--llm-ledger={postgres_url}")
    output, _ = done.communicate(timeout=180)

    assert standin.hits == 3, output
    assert "3 failed, 3 passed" in output
    assert len(_rows(postgres_url)) == 3


def test_a_ledger_server_that_cannot_be_reached_refuses_live_calls_by_name(
    tmp_path: Path, standin: StandIn
) -> None:
    """Never a silent fallback: no live call without its ledger; the password never shown."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nothing listens there
    folder = _machine(tmp_path, "offline", calls=1)
    url = f"postgresql://ledger:pg-s3cret@127.0.0.1:{port}/costs"
    done = _pytest(folder, f"--llm-ledger={url}")
    output, _ = done.communicate(timeout=120)

    assert done.returncode == 1, output
    assert standin.hits == 0
    assert f"LedgerUnavailable: the team ledger at 127.0.0.1:{port}/costs cannot be used" in output
    assert "live calls are refused" in output
    assert "pg-s3cret" not in output


def test_a_replay_needs_no_ledger_server(tmp_path: Path, standin: StandIn) -> None:
    folder = _machine(tmp_path, "ci", calls=1)
    recorded = _pytest(folder)
    recorded.communicate(timeout=120)
    assert recorded.returncode == 0
    url = "postgresql://ledger@127.0.0.1:9/costs"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "--llm-record=none",
            f"--llm-ledger={url}",
        ],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout
    assert standin.hits == 1


def test_history_reads_the_team_ledger(tmp_path: Path, standin: StandIn, postgres_url: str) -> None:
    folder = _machine(tmp_path, "laptop", calls=3)
    done = _pytest(folder, f"--llm-ledger={postgres_url}")
    done.communicate(timeout=120)
    assert done.returncode == 0

    history = subprocess.run(
        [sys.executable, "-m", "pytest_llmbudget", "history", "--ledger", postgres_url],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert history.returncode == 0, history.stderr
    assert "from postgresql://postgres@127.0.0.1" in history.stdout
    assert "Total: 3 live calls, $0.60." in history.stdout


def test_ledger_migrate_copies_a_machine_ledger_once(
    tmp_path: Path, standin: StandIn, postgres_url: str
) -> None:
    folder = _machine(tmp_path, "laptop", calls=2)
    done = _pytest(folder)  # the machine's own SQLite ledger
    done.communicate(timeout=120)
    assert done.returncode == 0

    def migrate() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "pytest_llmbudget", "ledger", "migrate"],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            env={**__import__("os").environ, "LLMBUDGET_LEDGER": postgres_url},
        )

    first = migrate()
    assert first.returncode == 0, first.stderr
    assert "Copied 2 live calls ($0.40 in all in ledger.sqlite) into postgresql://" in first.stdout
    again = migrate()
    assert again.returncode == 0, again.stderr
    assert "Copied 0 live calls" in again.stdout
    assert "2 already there." in again.stdout
    assert [cost for _run, cost in _rows(postgres_url)] == [Decimal("0.2"), Decimal("0.2")]


def test_a_ledger_connection_lost_mid_run_refuses_the_next_live_call(
    tmp_path: Path, standin: StandIn, postgres_url: str
) -> None:
    """The server drops the run's connections between two calls: the next one is refused."""
    folder = _machine(tmp_path, "flaky", calls=0)
    (folder / "test_spend.py").write_text(
        PROLOGUE
        + textwrap.dedent(CALLS)
        + textwrap.dedent(
            f"""
            import psycopg

            def test_spend():
                ask("before")
                with psycopg.connect({postgres_url!r}, autocommit=True) as admin:
                    admin.execute(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                        " WHERE pid <> pg_backend_pid() AND datname = current_database()"
                    )
                ask("after")
            """
        )
    )
    done = _pytest(folder, f"--llm-ledger={postgres_url}")
    output, _ = done.communicate(timeout=120)

    assert done.returncode == 1, output
    assert "LedgerUnavailable: the team ledger at 127.0.0.1:" in output
    assert standin.hits == 1


def test_the_ini_key_names_the_team_ledger(
    tmp_path: Path, standin: StandIn, postgres_url: str
) -> None:
    folder = _machine(tmp_path, "configured", calls=1)
    (folder / "pytest.ini").write_text(f"[pytest]\nllm_ledger = {postgres_url}\n")
    done = _pytest(folder)
    output, _ = done.communicate(timeout=120)
    assert done.returncode == 0, output
    assert len(_rows(postgres_url)) == 1
