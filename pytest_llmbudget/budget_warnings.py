"""The 50 / 75 / 90 % budget warnings, written to the terminal as they happen.

They come from inside a test, where pytest captures what is written: a
warning seen only in a failing test's captured output would warn nobody. So
capture is suspended around the line, as pytest's own live logging does.

Only pytest's own thread may do that: suspending and resuming capture from a
thread the test started races with pytest moving to the next test, and the
line lands in that test's captured output. A warning from another thread
waits until pytest's thread is back in our hands (the end of the test).
"""

from __future__ import annotations

import contextlib
import threading

import pytest


class BudgetWarnings:
    __slots__ = ("_config", "_lock", "_owner", "_waiting")

    def __init__(self, config: pytest.Config) -> None:
        self._config = config
        self._owner = threading.get_ident()  # the thread pytest runs the tests in
        self._lock = threading.Lock()
        self._waiting: list[str] = []

    def __call__(self, message: str) -> None:
        with self._lock:
            self._waiting.append(message)
        if threading.get_ident() == self._owner:
            self.flush()

    def flush(self) -> None:
        """Write what waits; from pytest's own thread only."""
        if not self._waiting or threading.get_ident() != self._owner:
            return
        with self._lock:
            messages, self._waiting = self._waiting, []
        reporter = self._config.pluginmanager.get_plugin("terminalreporter")
        if reporter is None:
            return
        capture = self._config.pluginmanager.get_plugin("capturemanager")
        with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
            for message in messages:
                reporter.write_line(message, yellow=True)
