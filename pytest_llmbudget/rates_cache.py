"""What genai-prices answered for each model, kept between runs: a replay need not import it.

genai-prices builds its whole price table the first time it prices a call:
its import and that table cost 0.2 to 0.3 s, in every run, for answers that
only change when genai-prices does. So each model a run priced is written
down: its `Rates` (flat, or flat up to a tier by prompt size), or that
genai-prices does not know it. A later run with the same genai-prices (its
data file, found without importing it) and the same pricing code reads them
back; anything else, a model it has not seen, or a price that is not flat,
goes to genai-prices as before.

The answers depend on the genai-prices install, not on the project, so they
are kept in the user's cache folder, one file per install: a fresh clone, a
second checkout or a git worktree of any project prices its replays without
genai-prices from its first run (``LLMBUDGET_CACHE_DIR`` moves the folder, to
a path a CI cache keeps, say).

Like the parsed-cassette cache: written atomically, never trusted when its
key differs, and ignored (then replaced) when it does not read back.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.util
import json
import os
import sys
import tempfile
import threading
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pytest_llmbudget.pricing import Rates

FORMAT = 2
UNKNOWN = "unknown"  # genai-prices has no price for the model: no need to ask it again
# A model priced by genai-prices on each call (tiered or hourly prices): asking is needed.
NOT_FLAT = "not-flat"

Key = tuple[str, str | None, bool]


@functools.cache
def _stamp() -> str | None:
    """Names the genai-prices install and our pricing code; None when genai-prices is missing."""
    try:
        spec = importlib.util.find_spec("genai_prices")
    except (ImportError, ValueError):
        return None
    if spec is None or spec.origin is None:
        return None
    hashed = hashlib.sha256(b"%d" % FORMAT)
    try:
        for name in ("__init__.py", "data.py"):
            info = os.stat(Path(spec.origin).parent / name)
            hashed.update(f"{name} {info.st_size} {info.st_mtime_ns}\n".encode())
        hashed.update(Path(__file__).with_name("pricing.py").read_bytes())
    except OSError:
        return None
    hashed.update(spec.origin.encode("utf-8", "surrogateescape"))
    return hashed.hexdigest()[:32]


def user_cache_folder() -> Path:
    """Where a user's caches go: ``LLMBUDGET_CACHE_DIR``, else the platform's cache folder."""
    chosen = os.environ.get("LLMBUDGET_CACHE_DIR")
    if chosen:
        return Path(chosen).expanduser()
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches"
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "pytest-llmbudget"


def _name(key: Key) -> str:
    model, provider, own_host = key
    return json.dumps([model, provider, own_host])


class RatesCache:
    """One file of answers; safe to share between threads. No file: nothing kept."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._answers: dict[str, Any] | None = None
        self._stamp: str | None = None

    @classmethod
    def for_this_install(cls) -> RatesCache:
        """The file of the genai-prices install this process would import."""
        stamp = _stamp()
        if stamp is None:
            return cls(None)
        try:
            return cls(user_cache_folder() / "rates" / f"{stamp}.json")
        except RuntimeError:  # no home folder to find a cache folder in
            return cls(None)

    def _load(self) -> dict[str, Any]:
        if self._answers is None:
            self._stamp = _stamp()
            self._answers = self._read() if self._stamp is not None else {}
        return self._answers

    def _read(self) -> dict[str, Any]:
        if self.path is None:
            return {}
        try:
            document = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        answers = document.get("answers") if isinstance(document, dict) else None
        if not isinstance(answers, dict) or document.get("stamp") != self._stamp:
            return {}
        return answers

    def get(self, key: Key) -> Rates | str | None:
        """The stored answer for ``key``: `Rates`, `UNKNOWN`, `NOT_FLAT`; None when not stored."""
        with self._lock:
            raw = self._load().get(_name(key))
        if raw in (UNKNOWN, NOT_FLAT):
            return str(raw)
        if not (isinstance(raw, list) and len(raw) == 6):
            return None
        *figures, limit = raw
        if not all(isinstance(x, str) for x in figures):
            return None
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int)):
            return None
        from pytest_llmbudget.pricing import Rates

        try:
            base, input_, cache_read, cache_write, output = (Decimal(value) for value in figures)
        except (InvalidOperation, ValueError):
            return None
        return Rates(base, input_, cache_read, cache_write, output, limit=limit)

    def put(self, key: Key, answer: Rates | str) -> None:
        """Store ``answer`` and write the file; giving up silently (a read-only checkout)."""
        stored: Any = (
            answer
            if isinstance(answer, str)
            else [
                str(answer.base),
                str(answer.input),
                str(answer.cache_read),
                str(answer.cache_write),
                str(answer.output),
                answer.limit,
            ]
        )
        with self._lock:
            answers = self._load()
            path = self.path
            if path is None or self._stamp is None or answers.get(_name(key)) == stored:
                return
            answers[_name(key)] = stored
            document = {"stamp": self._stamp, "answers": answers}
            with contextlib.suppress(OSError):
                path.parent.mkdir(parents=True, exist_ok=True)
                handle, temp_name = tempfile.mkstemp(prefix=".rates.", dir=path.parent)
                try:
                    with os.fdopen(handle, "w", encoding="utf-8") as stream:
                        json.dump(document, stream, indent=0, sort_keys=True)
                    os.replace(temp_name, path)
                except BaseException:
                    with contextlib.suppress(OSError):
                        os.unlink(temp_name)
                    raise
