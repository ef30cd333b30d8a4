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
(Windows) the lock is a no-op and only the atomic save protects the file:
there, tests that share a cassette should not run in parallel.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
from pathlib import Path
from typing import IO


def _lock_dir() -> Path:
    """A folder of ours: one another user created first could hold our locks forever."""
    user = getattr(os, "getuid", lambda: None)()
    directory = Path(tempfile.gettempdir()) / f"pytest-llmbudget-locks-{user or 'user'}"
    directory.mkdir(mode=0o700, exist_ok=True)
    if user is not None and directory.stat().st_uid != user:
        directory = Path.home() / ".cache" / "pytest-llmbudget" / "locks"
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    return directory


# Locks this process holds, by lock file: flock does not nest across two open
# files of one process (the second would wait for the first forever), so a
# second holder in the same process shares the first one's lock.
_HELD: dict[Path, tuple[IO[bytes], int]] = {}
_HELD_LOCK = threading.Lock()


class CassetteLock:
    """An exclusive, blocking, process-wide lock named after a cassette's absolute path."""

    def __init__(self, cassette: Path) -> None:
        digest = hashlib.sha256(str(cassette.resolve()).encode()).hexdigest()[:32]
        self.path = _lock_dir() / f"{digest}.lock"
        self._marker = self.path.with_suffix(".run")
        self.held = False

    def acquire(self) -> None:
        if self.held:
            return
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows
            return
        with _HELD_LOCK:
            shared = _HELD.get(self.path)
            if shared is not None:
                _HELD[self.path] = (shared[0], shared[1] + 1)
                self.held = True
                return
        handle = open(self.path, "ab")  # noqa: SIM115 - held until release()
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        except BaseException:
            handle.close()
            raise
        with _HELD_LOCK:
            _HELD[self.path] = (handle, 1)
        self.held = True

    def written_in(self, run_id: str) -> bool:
        """Whether run ``run_id`` saved this cassette (ask while holding the lock)."""
        try:
            return self._marker.read_text(encoding="utf-8") == run_id
        except OSError:
            return False

    def mark_written(self, run_id: str) -> None:
        """Note that run ``run_id`` saved this cassette, for its next test sharing it."""
        self._marker.write_text(run_id, encoding="utf-8")

    def release(self) -> None:
        if not self.held:
            return
        self.held = False
        with _HELD_LOCK:
            handle, count = _HELD.pop(self.path)
            if count > 1:
                _HELD[self.path] = (handle, count - 1)
                return
        handle.close()  # closing the file drops the flock
