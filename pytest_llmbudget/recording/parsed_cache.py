"""Parsed cassettes kept between runs, keyed by the SHA-256 of the YAML they came from.

Why: PyYAML builds every object of a cassette in Python, about a millisecond
per interaction, so a suite that replays a few thousand interactions spent
seconds parsing the same unchanged files on every run. JSON-style cassettes
read fast (cassette_text.py), yet each request's key is still worked out
from its body, and block-YAML cassettes (pytest-recording's) stay slow. Here the parsed
interactions, and the request keys the index is built from, are stored once,
next to nothing else, in ``<rootdir>/.llmbudget/cache/cassettes/``.

How it stays correct:

* The YAML file is the only source of truth; nothing here writes a cassette.
  An entry names the SHA-256 of the bytes it was parsed from, and is used only
  for a file with exactly those bytes: a cassette changed by one byte (an edit,
  a checkout, a re-recording) is parsed again and its entry replaced.
* Request keys depend on ``llm_match_ignore`` and on the code that computes
  them: the entry also names a fingerprint of both, and is not used when it
  differs.
* Hashing each cassette on each replay costs more than reading its entry, so
  an entry also keeps the file's status (size, modification and change
  times, inode, device) when it was parsed, and a file whose status is still
  that one is taken to hold the same bytes without hashing them. The status
  is kept only for a file last changed over two seconds before it was read,
  and unchanged while it was read: any later change then sets a change time
  (which nobody can set back, unlike the modification time) that differs,
  even on a file system with coarse timestamps. Any other file is hashed.
* One entry per cassette path (named by a hash of the path), so the cache
  holds at most one entry per cassette however often they change.
* An entry is a small text header and a pickle of plain data (dicts, lists,
  strings, bytes, numbers, and the dates YAML may hold), read back by an
  unpickler that imports nothing else: a planted file cannot run code. One
  that does not read back as expected is ignored, and replaced.
* Writes go to a temporary file renamed over the entry, so parallel workers
  (xdist, several jobs on one checkout) never read half of one. Failing to
  write (a read-only checkout, a full disk) only costs the next run a parse.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import pickle
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from pytest_llmbudget.recording.canonical import RequestKey
from pytest_llmbudget.recording.modes import CASSETTE_STYLES

if TYPE_CHECKING:
    from pytest_llmbudget.accounting import UsageNote

_MAGIC = b"llmbudget-parsed-cassette"
_NOTES_MAGIC = b"llmbudget-usage-notes"
FORMAT = 3
# A file changed this recently (seconds) may change again with the same timestamps.
_SETTLED_AFTER = 2.0
# Only what YAML's safe loader builds besides plain containers and scalars.
_ALLOWED = frozenset(
    {
        ("datetime", "datetime"),
        ("datetime", "date"),
        ("datetime", "timedelta"),
        ("datetime", "timezone"),
    }
)


class _PlainUnpickler(pickle.Unpickler):
    """Refuses every global but dates: a cache entry holds data, never code."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"{module}.{name} has no place in a parsed cassette")


class Parsed(NamedTuple):
    """A cassette's interactions as its file gave them, the request key of each, and the
    style the file is in (cassette_text.py), kept when a test adds to it."""

    interactions: list[dict[str, Any]]
    keys: list[RequestKey]
    style: str


@functools.cache
def _code_fingerprint() -> bytes:
    """Changes whenever the code that turns a recorded request into its key does."""
    from pytest_llmbudget.recording import canonical, cassette, cassette_text

    hashed = hashlib.sha256(b"%d" % FORMAT)
    for module in (canonical, cassette, cassette_text):
        with contextlib.suppress(OSError, TypeError):
            hashed.update(Path(str(module.__file__)).read_bytes())
    return hashed.digest()


@functools.cache
def _notes_fingerprint() -> str:
    """Changes whenever the code that reads usage from a recorded answer does."""
    package = Path(__file__).resolve().parents[1]
    files = [
        package / "accounting.py",
        package / "defaults.py",
        package / "records.py",
        package / "recording" / "cassette.py",
        package / "recording" / "content_coding.py",
        *sorted((package / "providers").glob("*.py")),
    ]
    hashed = hashlib.sha256(b"%d" % FORMAT)
    for file in files:
        with contextlib.suppress(OSError):
            hashed.update(file.read_bytes())
    return hashed.hexdigest()[:32]


