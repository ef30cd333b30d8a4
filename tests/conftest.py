"""Shared fixtures: the provider stand-in and a clean environment for pytester runs.

The SDKs (and hypothesis, whose pytest plugin imports it at the end of every
run) are imported here, once, so in-process pytester runs, which drop the
modules first imported inside them, do not pay for importing them again.
"""

from __future__ import annotations

from collections.abc import Iterator

import aiohttp  # noqa: F401
import anthropic  # noqa: F401
import httpx  # noqa: F401
import httpx2  # noqa: F401
import hypothesis  # noqa: F401
import openai  # noqa: F401
import pytest
import requests  # noqa: F401
from google import genai  # noqa: F401
from standin import StandIn

# tests/data holds whole test suites that the tests copy into pytester runs.
collect_ignore_glob = ["data/*"]


@pytest.fixture(scope="session")
def standin_server() -> Iterator[StandIn]:
    with StandIn() as server:
        yield server


@pytest.fixture
def standin(standin_server: StandIn, monkeypatch: pytest.MonkeyPatch) -> StandIn:
    """The stand-in, reset, with its URL in STANDIN_URL for the inner test files."""
    standin_server.reset()
    monkeypatch.setenv("STANDIN_URL", standin_server.url)
    return standin_server


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A real PostgreSQL server for the team-ledger tests, started and stopped here."""
    from pgserver import running_server, server_binaries

    if server_binaries() is None:
        pytest.skip("no PostgreSQL server binaries here (initdb, pg_ctl): team ledger untested")
    with running_server() as url:
        yield url


@pytest.fixture
def postgres_url(postgres_server: str) -> str:
    """The server's URL, its ledger tables dropped: each test starts from an empty ledger."""
    import psycopg

    with psycopg.connect(postgres_server, autocommit=True) as connection:
        for table in ("llmbudget_calls", "llmbudget_admissions", "llmbudget_schema"):
            connection.execute(f"DROP TABLE IF EXISTS {table}")
    return postgres_server


@pytest.fixture(autouse=True)
def _outside_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    """Inner runs must not inherit CI's replay-only default unless a test asks for it."""
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    monkeypatch.delenv("LLMBUDGET_LEDGER", raising=False)
