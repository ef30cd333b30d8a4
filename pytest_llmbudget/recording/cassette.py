"""A vcrpy-format cassette with an index, read and saved atomically (see cassette_text.py).

vcrpy scans the whole cassette for every lookup (O(n²) per test); here each
interaction is indexed once by its canonical request key, and identical
requests replay in recorded order from a per-key queue. Interactions another
tool recorded are indexed by the key of their own matching rule
(matching.py), and a lookup takes the earliest unplayed of either kind.

A suite may store its cassettes through a vcrpy serializer of its own
(``serialize(dict) -> str`` and ``deserialize(str) -> dict``): its files are
read and written through it, never rewritten in our YAML.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import time
from collections import deque
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, NamedTuple

from pytest_llmbudget.errors import CassetteError, CassetteSaveError
from pytest_llmbudget.recording import cassette_text
from pytest_llmbudget.recording.canonical import RequestKey
from pytest_llmbudget.recording.matching import Live, Matching

if TYPE_CHECKING:
    from pytest_llmbudget.accounting import UsageNote
    from pytest_llmbudget.recording.parsed_cache import ParsedCache

# A vcrpy serializer module (or object): what a suite registers in pytest_recording_configure.
Serializer = Any

CASSETTE_VERSION = 1
Headers = list[tuple[str, str]]


class StoredResponse(NamedTuple):
    """A recorded answer, ready to be replayed by any client adapter.

    A NamedTuple, as `Parsed`: a replay from the parsed cache loads this module
    and no other, and dataclasses would add ``inspect`` and a millisecond each.
    """

    status: int
    reason: str
    headers: Headers
    body: bytes

    def header(self, name: str) -> str:
        lowered = name.lower()
        for key, value in self.headers:
            if key.lower() == lowered:
                return value
        return ""

    def chunks(self) -> list[bytes]:
        """The body cut at event boundaries for SSE, so streams replay event by event."""
        if not self.body or "text/event-stream" not in self.header("content-type"):
            return [self.body]
        separator = b"\r\n\r\n" if b"\r\n\r\n" in self.body else b"\n\n"
        pieces = self.body.split(separator)
        chunks = [piece + separator for piece in pieces[:-1]]
        if pieces[-1]:
            chunks.append(pieces[-1])
        return chunks


def _as_bytes(value: Any) -> bytes:
    if value is None:
        return b""
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8", errors="surrogateescape")
    # A parsed JSON body (the ``parsed_body`` cassette flavour).
    return json.dumps(value).encode("utf-8")


def _headers_of(mapping: Any, text_length: int | None = None) -> Headers:
    """A cassette's header map as (name, value) pairs.

    ``text_length``: the length of a body the cassette holds as text, so already
    decoded: then Content-Length says that length and Content-Encoding is dropped
    (replayed, it would make the client decompress plain text).
    """
    if not isinstance(mapping, dict):
        return []
    headers: Headers = []
    for key, values in mapping.items():
        name = key if type(key) is str else str(key)
        if text_length is not None:
            lowered = name.lower()
            if lowered == "content-encoding":
                continue
            if lowered == "content-length" and values is not None:
                values = [text_length] * len(values) if isinstance(values, list) else text_length
        if isinstance(values, list):
            for value in values:
                headers.append((name, value if type(value) is str else str(value)))
        elif values is not None:
            headers.append((name, values if type(values) is str else str(values)))
    return headers


def request_body(request: dict[str, Any]) -> bytes:
    if "parsed_body" in request:
        return _as_bytes(request["parsed_body"])
    return _as_bytes(request.get("body"))


def response_of(interaction: dict[str, Any]) -> StoredResponse:
    response = interaction["response"]
    status = response.get("status") or {}
    if "parsed_body" in response:
        stored: Any = response["parsed_body"]
    else:
        raw_body = response.get("body")
        stored = raw_body.get("string") if isinstance(raw_body, dict) else raw_body
    body = _as_bytes(stored)
    if isinstance(stored, bytes):
        # Bytes as the server sent them (a cassette of stock vcrpy keeps gzip as
        # it came): replayed decoded, so the usage in them can be read and priced.
        headers = _headers_of(response.get("headers"))
        encoding = next((v for k, v in headers if k.lower() == "content-encoding"), "")
        plain = _decoded(body, encoding) if encoding else None
        if plain is not None:
            body = plain
            headers = _headers_of(response.get("headers"), len(body))
    else:
        # Text in YAML is a decoded body, whatever Content-Encoding the server sent.
        headers = _headers_of(response.get("headers"), len(body))
    return StoredResponse(
        status=int(status.get("code", 200)),
        reason=str(status.get("message") or ""),
        headers=headers,
        body=body,
    )


def _decoded(body: bytes, encoding: str) -> bytes | None:
    from pytest_llmbudget.recording.content_coding import decode

    return decode(body, encoding)


def _check(path: Path, document: Any) -> list[dict[str, Any]]:
    __tracebackhide__ = True
    if not isinstance(document, dict):
        raise CassetteError(path, "the top level is not a mapping with 'interactions'")
    interactions = document.get("interactions")
    if not isinstance(interactions, list):
        raise CassetteError(path, "'interactions' is missing or not a list")
    for number, interaction in enumerate(interactions, start=1):
        request = interaction.get("request") if isinstance(interaction, dict) else None
        response = interaction.get("response") if isinstance(interaction, dict) else None
        if not isinstance(request, dict) or "uri" not in request or "method" not in request:
            raise CassetteError(path, f"interaction {number} has no request method and uri")
        if not isinstance(response, dict) or not isinstance(response.get("status"), dict):
            raise CassetteError(path, f"interaction {number} has no response status")
        code = response["status"].get("code", 200)
        if isinstance(code, bool) or not isinstance(code, int) or not 100 <= code <= 599:
            raise CassetteError(
                path, f"interaction {number}: response status code {code!r} is not an HTTP status"
            )
    return interactions


class Cassette:
    """One test's recordings. Not thread-safe: the recorder holds its lock."""

    __slots__ = (
        "_canonical_bodies",
        "_index",
        "_keys_at",
        "_loose",
        "cache",
        "digest",
        "dirty",
        "existed",
        "fresh",
        "ignore",
        "interactions",
        "loaded_digest",
        "matching",
        "notes",
        "notes_added",
        "path",
        "persister",
        "played",
        "plays",
        "serializer",
        "style",
    )

    def __init__(
        self,
        path: Path,
        ignore: Iterable[str] = (),
        *,
        matching: Matching | None = None,
        serializer: Serializer = None,
        persister: Any = None,
        style: str = cassette_text.JSON,
    ) -> None:
        self.path = path
        # How the file is written (cassette_text.py): a file read keeps the style it had.
        self.style = style
        self.matching = matching if matching is not None else Matching(tuple(ignore))
        self.ignore = self.matching.body_ignore
        self.serializer = serializer
        # A suite's own vcrpy persister (see persisted.py): then it reads and writes the file.
        self.persister = persister
        self.interactions: list[dict[str, Any]] = []
        self._index: dict[RequestKey, deque[int]] = {}
        self._keys_at: list[RequestKey] = []
        # A recorded request body -> its canonical form in the key; made at the first lookup.
        self._canonical_bodies: dict[bytes, str] | None = None
        self._loose: dict[tuple[str, ...], list[int]] = {}
        self.played: set[int] = set()
        # Positions recorded in this run: in ``played`` (never replayed), yet not replays.
        self.fresh: set[int] = set()
        self.plays = 0  # replays, a repeated one (allow_playback_repeats) each time
        self.dirty = False
        self.existed = False
        # SHA-256 of the file as read, and as last read or written: None while not on disk.
        self.loaded_digest: str | None = None
        self.digest: str | None = None
        # What reading each replayed answer found (accounting.py), kept in ``cache``.
        self.cache: ParsedCache | None = None
        self.notes: dict[int, UsageNote] = {}
        self.notes_added = False

    @classmethod
    def load(
        cls,
        path: Path,
        ignore: Iterable[str] = (),
        cache: ParsedCache | None = None,
        *,
        matching: Matching | None = None,
        serializer: Serializer = None,
        persister: Any = None,
        style: str = cassette_text.JSON,
    ) -> Cassette:
        """Read ``path`` if it exists; a missing file is an empty cassette, saved in ``style``.

        With ``cache``, a file whose exact bytes were parsed before is not parsed
        again (not for a suite's own serializer: its output is its business).
        """
        __tracebackhide__ = True
        matching = matching if matching is not None else Matching(tuple(ignore))
        if persister is not None:
            return cls._from_persister(path, matching, serializer, persister)
        if serializer is not None:
            cache = None
        if cache is not None:
            cached = cls._from_cache(path, matching, cache)
            if cached is not None:
                cached._read_notes(cache)
                return cached
        try:
            stream = open(path, "rb")  # noqa: SIM115 - closed by the with below
        except FileNotFoundError:
            return cls(path, matching=matching, serializer=serializer, style=style)
        except OSError as exc:
            raise CassetteError(path, str(exc)) from None
        with stream:
            before = os.fstat(stream.fileno())
            # Parsed as it is read: a large cassette is never held whole as bytes
            # next to the objects built from it.
            cassette = cls.parse(path, stream, matching=matching, serializer=serializer)
        if cache is not None and cassette.loaded_digest is not None:
            cassette._keep_parsed(cache, cassette.loaded_digest, before)
        return cassette

    def _keep_parsed(self, cache: ParsedCache, digest: str, before: os.stat_result) -> None:
        """Store what was parsed from the file, whose status was ``before`` as it was read."""
        from pytest_llmbudget.recording.parsed_cache import Parsed, settled_status

        try:
            status = settled_status(before, os.stat(self.path), time.time())
        except OSError:
            status = None
        parsed = Parsed(self.interactions, list(self._keys_at), self.style)
        cache.put(self.path, digest, self.matching.fingerprint(), parsed, status)
        self._read_notes(cache)

    def _read_notes(self, cache: ParsedCache) -> None:
        self.cache = cache
        if self.loaded_digest is not None:
            self.notes = cache.get_notes(self.path, self.loaded_digest)

    def note_for(self, position: int, request_body: bytes) -> UsageNote | None:
        """What an earlier run read from the answer at ``position``, if the request is the
        recorded one byte for byte (a request matched in spite of a difference is read anew)."""
        note = self.notes.get(position)
        if note is None or not self._recorded_request(position, request_body):
            return None
        return note

    def keep_note(self, position: int, note: UsageNote, request_body: bytes) -> None:
        """Remember what reading the answer at ``position`` found, for the next run."""
        if self.cache is None or position in self.fresh:
            return
        if self._recorded_request(position, request_body):
            self.notes[position] = note
            self.notes_added = True

    def _recorded_request(self, position: int, body: bytes) -> bool:
        return request_body(self.interactions[position]["request"]) == body

    def save_notes(self) -> None:
        """Store the notes taken, while the file is still the one they were taken from."""
        if not self.notes_added or self.cache is None or self.loaded_digest is None:
            return
        if self.digest == self.loaded_digest:
            self.cache.put_notes(self.path, self.loaded_digest, self.notes)
        self.notes_added = False

    @classmethod
    def _from_persister(
        cls, path: Path, matching: Matching, serializer: Serializer, persister: Any
    ) -> Cassette:
        __tracebackhide__ = True
        from pytest_llmbudget.recording import persisted

        cassette = cls(path, matching=matching, serializer=serializer, persister=persister)
        interactions = persisted.load(path, persister, serializer)
        if interactions is None:
            return cassette
        cassette.existed = True
        cassette.loaded_digest = cassette.digest = persisted.file_digest(path)
        for number, interaction in enumerate(_check(path, {"interactions": interactions}), 1):
            try:
                cassette._add(interaction)
            except (ValueError, TypeError, RecursionError) as exc:
                raise CassetteError(path, f"interaction {number}: its request: {exc}") from None
        return cassette

    @classmethod
    def _from_cache(cls, path: Path, matching: Matching, cache: ParsedCache) -> Cassette | None:
        try:
            found = cache.get(path, matching.fingerprint())
        except OSError:
            return None  # missing, or unreadable: load() tells which
        if found is None:
            return None
        digest, parsed = found
        try:
            interactions = _check(path, {"interactions": parsed.interactions})
        except CassetteError:
            return None  # not what we wrote: parse the YAML
        cassette = cls(path, matching=matching, style=parsed.style)
        cassette.existed = True
        cassette.loaded_digest = cassette.digest = digest
        for interaction, key in zip(interactions, parsed.keys, strict=True):
            cassette._add(interaction, key)
        return cassette

    @classmethod
    def parse(
        cls,
        path: Path,
        text: bytes | BinaryIO,
        ignore: Iterable[str] = (),
        *,
        matching: Matching | None = None,
        serializer: Serializer = None,
    ) -> Cassette:
        """The cassette whose file ``path`` holds ``text``: an earlier copy, say, or the file."""
        __tracebackhide__ = True
        cassette = cls(path, ignore, matching=matching, serializer=serializer)
        if serializer is not None:
            source = _HashingReader(io.BytesIO(text) if isinstance(text, bytes) else text)
            document = _deserialized(path, source, serializer)
            digest = source.hexdigest()
        else:
            document, digest, cassette.style = _document(path, text)
        cassette.existed = True
        cassette.loaded_digest = cassette.digest = digest
        for number, interaction in enumerate(_check(path, document), start=1):
            try:
                cassette._add(interaction)
            except (ValueError, TypeError, RecursionError) as exc:  # a body JSON cannot write
                raise CassetteError(path, f"interaction {number}: its request: {exc}") from None
        return cassette

    def _key_of(self, interaction: dict[str, Any]) -> RequestKey:
        request = interaction["request"]
        return self.matching.strict_key(
            str(request["method"]), str(request["uri"]), request_body(request)
        )

    def _add(self, interaction: dict[str, Any], key: RequestKey | None = None) -> int:
        position = len(self.interactions)
        self.interactions.append(interaction)
        if key is None:
            key = self._key_of(interaction)
        self._keys_at.append(key)
        if self.matching.is_loose(interaction):
            request = interaction["request"]
            loose = self.matching.loose_key(
                str(request["method"]),
                str(request["uri"]),
                request_body(request),
                _headers_of(request.get("headers")),
            )
            self._loose.setdefault(loose, []).append(position)
        else:
            self._index.setdefault(key, deque()).append(position)
        return position

    def take(self, key: RequestKey, live: Live | None = None) -> tuple[int, dict[str, Any]] | None:
        """The next unplayed interaction recorded for ``key`` (or matching ``live`` the way
        a recording of another tool is matched), in recorded order."""
        queue = self._index.get(key)
        while queue and queue[0] in self.played:
            queue.popleft()
        position = queue[0] if queue else None
        if self._loose and live is not None:
            loose = self._loose_position(live)
            if loose is not None and (position is None or loose < position):
                position = loose
        if position is None and self.matching.repeats:
            position = self._first_match(key, live)
        if position is None:
            return None
        self.played.add(position)
        self.plays += 1
        return position, self.interactions[position]

    def _first_match(self, key: RequestKey, live: Live | None) -> int | None:
        """The first recording for the request, played or not: what vcrpy replays again under
        ``allow_playback_repeats``. A scan, taken only once every match has played."""
        matching = self.matching
        wanted = matching.loose_key(*live) if live is not None else None
        for position, interaction in enumerate(self.interactions):
            if not matching.is_loose(interaction):
                if self._keys_at[position] == key:
                    return position
                continue
            request = interaction["request"]
            recorded = matching.loose_key(
                str(request["method"]),
                str(request["uri"]),
                request_body(request),
                _headers_of(request.get("headers")),
            )
            if live is not None and recorded == wanted and matching.passes_custom(live, request):
                return position
        return None

    def _loose_position(self, live: Live) -> int | None:
        matching = self.matching
        bucket = self._loose.get(matching.loose_key(*live))
        if not bucket:
            return None
        while bucket and bucket[0] in self.played:
            bucket.pop(0)
        for position in bucket:
            if position not in self.played and matching.passes_custom(
                live, self.interactions[position]["request"]
            ):
                return position
        return None

    def known_body(self, body: bytes) -> str | None:
        """The canonical form of a request body sent exactly as one of the recordings was.

        It is a function of the bytes alone, so a body that is a recording's,
        byte for byte (what an SDK sends when nothing changed), has that
        recording's: no JSON to parse and dump again for each replay.
        """
        known = self._canonical_bodies
        if known is None:
            known = self._canonical_bodies = {}
            for interaction, key in zip(self.interactions, self._keys_at, strict=True):
                known[request_body(interaction["request"])] = key[2]
        return known.get(body)

    def key_at(self, position: int) -> RequestKey:
        """The strict request key of the interaction at ``position``."""
        return self._keys_at[position]

    def append(self, interaction: dict[str, Any]) -> int:
        """Add a fresh recording; it is not replayed again within this run."""
        position = self._add(interaction)
        self.played.add(position)
        self.fresh.add(position)
        self.dirty = True
        return position

    def __len__(self) -> int:
        return len(self.interactions)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.interactions)

    def dump(self) -> str:
        document = {"interactions": self.interactions, "version": CASSETTE_VERSION}
        if self.serializer is not None:
            return _serialized(self.path, document, self.serializer)
        return cassette_text.dumps(document, self.style)

    def save(self) -> None:
        """Write atomically: a killed run leaves the old file or the new one, never half."""
        __tracebackhide__ = True
        if self.persister is not None:
            from pytest_llmbudget.recording import persisted

            persisted.save(self.path, self.interactions, self.persister, self.serializer)
            self.digest = persisted.file_digest(self.path)
            self.dirty = False
            return
        text = self.dump()
        try:
            write_atomic(self.path, text)
        except OSError as exc:
            raise CassetteSaveError(self.path, exc.strerror or str(exc)) from None
        self.digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
        self.dirty = False


