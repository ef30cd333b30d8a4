"""Which recorder receives intercepted calls right now.

Patched client methods are process-wide, and calls come from threads a test
starts (which do not inherit context variables), so the active recorder is a
process-wide stack: nested in-process pytest runs (pytester) push their own.

A test goes on the stack as a `RecorderSlot`: its recorder is made at its
first LLM call, because most tests of a suite make none and should not pay
for one.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pytest_llmbudget.recording.recorder import TestRecorder


class RecorderSlot:
    """One test's place on the switchboard: its recorder, made on first use."""

    __slots__ = ("_make", "recorder")

    def __init__(self, make: Callable[[], TestRecorder]) -> None:
        self._make = make
        self.recorder: TestRecorder | None = None

    def get(self) -> TestRecorder:
        """The test's recorder, made at its first LLM call (once, whatever the threads)."""
        recorder = self.recorder
        if recorder is None:
            with _making:
                recorder = self.recorder
                if recorder is None:
                    recorder = self.recorder = self._make()
        return recorder


_making = threading.Lock()


class Switchboard:
    __slots__ = ("_lock", "_stack")

    def __init__(self) -> None:
        self._stack: list[RecorderSlot] = []
        self._lock = threading.Lock()

    def current(self) -> TestRecorder | None:
        """The recorder of the running test, None between tests."""
        stack = self._stack
        return stack[-1].get() if stack else None

    def active(self) -> bool:
        """Whether a test is running, without making its recorder."""
        return bool(self._stack)

    def push(self, slot: RecorderSlot) -> None:
        with self._lock:
            self._stack.append(slot)

    def pop(self, slot: RecorderSlot) -> None:
        with self._lock:
            if slot in self._stack:
                self._stack.remove(slot)


SWITCHBOARD = Switchboard()
