"""pytest glue: options, markers, and the hooks that give each test its recorder.

Kept thin on purpose: every decision is made in a module named for it.
"""

from __future__ import annotations

import threading
from collections.abc import Generator
from dataclasses import dataclass, field

import pytest

from pytest_llmbudget.intercept import install as interception
from pytest_llmbudget.intercept.switchboard import SWITCHBOARD
from pytest_llmbudget.recording.naming import cassette_path
from pytest_llmbudget.recording.recorder import RecorderConfig, TestRecorder
from pytest_llmbudget.recording.scrub import Scrubber
from pytest_llmbudget.records import CallRecord
from pytest_llmbudget.settings import Settings, add_options


@dataclass
class RunState:
    """What one pytest session knows: its settings and every call made so far."""

    settings: Settings
    recorder_config: RecorderConfig
    records: list[CallRecord] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, record: CallRecord) -> None:
        with self.lock:
            self.records.append(record)


RUN = pytest.StashKey[RunState]()
RECORDER = pytest.StashKey[TestRecorder]()


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "llm_cassette(name): record this test's LLM calls into cassette NAME"
    )
    settings = Settings.from_config(config)
    config.stash[RUN] = RunState(
        settings=settings,
        recorder_config=RecorderConfig(
            mode=settings.record_mode,
            scrubber=Scrubber(settings.redact_headers),
            match_ignore=settings.match_ignore,
            record_errors=settings.record_errors,
            extra_hosts=settings.hosts,
            rootdir=settings.rootdir,
        ),
    )
    interception.install()


def pytest_unconfigure(config: pytest.Config) -> None:
    if RUN in config.stash:
        del config.stash[RUN]
        interception.uninstall()


def _recorder_for(item: pytest.Item, run: RunState) -> TestRecorder:
    marker = item.get_closest_marker("llm_cassette")
    marker_name = str(marker.args[0]) if marker is not None and marker.args else None
    cls = getattr(item, "cls", None)
    path = cassette_path(
        test_file=item.path,
        test_name=item.name,
        class_name=cls.__name__ if cls is not None else None,
        cassette_dir=run.settings.cassette_dir,
        marker_name=marker_name,
    )
    return TestRecorder(
        run.recorder_config, nodeid=item.nodeid, cassette_path=path, on_call=run.add
    )


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, None, None]:
    run = item.config.stash.get(RUN, None)
    if run is not None:
        recorder = _recorder_for(item, run)
        item.stash[RECORDER] = recorder
        SWITCHBOARD.push(recorder)
    return (yield)


@pytest.hookimpl(wrapper=True, trylast=True)
def pytest_runtest_teardown(item: pytest.Item) -> Generator[None, None, None]:
    try:
        return (yield)
    finally:
        recorder = item.stash.get(RECORDER, None)
        if recorder is not None:
            SWITCHBOARD.pop(recorder)
            del item.stash[RECORDER]
            recorder.close()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    run = terminalreporter.config.stash.get(RUN, None)
    if run is None:
        return
    records = run.records
    if not records:
        terminalreporter.write_line("LLM budget: no LLM calls")
        return
    live = sum(1 for record in records if record.live)
    terminalreporter.write_sep("-", "LLM budget")
    terminalreporter.write_line(
        f"{len(records)} LLM calls: {live} live, {len(records) - live} replayed"
    )
