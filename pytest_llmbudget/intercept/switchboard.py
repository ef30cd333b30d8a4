"""Which recorder receives intercepted calls right now.

Patched client methods are process-wide, and calls come from threads a test
starts (which do not inherit context variables), so the active recorder is a
process-wide stack: nested in-process pytest runs (pytester) push their own.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pytest_llmbudget.recording.recorder import TestRecorder


class Switchboard:
    __slots__ = ("_lock", "_stack")

    def __init__(self) -> None:
        self._stack: list[TestRecorder] = []
        self._lock = threading.Lock()

    def current(self) -> TestRecorder | None:
        stack = self._stack
        return stack[-1] if stack else None

    def push(self, recorder: TestRecorder) -> None:
        with self._lock:
            self._stack.append(recorder)

    def pop(self, recorder: TestRecorder) -> None:
        with self._lock:
            if recorder in self._stack:
                self._stack.remove(recorder)


SWITCHBOARD = Switchboard()