def _fingerprint(ignore: Iterable[str]) -> str:
    hashed = hashlib.sha256(_code_fingerprint())
    for field in ignore:
        hashed.update(field.encode("utf-8", errors="surrogateescape") + b"\0")
    return hashed.hexdigest()[:32]


def file_digest(path: Path) -> str:
    """SHA-256 of a file, read in blocks (a large cassette is never held twice)."""
    with open(path, "rb") as stream:
        return hashlib.file_digest(stream, "sha256").hexdigest()


def _status(stat: os.stat_result) -> bytes:
    return b"%d-%d-%d-%d-%d" % (
        stat.st_size,
        stat.st_mtime_ns,
        stat.st_ctime_ns,
        stat.st_ino,
        stat.st_dev,
    )


def settled_status(before: os.stat_result, after: os.stat_result, now: float) -> bytes | None:
    """The status to keep for a file read between ``before`` and ``after`` (see the module
    docstring), or None: changed while it was read, or changed too recently."""
    status = _status(before)
    if _status(after) != status:
        return None
    latest = max(before.st_mtime_ns, before.st_ctime_ns) / 1e9
    return status if latest <= now - _SETTLED_AFTER else None


class ParsedCache:
    """The parsed-cassette entries of one project; safe to share between threads."""

    __slots__ = ("directory",)

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    @classmethod
    def under(cls, rootdir: Path) -> ParsedCache:
        return cls(rootdir / ".llmbudget" / "cache" / "cassettes")

    def _slot(self, path: Path) -> Path:
        name = hashlib.sha256(os.path.abspath(path).encode("utf-8", "surrogateescape"))
        return self.directory / f"{name.hexdigest()[:40]}.pickle"

    def _prefix(self, ignore: Iterable[str]) -> bytes:
        return b"%s %d %s " % (_MAGIC, FORMAT, _fingerprint(ignore).encode())

    def get(self, path: Path, ignore: Iterable[str]) -> tuple[str, Parsed] | None:
        """The entry for ``path`` as the file now is, with the file's SHA-256; None when
        there is none for these bytes and keys. OSError: the file cannot be read."""
        status = _status(os.stat(path))
        try:
            with open(self._slot(path), "rb") as stream:
                header = stream.readline()
                prefix = self._prefix(ignore)
                if not header.startswith(prefix) or not header.endswith(b"\n"):
                    return None  # other keys, other code, or not ours
                digest, _, kept = header[len(prefix) : -1].decode("ascii").partition(" ")
                if kept.encode("ascii") != status and file_digest(path) != digest:
                    return None  # another version of the file
                entry = _PlainUnpickler(stream).load()
        except FileNotFoundError:
            return None
        except OSError:
            raise
        except Exception:  # a damaged entry: parse the YAML, the next put replaces it
            return None
        parsed = _valid(entry)
        return None if parsed is None else (digest, parsed)

    def put(
        self,
        path: Path,
        digest: str,
        ignore: Iterable[str],
        parsed: Parsed,
        status: bytes | None = None,
    ) -> None:
        """Store ``parsed`` for ``path``; atomically, and silently giving up on any error.
        ``status``: the file's, when `settled_status` vouches that it names these bytes."""
        _share_header_text(parsed.interactions)
        entry = {"interactions": parsed.interactions, "keys": parsed.keys, "style": parsed.style}
        header = b"%s%s %s\n" % (self._prefix(ignore), digest.encode(), status or b"-")
        self._write(self._slot(path), header, entry)

    def _notes_slot(self, path: Path) -> Path:
        return self._slot(path).with_suffix(".notes")

    def _notes_header(self, digest: str) -> bytes:
        fingerprint = _notes_fingerprint().encode()
        return b"%s %d %s %s\n" % (_NOTES_MAGIC, FORMAT, digest.encode(), fingerprint)

    def get_notes(self, path: Path, digest: str) -> dict[int, UsageNote]:
        """What an earlier run read from each replayed answer of ``path`` (see accounting.py)."""
        try:
            with open(self._notes_slot(path), "rb") as stream:
                if stream.readline() != self._notes_header(digest):
                    return {}
                notes = _PlainUnpickler(stream).load()
        except Exception:  # missing or damaged: the answers are read again
            return {}
        return _valid_notes(notes)

    def put_notes(self, path: Path, digest: str, notes: dict[int, UsageNote]) -> None:
        """Store ``notes`` for the version ``digest`` of ``path``; as `put`, never failing."""
        self._write(self._notes_slot(path), self._notes_header(digest), notes)

    def _write(self, slot: Path, header: bytes, data: object) -> None:
        with contextlib.suppress(OSError, pickle.PicklingError, RecursionError, TypeError):
            import tempfile  # writing only: a replay never needs it

            self._ensure_directory()
            handle, temp_name = tempfile.mkstemp(prefix=".entry.", dir=self.directory)
            try:
                with os.fdopen(handle, "wb") as stream:
                    stream.write(header)
                    pickle.dump(data, stream, protocol=5)
                os.replace(temp_name, slot)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(temp_name)
                raise

    def _ensure_directory(self) -> None:
        if not self.directory.is_dir():
            ensure_cache_folder(self.directory.parent)
            self.directory.mkdir(parents=True, exist_ok=True)