def _document(path: Path, text: bytes | BinaryIO) -> tuple[Any, str, str]:
    """The document in a cassette file, the SHA-256 of its bytes and the style it is in."""
    __tracebackhide__ = True
    try:
        data = text if isinstance(text, bytes) else text.read()
    except OSError as exc:
        raise CassetteError(path, str(exc)) from None
    try:
        document = cassette_text.loads(data)
    except Exception as exc:  # yaml.YAMLError; PyYAML is not imported to name it
        if type(exc).__module__.split(".")[0] != "yaml":
            raise
        raise CassetteError(path, f"invalid YAML: {exc}") from None
    return document, hashlib.sha256(data).hexdigest(), cassette_text.style_of(data)


def _deserialized(path: Path, source: _HashingReader, serializer: Serializer) -> Any:
    """The document a suite's own serializer reads from the file."""
    __tracebackhide__ = True
    try:
        text = source.read().decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CassetteError(path, str(exc)) from None
    try:
        return serializer.deserialize(text)
    except Exception as exc:
        name = getattr(serializer, "__name__", type(serializer).__name__)
        raise CassetteError(path, f"the serializer {name} cannot read it: {exc}") from None


def _serialized(path: Path, document: dict[str, Any], serializer: Serializer) -> str:
    """The text a suite's own serializer writes (it may change what it is given: a copy)."""
    import copy

    __tracebackhide__ = True
    try:
        text = serializer.serialize(copy.deepcopy(document))
    except Exception as exc:
        name = getattr(serializer, "__name__", type(serializer).__name__)
        raise CassetteSaveError(path, f"the serializer {name} failed: {exc}") from None
    if not isinstance(text, str):
        name = getattr(serializer, "__name__", type(serializer).__name__)
        raise CassetteError(path, f"the serializer {name} returned {type(text).__name__}, not str")
    return text


class _HashingReader:
    """A binary stream that hashes what is read from it: one pass gives the YAML and its SHA-256."""

    __slots__ = ("_hash", "_stream")

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self._hash = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self._stream.read(size)
        self._hash.update(data)
        return data

    def hexdigest(self) -> str:
        return self._hash.hexdigest()


def write_atomic(path: Path, text: str) -> None:
    import tempfile  # writing only: a replay never needs it

    path.parent.mkdir(parents=True, exist_ok=True)
    # The cassette's own name may be as long as a file name can be: the temporary one
    # takes a short prefix of it (enough to tell whose it is), never the whole.
    handle, temp_name = tempfile.mkstemp(
        prefix=f".{path.name[:64]}.", suffix=".tmp", dir=path.parent
    )
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temp_name, 0o644)  # mkstemp makes it private; a cassette is a normal file
        os.replace(temp_name, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp_name)
        raise
