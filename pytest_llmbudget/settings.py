"""Options and ini keys, parsed once into a frozen Settings.

Each parser raises ``pytest.UsageError`` naming what is allowed, so a typo
stops the run at start (exit 4) instead of surfacing mid-suite.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from pytest_llmbudget.recording.modes import RecordMode, default_mode

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


def _lines(config: pytest.Config, name: str) -> tuple[str, ...]:
    raw = config.getini(name)
    items = raw if isinstance(raw, list) else str(raw).split()
    return tuple(item.strip() for item in items if str(item).strip())


@dataclass(frozen=True, slots=True)
class Settings:
    record_mode: RecordMode
    cassette_dir: Path | None
    hosts: frozenset[str]
    match_ignore: tuple[str, ...]
    record_errors: bool
    redact_headers: tuple[str, ...]
    rootdir: Path

    @classmethod
    def from_config(cls, config: pytest.Config) -> Settings:
        rootdir = Path(config.rootpath)
        option = config.getoption("llm_record")
        if option is not None:
            mode = parse_record_mode(option)
        elif config.getini("llm_record"):
            mode = parse_record_mode(str(config.getini("llm_record")), "llm_record")
        else:
            mode = default_mode(os.environ)
        cassette_dir_option = config.getoption("llm_cassette_dir")
        cassette_dir = rootdir / cassette_dir_option if cassette_dir_option else None
        return cls(
            record_mode=mode,
            cassette_dir=cassette_dir,
            hosts=frozenset(host.lower() for host in _lines(config, "llm_hosts")),
            match_ignore=_lines(config, "llm_match_ignore"),
            record_errors=parse_bool(config.getini("llm_record_errors"), "llm_record_errors"),
            redact_headers=_lines(config, "llm_redact_headers"),
            rootdir=rootdir,
        )


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
    parser.addini("llm_record", "Default record mode (see --llm-record).", default="")
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
        "llm_record_errors",
        "Write responses with status >= 400 to cassettes too.",
        default="false",
    )
    parser.addini(
        "llm_redact_headers",
        "More header names whose values never reach a cassette.",
        type="linelist",
        default=[],
    )