def _share_header_text(interactions: list[dict[str, Any]]) -> None:
    """One string object for each header name and value that recurs across interactions.

    Pickle writes an object it has written before as a reference: the entry then
    holds each of a cassette's recurring headers once, and loading it builds one
    string for each, not one per interaction (a fifth less to load). Strings are
    immutable, so sharing them changes nothing else.
    """
    seen: dict[str, str] = {}
    for interaction in interactions:
        for part in (interaction.get("request"), interaction.get("response")):
            if not isinstance(part, dict):
                continue
            headers = part.get("headers")
            if not isinstance(headers, dict) or not headers:
                continue
            shared: dict[Any, Any] = {}
            for name, values in headers.items():
                if isinstance(name, str):
                    name = seen.setdefault(name, name)
                if isinstance(values, list):
                    values = [seen.setdefault(v, v) if type(v) is str else v for v in values]
                shared[name] = values
            part["headers"] = shared


def ensure_cache_folder(folder: Path) -> None:
    """``.llmbudget/cache``; like .pytest_cache, it keeps itself out of version control."""
    folder.mkdir(parents=True, exist_ok=True)
    ignore_file = folder / ".gitignore"
    if not ignore_file.exists():
        ignore_file.write_text("# Created by pytest-llmbudget: caches.\n*\n")


def _valid(entry: Any) -> Parsed | None:
    """``entry`` as a :class:`Parsed`, or None when it is not shaped like one."""
    if not isinstance(entry, dict):
        return None
    interactions, keys, style = entry.get("interactions"), entry.get("keys"), entry.get("style")
    if not isinstance(interactions, list) or not isinstance(keys, list):
        return None
    if style not in CASSETTE_STYLES:
        return None
    if len(keys) != len(interactions):
        return None
    for key in keys:
        if not (isinstance(key, tuple) and len(key) == 3 and all(isinstance(p, str) for p in key)):
            return None
    return Parsed(interactions, keys, style)


_OPTIONAL_TEXT = (str, type(None))
_NOTE_TYPES: tuple[type | tuple[type, ...], ...] = (
    *(str, str, str, _OPTIONAL_TEXT),
    *(int, int, int, int, int, _OPTIONAL_TEXT),
)


def _valid_notes(notes: Any) -> dict[int, UsageNote]:
    """``notes`` when shaped as `put_notes` writes them, else nothing."""
    if not isinstance(notes, dict):
        return {}
    for position, note in notes.items():
        if type(position) is not int or not isinstance(note, tuple) or len(note) != 10:
            return {}
        if not all(isinstance(value, kind) for value, kind in zip(note, _NOTE_TYPES, strict=True)):
            return {}
    return notes
