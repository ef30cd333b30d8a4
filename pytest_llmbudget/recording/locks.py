"""One writer per cassette across processes: pytest-xdist workers, two pytest runs.

Saving is atomic, but atomic is not enough when two processes record into
the same cassette (tests sharing one through ``@pytest.mark.llm_cassette``,
spread over xdist workers): each loads the file, adds its own interactions
and replaces the file, and the last one to save drops what the other
recorded. So a test that may record holds an exclusive lock on its cassette
from the moment it loads it until it has saved it; a second test waits,
then loads what the first one wrote.

The lock files live in the temporary directory, not beside the cassettes,
so nothing extra appears in the repository. Where ``fcntl`` does not exist
(Windows) the lock is a no-op and only the atomic save protects the file.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import IO


def _lock_dir() -> Path:
    user = getattr(os, "getuid", lambda: "user")()
    directory = Path(tempfile.gettempdir()) / f"pytest-llmbudget-locks-{user}"
    directory.mkdir(mode=0o700, exist_ok=True)
    return directory


class CassetteLock:
    """An exclusive, blocking, process-wide lock named after a cassette's absolute path."""

    def __init__(self, cassette: Path) -> None:
        digest = hashlib.sha256(str(cassette.resolve()).encode()).hexdigest()[:32]
        self.path = _lock_dir() / f"{digest}.lock"
        self._handle: IO[bytes] | None = None

    @property
    def held(self) -> bool:
        return self._handle is not None

    def acquire(self) -> None:
        if self._handle is not None:
            return
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows
            return
        handle = open(self.path, "ab")  # noqa: SIM115 - held until release()
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        except BaseException:
            handle.close()
            raise
        self._handle = handle

    def release(self) -> None:
        handle, self._handle = self._handle, None
        if handle is not None:
            handle.close()  # closing the file drops the flock
