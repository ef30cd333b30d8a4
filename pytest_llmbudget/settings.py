"""Options and ini keys, parsed once into a frozen Settings.

Each parser raises ``pytest.UsageError`` naming what is allowed, so a typo
stops the run at start (exit 4) instead of surfacing mid-suite.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple, TypeVar

import pytest

from pytest_llmbudget.limits import Limits
from pytest_llmbudget.recording.modes import CASSETTE_STYLES, RecordMode, default_mode

if TYPE_CHECKING:
    from pytest_llmbudget.scenarios import Scenario

_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off", ""})


def parse_record_mode(value: str, source: str = "--llm-record") -> RecordMode:
    try:
        return RecordMode(value.strip().lower())
    except ValueError:
        allowed = ", ".join(RecordMode.names())
        raise pytest.UsageError(
            f"{source}={value!r} is not a record mode; use one of: {allowed}"
        ) from None


def parse_bool(value: object, source: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise pytest.UsageError(f"{source}={value!r} is not a boolean; use true or false")


T = TypeVar("T")
UNKNOWN_MODEL_MODES = ("warn", "fail", "ignore")
DEFAULT_TEST_MAX_CALLS = 50


def parse_usd(value: object, source: str) -> Decimal:
    """A dollar amount >= 0, e.g. ``0.50``."""
    try:
        amount = Decimal(str(value).strip().lstrip("$"))
    except InvalidOperation:
        amount = Decimal("NaN")
    if not amount.is_finite() or amount < 0:
        raise pytest.UsageError(
            f"{source}={value!r} is not an amount in USD; use a number >= 0, e.g. 0.50"
        )
    return amount


def parse_count(value: object, source: str) -> int:
    """A whole number >= 0."""
    text = str(value).strip()
    if not text.isdigit():
        raise pytest.UsageError(f"{source}={value!r} is not a count; use a whole number >= 0")
    return int(text)


def _limit(
    config: pytest.Config, dest: str, source: str, parse: Callable[[object, str], T]
) -> T | None:
    """The option if given, else the ini key of the same name, else None."""
    raw = config.getoption(dest)
    name = source
    if raw is None and str(config.getini(dest) or "").strip():
        raw, name = config.getini(dest), dest
    return None if raw is None else parse(raw, name)


def read_limits(config: pytest.Config) -> Limits:
    def usd_limit(dest: str, source: str) -> Decimal | None:
        return _limit(config, dest, source, parse_usd)

    def count_limit(dest: str, source: str) -> int | None:
        return _limit(config, dest, source, parse_count)

    test_calls = count_limit("llm_test_max_calls", "--llm-test-max-calls")
    if test_calls is None:
        test_calls = DEFAULT_TEST_MAX_CALLS
    return Limits(
        budget_usd=usd_limit("llm_budget", "--llm-budget"),
        max_calls=count_limit("llm_max_calls", "--llm-max-calls"),
        max_cost_usd=usd_limit("llm_max_cost", "--llm-max-cost"),
        test_budget_usd=usd_limit("llm_test_budget", "--llm-test-budget"),
        test_max_calls=test_calls or None,  # 0 means no limit
        daily_budget_usd=usd_limit("llm_daily_budget", "--llm-daily-budget"),
    )


def parse_choice(value: str, allowed: tuple[str, ...], source: str) -> str:
    text = value.strip().lower()
    if text not in allowed:
        raise pytest.UsageError(
            f"{source}={value!r} is not allowed; use one of: {', '.join(allowed)}"
        )
    return text


def _lines(config: pytest.Config, name: str) -> tuple[str, ...]:
    raw = config.getini(name)
    items = raw if isinstance(raw, list) else str(raw).split()
    return tuple(item.strip() for item in items if str(item).strip())


class Settings(NamedTuple):
    """Every option of the run, read and checked once (NamedTuple: see `Limits`)."""

    record_mode: RecordMode
    # Where the mode came from: an option (--llm-record, --record-mode, --block-network),
    # the ini key llm_record, "CI" (the CI-aware default), or "default".
    record_mode_source: str
    cassette_dir: Path | None
    hosts: frozenset[str]
    match_ignore: tuple[str, ...]
    match_ignore_url: tuple[str, ...]
    record_errors: bool
    cassette_style: str
    redact_headers: tuple[str, ...]
    rootdir: Path
    prices_file: Path | None
    free_hosts: frozenset[str]
    unknown_model: str
    report_path: Path | None
    junit_path: Path | None
    html_path: Path | None
    limits: Limits
    ledger_path: Path
    # A team ledger on PostgreSQL (--llm-ledger=postgresql://..., or LLMBUDGET_LEDGER).
    ledger_url: str | None
    # The models the HTML page prices the suite on (ini llm_what_if), checked.
    what_if: tuple[Scenario, ...] = ()

    @classmethod
    def from_config(cls, config: pytest.Config) -> Settings:
        rootdir = Path(config.rootpath)
        mode, source = _record_mode(config)
        cassette_dir_option = config.getoption("llm_cassette_dir")
        cassette_dir = rootdir / cassette_dir_option if cassette_dir_option else None
        ledger = ledger_value(config.getoption("llm_ledger"), str(config.getini("llm_ledger")))
        return cls(
            record_mode=mode,
            record_mode_source=source,
            cassette_dir=cassette_dir,
            hosts=frozenset(host.lower() for host in _lines(config, "llm_hosts")),
            match_ignore=_lines(config, "llm_match_ignore"),
            match_ignore_url=url_parts(_lines(config, "llm_match_ignore_url")),
            record_errors=parse_bool(config.getini("llm_record_errors"), "llm_record_errors"),
            cassette_style=parse_choice(
                str(config.getini("llm_cassette_style") or "json"),
                CASSETTE_STYLES,
                "llm_cassette_style",
            ),
            redact_headers=_lines(config, "llm_redact_headers"),
            rootdir=rootdir,
            prices_file=_path(rootdir, str(config.getini("llm_prices") or "")),
            free_hosts=frozenset(host.lower() for host in _lines(config, "llm_free_hosts")),
            unknown_model=_unknown_model(config),
            report_path=_path(Path.cwd(), config.getoption("llm_report") or ""),
            junit_path=_path(Path.cwd(), config.getoption("llm_junit") or ""),
            html_path=_path(Path.cwd(), config.getoption("llm_html") or ""),
            limits=read_limits(config),
            ledger_path=_ledger(rootdir, ledger) or rootdir / ".llmbudget" / "ledger.sqlite",
            ledger_url=ledger if is_database_url(ledger) else None,
            what_if=_what_if(config),
        )


def _what_if(config: pytest.Config) -> tuple[Scenario, ...]:
    from pytest_llmbudget.scenarios import configured

    try:
        return configured(_lines(config, "llm_what_if"))
    except ValueError as error:
        raise pytest.UsageError(f"llm_what_if: {error}") from None


def _ledger(rootdir: Path, value: str) -> Path | None:
    try:
        return ledger_file(rootdir, value)
    except ValueError as error:
        raise pytest.UsageError(f"--llm-ledger: {error}") from None


def _record_mode(config: pytest.Config) -> tuple[RecordMode, str]:
    """``--llm-record``, else pytest-recording's options (when we serve them), else the ini
    key, else the CI-aware default; and which of them decided."""
    option = config.getoption("llm_record")
    if option is not None:
        return parse_record_mode(option), "--llm-record"
    from pytest_llmbudget.vcrcompat.options import record_mode

    vcr_mode = record_mode(config)
    if vcr_mode is not None:
        return vcr_mode
    if config.getini("llm_record"):
        return parse_record_mode(str(config.getini("llm_record")), "llm_record"), "llm_record"
    mode = default_mode(os.environ)
    return mode, "CI" if mode is RecordMode.NONE else "default"


def url_parts(parts: tuple[str, ...]) -> tuple[str, ...]:
    """``llm_match_ignore_url``: scheme, host, port, query, or ``query.NAME`` for one parameter."""
    from pytest_llmbudget.recording.canonical import URL_PARTS

    for part in parts:
        name = part.partition(".")[2] if part.startswith("query.") else ""
        if part not in URL_PARTS and not name:
            raise pytest.UsageError(
                f"llm_match_ignore_url: {part!r} is not a part of a URL; use one of: "
                f"{', '.join(URL_PARTS)}, or query.NAME for one query parameter"
            )
    return parts


def _unknown_model(config: pytest.Config) -> str:
    """The option, else the ini key; a bad value is named as the user wrote it."""
    option = config.getoption("llm_unknown_model")
    if option:
        return parse_choice(option, UNKNOWN_MODEL_MODES, "--llm-unknown-model")
    ini = str(config.getini("llm_unknown_model") or "").strip()
    return parse_choice(ini or "warn", UNKNOWN_MODEL_MODES, "llm_unknown_model")


# Where the ledger's URL comes from when --llm-ledger is not given: a CI secret in the
# environment keeps the database password out of command lines and files.
LEDGER_ENV = "LLMBUDGET_LEDGER"
DATABASE_SCHEMES = ("postgresql", "postgres")


def ledger_value(option: str | None, ini: str = "") -> str:
    """``--llm-ledger``, else the ``LLMBUDGET_LEDGER`` environment variable, else the ini
    key ``llm_ledger``, else empty (the default file)."""
    return (option or os.environ.get(LEDGER_ENV) or ini or "").strip()


def is_database_url(value: str) -> bool:
    """A PostgreSQL ledger URL: the team ledger (pg_ledger.py)."""
    scheme, sep, _rest = value.partition("://")
    return bool(sep) and scheme.lower() in DATABASE_SCHEMES


def ledger_file(base: Path, value: str) -> Path | None:
    """``--llm-ledger``: a SQLite file (relative to ``base``), or ``sqlite:///PATH``; None for
    the default file, or for a PostgreSQL URL (the team ledger).

    Any other URL is refused with ``ValueError``: taken as a path,
    ``mysql://user:secret@host/db`` would become a SQLite file of that name in the
    working directory, its password in the file name. The message shows the URL
    with its password hidden.
    """
    value = value.strip()
    scheme, sep, rest = value.partition("://")
    if not sep or not scheme.replace("+", "").replace(".", "").replace("-", "").isalnum():
        return _path(base, value)
    if is_database_url(value):
        return None
    if scheme.lower() == "sqlite" and rest.startswith("/"):
        return _path(base, rest[1:]) if rest[1:] else None
    from urllib.parse import urlsplit

    parts = urlsplit(value)
    shown = value
    if parts.password:
        shown = value.replace(f":{parts.password}@", ":***@", 1)
    raise ValueError(
        f"{shown} is not a ledger this plugin can use: give a SQLite file path "
        "(default .llmbudget/ledger.sqlite under the rootdir), sqlite:///PATH, or a "
        f"postgresql:// URL; {scheme}:// ledgers are not supported"
    )


def _path(base: Path, value: str) -> Path | None:
    value = value.strip()
    return base / value if value else None


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("llmbudget", "LLM budget: record, replay and cap LLM calls")
    group.addoption(
        "--llm-record",
        dest="llm_record",
        metavar="MODE",
        default=None,
        help=(
            "none: replay only; once: record cassettes that do not exist yet; "
            "new: replay what matches, record the rest; rewrite: record afresh. "
            "Default: none when CI is set, else new."
        ),
    )
    group.addoption(
        "--llm-cassette-dir",
        dest="llm_cassette_dir",
        metavar="DIR",
        default=None,
        help="Folder for cassettes, relative to the rootdir "
        "(default: cassettes/ beside each test file).",
    )
    group.addoption(
        "--llm-report",
        dest="llm_report",
        metavar="PATH",
        default=None,
        help="Write the run's LLM costs as JSON (schema version 1) to PATH.",
    )
    group.addoption(
        "--llm-junit",
        dest="llm_junit",
        metavar="PATH",
        default=None,
        help="Write a JUnit XML file with one testcase per budget check, failed when violated.",
    )
    group.addoption(
        "--llm-html",
        dest="llm_html",
        metavar="PATH",
        default=None,
        help="Write the run's LLM costs as one self-contained HTML page (charts, tables, "
        "spend per day from the ledger) to PATH.",
    )
    group.addoption(
        "--llm-unknown-model",
        dest="llm_unknown_model",
        metavar="MODE",
        default=None,
        help="A model with no known price: warn (default), fail (a violation), or ignore.",
    )
    money = [
        ("--llm-budget", "llm_budget", "Stop live calls once the run's live spend reaches USD."),
        (
            "--llm-max-cost",
            "llm_max_cost",
            "Fail the run when all its calls, replayed included, cost more than USD.",
        ),
        (
            "--llm-test-budget",
            "llm_test_budget",
            "Fail a test whose calls, replayed included, cost more than USD "
            "(default for @pytest.mark.llm_budget(usd=...)).",
        ),
        (
            "--llm-daily-budget",
            "llm_daily_budget",
            "Stop live calls once the live spend of the last 24 h (all runs, from the ledger) "
            "reaches USD.",
        ),
    ]
    for flag, dest, text in money:
        group.addoption(flag, dest=dest, metavar="USD", default=None, help=text)
        parser.addini(dest, f"Default for {flag}.", default="")
    counts = [
        ("--llm-max-calls", "llm_max_calls", "Stop after N live calls in the run."),
        (
            "--llm-test-max-calls",
            "llm_test_max_calls",
            "Block a test's call N+1, replayed included (default 50; 0 = no limit): "
            "catches runaway polling loops.",
        ),
    ]
    for flag, dest, text in counts:
        group.addoption(flag, dest=dest, metavar="N", default=None, help=text)
        parser.addini(dest, f"Default for {flag}.", default="")
    group.addoption(
        "--llm-ledger",
        dest="llm_ledger",
        metavar="PATH",
        default=None,
        help="Ledger of every live call: a SQLite file (default: .llmbudget/ledger.sqlite in "
        "the rootdir), or a postgresql:// URL for one ledger shared by a team "
        "(default: the LLMBUDGET_LEDGER environment variable).",
    )
    parser.addini("llm_record", "Default record mode (see --llm-record).", default="")
    parser.addini(
        "llm_prices",
        "TOML or JSON file of price overrides per model (USD per million tokens).",
        default="",
    )
    parser.addini("llm_free_hosts", "Hosts whose calls always cost 0.", type="linelist", default=[])
    parser.addini(
        "llm_what_if",
        "Models (or FROM=TO pairs) the --llm-html page prices the suite on; none for no table.",
        type="linelist",
        default=[],
    )
    parser.addini(
        "llm_unknown_model", "Default for --llm-unknown-model: warn, fail or ignore.", default=""
    )
    parser.addini(
        "llm_hosts", "Extra hosts whose every request is an LLM call.", type="linelist", default=[]
    )
    parser.addini(
        "llm_match_ignore",
        "JSON body fields (dotted paths allowed) ignored when matching requests.",
        type="linelist",
        default=[],
    )
    parser.addini(
        "llm_match_ignore_url",
        "Parts of the URL ignored when matching requests: scheme, host, port, query, or "
        "query.NAME (the port of 127.0.0.1 and localhost is always ignored).",
        type="linelist",
        default=[],
    )
    parser.addini(
        "llm_record_errors",
        "Write responses with status >= 400 to cassettes too.",
        default="false",
    )
    parser.addini(
        "llm_cassette_style",
        "How new cassettes are written: json (JSON-formatted YAML, fast to read) or yaml "
        "(block YAML). A cassette that exists keeps its style.",
        default="json",
    )
    parser.addini(
        "llm_redact_headers",
        "More header names whose values never reach a cassette.",
        type="linelist",
        default=[],
    )
    parser.addini(
        "llm_ledger",
        "Default for --llm-ledger (a file, or a postgresql:// URL: better in the "
        "LLMBUDGET_LEDGER environment variable, which a URL's password should not leave).",
        default="",
    )
